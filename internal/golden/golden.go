// Package golden gives tests access to the reference outputs in the folder
// named by FREESEG_GOLDEN (a relative path is taken from the module root;
// see docs/testing.md). Tests that need it skip, with a message saying so,
// when the variable is unset, and fail instead when CI=true or
// FREESEG_REQUIRE_GOLDEN=1 (as .ci/run sets it), so that a CI run without
// the golden data is red rather than green with every parity test skipped.
package golden

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/freeseg/freeseg/internal/goldenpath"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/weights"
)

// Dir returns the golden folder. It skips the test when FREESEG_GOLDEN is
// unset and the data is not required, and fails it when the data is
// required or the variable names a folder without it.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := goldenpath.Resolve()
	if errors.Is(err, goldenpath.ErrUnset) {
		t.Skip("FREESEG_GOLDEN is not set: skipping the golden-data parity test (set FREESEG_GOLDEN=../shared/golden; CI requires it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Path joins parts under the golden folder (skipping when it is unset).
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, parts...)...)
}

var (
	once   sync.Once
	cases  *weights.File
	errLoa error
)

// Cases returns cases/golden.safetensors, read once per test binary.
func Cases(t testing.TB) *weights.File {
	t.Helper()
	p := Path(t, "cases", "golden.safetensors")
	once.Do(func() { cases, errLoa = weights.ReadSafetensors(p) })
	if errLoa != nil {
		t.Fatalf("reading golden data: %v", errLoa)
	}
	return cases
}

// Tensor returns one golden tensor by key, failing the test if it is absent.
func Tensor(t testing.TB, key string) *weights.Tensor {
	t.Helper()
	x, ok := Cases(t).Tensors[key]
	if !ok {
		t.Fatalf("golden key %q not found", key)
	}
	return x
}

// Diff summarises how far got is from want (see numtest.Diff).
type Diff = numtest.Diff

// Compare measures got against want; it does not fail the test.
func Compare(got, want []float32) Diff { return numtest.Compare(got, want) }

// AssertClose fails the test when got differs from want by more than absTol
// anywhere or either side holds a NaN or Inf (numtest.AssertClose), and
// logs the measured error either way (the notes quote it).
func AssertClose(t testing.TB, key string, got, want []float32, absTol float64) Diff {
	t.Helper()
	return numtest.AssertClose(t, key, got, want, absTol)
}

// SegCV2Classes is the vocabulary of golden seg_cv2/* (and seg/*): class 0
// is the background (three names), class 2 has a synonym.
var SegCV2Classes = [][]string{{"sky", "wall", "tree"}, {"cat"}, {"person", "person in shirt"}, {"coffee cup"}}

// SegCV2Counts are the pixels per class of seg_cv2/labels, from the golden
// README (the area threshold 0.2 removes class 3).
var SegCV2Counts = []int{143659, 76994, 41491, 0}

// LabelTie is how close the two best probabilities of a pixel (or the best
// and the probability threshold) must be for a differing label to count as
// a tie (the golden README's tolerance).
const LabelTie = 1e-5

// AssertLabels compares a label map with golden labelsKey ([1,H,W] or
// [H,W] I64), allowing a different label only where the pixel is a tie in
// the golden probabilities probsKey ([C,H,W]): its two best probabilities
// within LabelTie, or its best within LabelTie of the probability
// threshold probThd (below which the pixel is background). It returns how
// many pixels differ.
func AssertLabels(t testing.TB, what string, got []int32, labelsKey, probsKey string, probThd float64) int {
	t.Helper()
	want := Tensor(t, labelsKey).Ints
	probs := Tensor(t, probsKey)
	if len(got) != len(want) {
		t.Fatalf("%s: %d labels, want %d", what, len(got), len(want))
	}
	C, HW := probs.Shape[0], len(want)
	if len(probs.F32) != C*HW {
		t.Fatalf("%s: golden %s has %d values, want %d×%d", what, probsKey, len(probs.F32), C, HW)
	}
	differ, untied := 0, 0
	for i, w := range want {
		if int64(got[i]) == w {
			continue
		}
		differ++
		b1, b2 := -1.0, -1.0
		for c := 0; c < C; c++ {
			p := float64(probs.F32[c*HW+i])
			if p > b1 {
				b1, b2 = p, b1
			} else if p > b2 {
				b2 = p
			}
		}
		if b1-b2 <= LabelTie || (probThd > 0 && b1-probThd <= LabelTie && probThd-b1 <= LabelTie) {
			continue
		}
		if untied < 5 {
			t.Errorf("%s: pixel %d labelled %d, golden %d (golden best probabilities %.6f, %.6f: not a tie)", what, i, got[i], w, b1, b2)
		}
		untied++
	}
	t.Logf("parity %-40s %d of %d labels differ, %d of them not ties", what, differ, len(want), untied)
	if untied > 0 {
		t.Errorf("%s: %d labels differ from %s outside ties", what, untied, labelsKey)
	}
	return differ
}
