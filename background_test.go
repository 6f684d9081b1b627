package freeseg_test

import (
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
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

// FitMaxSide returns the image itself when it fits (long side equal to the
// bound included) or the bound is 0, and scales the long side to the bound
// otherwise, keeping the aspect ratio (40×30 to 20×15; 40×30 to 7×5 rounds
// 5.25).
func TestFitMaxSide(t *testing.T) {
	img := &imageio.RGB{W: 40, H: 30, Pix: make([]uint8, 40*30*3)}
	for _, m := range []int{0, 40, 41} {
		if got := freeseg.FitMaxSide(img, m); got != img {
			t.Errorf("max side %d: a new %dx%d image, want the image itself", m, got.W, got.H)
		}
	}
	for _, c := range [][3]int{{20, 20, 15}, {7, 7, 5}, {39, 39, 29}} {
		if got := freeseg.FitMaxSide(img, c[0]); got.W != c[1] || got.H != c[2] || len(got.Pix) != c[1]*c[2]*3 {
			t.Errorf("max side %d: %dx%d, want %dx%d", c[0], got.W, got.H, c[1], c[2])
		}
	}
}
