package clip

import (
	"testing"

	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/prompts"
)

func tinyRandom(t testing.TB) *Model {
	t.Helper()
	c := Config{VisionWidth: 64, VisionLayers: 2, VisionHeads: 1, Patch: 16, Grid: 4, EmbedDim: 32,
		TextWidth: 128, TextLayers: 3, TextHeads: 2, ContextLength: 77, VocabSize: 49408}
	m, err := Random(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCommonPrefix(t *testing.T) {
	cases := []struct {
		seqs [][]int
		want int
	}{
		{[][]int{{1, 2, 3, 9}, {1, 2, 4, 9}}, 2},
		{[][]int{{1, 2, 3}, {1, 2, 3}}, 2}, // leaves one token outside
		{[][]int{{5, 9}, {6, 9}}, 0},
		{[][]int{{1, 9}}, 1},
	}
	for _, c := range cases {
		if got := commonPrefix(c.seqs); got != c.want {
			t.Fatalf("commonPrefix(%v) = %d, want %d", c.seqs, got, c.want)
		}
	}
}

// The shared-prefix path computes what EncodeTokens computes on the full
// prompts, and it is the path the ensembles take.
func TestPrefixPathMatchesFullPrompts(t *testing.T) {
	m := tinyRandom(t)
	names := []string{"cat", "person in shirt", "television monitor", "sky", "c++.", ""}
	tpls := prompts.OpenAI80[:12]
	var seqs [][]int
	groups := make([][]int, len(tpls))
	for _, n := range names {
		for j, tpl := range tpls {
			ids, err := m.Tokenizer.Tokenize(prompts.Fill(tpl, n), 77, false)
			if err != nil {
				t.Fatal(err)
			}
			groups[j] = append(groups[j], len(seqs))
			seqs = append(seqs, ids)
		}
	}
	prefixed := 0
	for _, g := range groups {
		gs := make([][]int, len(g))
		for j, i := range g {
			gs[j] = seqs[i]
		}
		if commonPrefix(gs) >= 2 {
			prefixed++
		}
	}
	if prefixed < len(tpls)/2 {
		t.Fatalf("only %d of %d templates share a prefix: the test does not exercise the prefix path", prefixed, len(tpls))
	}
	got, err := m.encodeTemplateGroups(seqs, groups)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.EncodeTokens(seqs)
	if err != nil {
		t.Fatal(err)
	}
	numtest.AssertClose(t, "prefix path vs full prompts", got, want, 1e-5)
}
