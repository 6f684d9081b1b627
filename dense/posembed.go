package dense

import (
	"sync"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/interp"
)

type posKey struct {
	v      *clip.Vision
	gh, gw int
	mode   PosInterp
}

// posCache holds resized tables: a sliding window asks for the same grid for
// every crop. Tables are small ([1+gh·gw, D]); the few most recent are kept.
var (
	posMu    sync.Mutex
	posCache []struct {
		key posKey
		pos []float32
	}
)

// PosTable returns the positional table for a gh×gw grid: the original
// table when the grid is the training grid, else the CLS row unchanged and
// the patch rows resized as [D, g0, g0] → [D, gh, gw] by the method's rule
// (docs/model.md#positional-tables), always from the original weights (CLIP Surgery resizes its
// table in place, so a later call at another size starts from the resized
// one; we do not reproduce that bug).
func PosTable(v *clip.Vision, gh, gw int, mode PosInterp) ([]float32, error) {
	if gh == v.Grid && gw == v.Grid {
		return v.PosEmbedding, nil
	}
	key := posKey{v, gh, gw, mode}
	posMu.Lock()
	for _, e := range posCache {
		if e.key == key {
			posMu.Unlock()
			return e.pos, nil
		}
	}
	posMu.Unlock()

	D, g0 := v.Width, v.Grid
	// [g0·g0, D] rows → planar [D, g0, g0]
	planar := make([]float32, D*g0*g0)
	for t := 0; t < g0*g0; t++ {
		row := v.PosEmbedding[(1+t)*D : (2+t)*D]
		for c, x := range row {
			planar[c*g0*g0+t] = x
		}
	}
	var resized []float32
	switch mode {
	case PosBilinear:
		resized = interp.ResizeBilinearTorch(planar, D, g0, g0, gh, gw, false)
	default:
		// SCLIP: scale_factor = ((H/p)+0.1)/g0, and the output size is
		// floor(g0·scale) = gh.
		sh := (float64(gh) + 0.1) / float64(g0)
		sw := (float64(gw) + 0.1) / float64(g0)
		resized = interp.ResizeBicubicTorch(planar, D, g0, g0, gh, gw, sh, sw)
	}
	n := gh * gw
	pos := make([]float32, (1+n)*D)
	copy(pos[:D], v.PosEmbedding[:D])
	for t := 0; t < n; t++ {
		row := pos[(1+t)*D : (2+t)*D]
		for c := range row {
			row[c] = resized[c*n+t]
		}
	}
	posMu.Lock()
	posCache = append(posCache, struct {
		key posKey
		pos []float32
	}{key, pos})
	if len(posCache) > 8 {
		posCache = posCache[1:]
	}
	posMu.Unlock()
	return pos, nil
}
