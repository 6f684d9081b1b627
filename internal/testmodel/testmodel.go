// Package testmodel loads the tiny golden CLIP once per test binary and
// gathers golden inputs, for the parity tests of several packages.
package testmodel

import (
	"sync"
	"testing"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/internal/golden"
)

var (
	once  sync.Once
	tiny  *clip.Model
	errTi error
)

// Tiny returns the tiny-clip model folder of the golden data (skipping the
// test when FREESEG_GOLDEN is unset).
func Tiny(t testing.TB) *clip.Model {
	t.Helper()
	dir := golden.Path(t, "tiny-clip")
	once.Do(func() { tiny, errTi = clip.Load(dir) })
	if errTi != nil {
		t.Fatalf("loading %s: %v", dir, errTi)
	}
	return tiny
}

// Stack concatenates golden float tensors (e.g. three [3,224,224] images
// into one batch) and returns the data.
func Stack(t testing.TB, keys ...string) []float32 {
	t.Helper()
	var out []float32
	for _, k := range keys {
		out = append(out, golden.Tensor(t, k).F32...)
	}
	return out
}

// Photos are the golden photo names in golden order.
var Photos = []string{"astronaut", "chelsea", "coffee"}

// PhotoKeys returns prefix+"/"+photo for each golden photo.
func PhotoKeys(prefix string) []string {
	out := make([]string, len(Photos))
	for i, p := range Photos {
		out[i] = prefix + "/" + p
	}
	return out
}
