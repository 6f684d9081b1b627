package freeseg_test

import (
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/prompts"
)

// A background list that does not parse is refused, naming the background
// (an empty name between commas; a name given twice).
func TestWithBackgroundBadList(t *testing.T) {
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}}}
	for _, bg := range []string{"sky,,wall", "sky; ;wall", "sky, sky"} {
		got, _, err := freeseg.WithBackground(v, bg)
		if err == nil || !strings.HasPrefix(err.Error(), "background: ") {
			t.Errorf("background %q: %v, %v; want a background error", bg, got, err)
		}
	}
	got, notes, err := freeseg.WithBackground(v, "sky; wall, Cat")
	if err != nil || !got.Background || len(got.Names) != 3 || strings.Join(got.Names[0], "|") != "sky|wall" || len(notes) != 1 {
		t.Errorf("sky; wall, Cat: %v %q %v", got, notes, err)
	}
}
