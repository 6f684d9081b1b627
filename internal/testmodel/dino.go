package testmodel

import (
	"sync"
	"testing"

	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/internal/golden"
)

var (
	dinoOnce sync.Once
	tinyDINO *dino.Model
	errDINO  error
)

// TinyDINO returns the small random DINO ViT/8 of the golden data
// (proxyclip/tiny-dino), skipping the test when FREESEG_GOLDEN is unset.
func TinyDINO(t testing.TB) *dino.Model {
	t.Helper()
	dir := golden.Path(t, "proxyclip", "tiny-dino")
	dinoOnce.Do(func() { tinyDINO, errDINO = dino.Load(dir) })
	if errDINO != nil {
		t.Fatalf("loading %s: %v", dir, errDINO)
	}
	return tinyDINO
}
