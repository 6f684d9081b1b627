// Package golden gives tests access to the reference outputs in the folder
// named by FREESEG_GOLDEN (a relative path is taken from the module root;
// see docs/testing.md). Tests that need it skip, with a message saying so,
// when the variable is unset, and fail instead when CI=true or
// FREESEG_REQUIRE_GOLDEN=1 (as .ci/run sets it), so that a CI run without
// the golden data is red rather than green with every parity test skipped.
package golden

import (
	"errors"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/freeseg/freeseg/internal/goldenpath"
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

// Diff summarises how far got is from want.
type Diff struct {
	MaxAbs float64 // largest |got-want|
	MaxRel float64 // largest |got-want| / max(|want|, scale) where scale = max |want|·1e-3
	Worst  int     // index of MaxAbs
}

// Compare measures got against want; it does not fail the test.
func Compare(got, want []float32) Diff {
	var d Diff
	var peak float64
	for _, w := range want {
		peak = math.Max(peak, math.Abs(float64(w)))
	}
	floor := peak * 1e-3
	for i := range want {
		a := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(a) {
			a = math.Inf(1)
		}
		if a > d.MaxAbs {
			d.MaxAbs, d.Worst = a, i
		}
		if r := a / math.Max(math.Abs(float64(want[i])), floor); r > d.MaxRel {
			d.MaxRel = r
		}
	}
	return d
}

// AssertClose fails the test when got differs from want by more than absTol
// anywhere, and logs the measured error either way (the notes quote it).
func AssertClose(t testing.TB, key string, got, want []float32, absTol float64) Diff {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", key, len(got), len(want))
	}
	d := Compare(got, want)
	t.Logf("parity %-40s max|Δ|=%.3g maxrel=%.3g (tol %.1g)", key, d.MaxAbs, d.MaxRel, absTol)
	if d.MaxAbs > absTol {
		t.Errorf("%s: max |got-want| = %g at %d (got %g, want %g), tolerance %g", key, d.MaxAbs, d.Worst, got[d.Worst], want[d.Worst], absTol)
	}
	return d
}
