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
