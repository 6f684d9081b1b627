package dense

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/freeseg/freeseg/clip"
)

// Features are dense token features after ln_post and proj, not normalised:
// [B, 1+GH·GW, E] with CLS at row 0 of each image (for every method; the
// CLS row of maskclip/clearclip/naclip/sclip is what their changed block
// computes for it, of surgery the unchanged path's).
type Features struct {
	B, GH, GW, E int
	Data         []float32
}

// Tokens is 1+GH·GW.
func (f *Features) Tokens() int { return 1 + f.GH*f.GW }

// Image returns the [Tokens, E] rows of image b.
func (f *Features) Image(b int) []float32 {
	n := f.Tokens() * f.E
	return f.Data[b*n : (b+1)*n]
}

// Patches returns the [GH·GW, E] patch rows of image b (CLS dropped).
func (f *Features) Patches(b int) []float32 { return f.Image(b)[f.E:] }

// Features runs the method on B images (planar [B,3,H,W], CLIP-normalised).
// A cancelled ctx stops it between transformer blocks with ctx's error.
func (m Method) Features(ctx context.Context, model *clip.Model, imgs []float32, B, H, W int) (*Features, error) {
	v := model.Vision
	L := len(v.Blocks)
	if err := m.Validate(L); err != nil {
		return nil, err
	}
	if m.Proxy {
		return nil, fmt.Errorf("method %s needs a vision foundation model: use FeaturesWith", m.Name)
	}
	gh, gw := v.GridFor(H, W)
	if gh < 1 || gw < 1 {
		return nil, fmt.Errorf("image of %dx%d is smaller than one %dx%d patch", W, H, v.Patch, v.Patch)
	}
	pos, err := PosTable(v, gh, gw, m.Pos)
	if err != nil {
		return nil, err
	}
	x, err := v.Embed(imgs, B, H, W, pos)
	if err != nil {
		return nil, err
	}
	N := 1 + gh*gw
	D := v.Width
	s := L - m.Blocks
	ws := clip.GetWorkspace()
	defer clip.PutWorkspace(ws)
	for l := 0; l < s; l++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v.RunBlocks(ws, x, B, N, l, l+1)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var opt clip.AttnOptions
	if m.Sigma > 0 {
		opt.Bias = gaussianBias(gh, gw, m.Sigma)
	}
	out := x
	switch {
	case m.Blocks == 0:
	case m.DualPath:
		// CLIP Surgery clip_surgery_model.py ResidualAttentionBlock.forward:
		// both attentions are computed from LN1 of the unchanged stream;
		// the new path starts from h_s and adds only attention outputs.
		xnew := make([]float32, len(x))
		if m.Residual {
			copy(xnew, x)
		}
		for l := s; l < L; l++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			blk := &v.Blocks[l]
			qkv := blk.QKV(ws, x, B*N)
			blk.AttendInto(ws, xnew, qkv, B, N, m.Attn, opt, true)
			blk.AttendInto(ws, x, qkv, B, N, clip.AttnQK, clip.AttnOptions{}, true)
			blk.MLPResidual(ws, x, B*N)
		}
		for b := 0; b < B; b++ { // x[0] = x_ori[0]
			copy(xnew[b*N*D:b*N*D+D], x[b*N*D:])
		}
		out = xnew
	default:
		blk := &v.Blocks[L-1]
		qkv := blk.QKV(ws, x, B*N)
		if !m.Residual {
			out = make([]float32, len(x))
		}
		blk.AttendInto(ws, out, qkv, B, N, m.Attn, opt, m.Residual)
		if m.FFN {
			blk.MLPResidual(ws, out, B*N)
		}
	}
	return &Features{B: B, GH: gh, GW: gw, E: v.Proj.Out, Data: v.Head(out, B*N)}, nil
}

type biasKey struct {
	gh, gw int
	sigma  float64
}

type biasEntry struct {
	key  biasKey
	bias []float32
}

// maxCachedBias is the largest Ω table kept (bytes): 2048 tokens and
// fewer, so the cache holds at most 64 MiB rather than four tables of
// whatever size a whole-image request asked for.
const maxCachedBias = 16 << 20

// biasCache keeps the few most recent Ω tables (a sliding window reuses one
// grid for every crop).
var (
	biasMu    sync.Mutex
	biasCache []biasEntry
)

// gaussianBias is NACLIP's neighbourhood term Ω over 1+gh·gw tokens:
// exp(-((a-c)²+(b-d)²)/(2σ²)) between patches at grid positions (a,b) and
// (c,d), zero in the CLS row and column (docs/method.md#dense-methods). Cached per grid.
func gaussianBias(gh, gw int, sigma float64) []float32 {
	k := biasKey{gh, gw, sigma}
	biasMu.Lock()
	for _, e := range biasCache {
		if e.key == k {
			biasMu.Unlock()
			return e.bias
		}
	}
	biasMu.Unlock()
	N := 1 + gh*gw
	// One table of exp over squared distances per axis keeps this O(N²).
	ey := make([]float64, gh)
	for d := range ey {
		ey[d] = math.Exp(-float64(d*d) / (2 * sigma * sigma))
	}
	ex := make([]float64, gw)
	for d := range ex {
		ex[d] = math.Exp(-float64(d*d) / (2 * sigma * sigma))
	}
	b := make([]float32, N*N)
	for i := 0; i < gh*gw; i++ {
		a, bb := i/gw, i%gw
		row := b[(1+i)*N+1:]
		for j := 0; j < gh*gw; j++ {
			c, d := j/gw, j%gw
			row[j] = float32(ey[abs(a-c)] * ex[abs(bb-d)])
		}
	}
	if 4*len(b) > maxCachedBias {
		return b // a large grid is rare and its table cheap next to its attention
	}
	biasMu.Lock()
	biasCache = append(biasCache, biasEntry{k, b})
	if len(biasCache) > 4 { // whole-image inference meets many grid sizes
		biasCache = biasCache[1:]
	}
	biasMu.Unlock()
	return b
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
