package dino

import (
	"fmt"
	"sync"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/interp"
	"github.com/freeseg/freeseg/tensor"
)

// MaxTokens bounds the sequence length of one forward pass (1+gh·gw): a
// 1024x1024 window of a ViT/8 is 16,385 tokens. The attention itself keeps
// no N×N matrix, but the MLP activations grow with N.
const MaxTokens = 1 << 15

// Apply layer-normalises rows rows of x into out.
func (n LayerNorm) Apply(out, x []float32, rows int) {
	d := len(n.W)
	tensor.ParallelFor(rows, func(lo, hi int) {
		tensor.LayerNorm(out[lo*d:hi*d], x[lo*d:hi*d], hi-lo, d, n.W, n.B, n.Eps)
	})
}

// GridFor is the token grid of an H×W input (partial patches dropped, as
// the stride-p convolution does).
func (m *Model) GridFor(H, W int) (gh, gw int) { return H / m.Config.Patch, W / m.Config.Patch }

// Tokens runs the model on B images (planar [B,3,H,W], normalised with the
// ImageNet constants) and returns the last block's output after the final
// norm, [B, 1+gh·gw, D] with CLS at row 0: get_intermediate_layers(x, 1)[0]
// of facebookresearch/dino.
func (m *Model) Tokens(imgs []float32, B, H, W int) (out []float32, gh, gw int, err error) {
	c := m.Config
	gh, gw = m.GridFor(H, W)
	if gh < 1 || gw < 1 {
		return nil, 0, 0, fmt.Errorf("dino: image of %dx%d is smaller than one %dx%d patch", W, H, c.Patch, c.Patch)
	}
	if B < 1 || len(imgs) != B*3*H*W {
		return nil, 0, 0, fmt.Errorf("dino: %d input values for %d images of 3x%dx%d", len(imgs), B, H, W)
	}
	N := 1 + gh*gw
	if N > MaxTokens {
		return nil, 0, 0, fmt.Errorf("dino: a %dx%d input gives %d tokens, more than the %d a pass may take; use smaller windows", W, H, N, MaxTokens)
	}
	pos, err := m.PosTable(gh, gw)
	if err != nil {
		return nil, 0, 0, err
	}
	x := m.embed(imgs, B, H, W, gh, gw, pos)
	ws := &work{}
	for l := range m.Blocks {
		m.Blocks[l].forward(ws, x, B, N, c.Heads)
	}
	m.Norm.Apply(x, x, B*N)
	return x, gh, gw, nil
}

// embed is prepare_tokens: the patch convolution (with bias), the CLS
// token, plus the positional table. DINO has no pre-norm.
func (m *Model) embed(imgs []float32, B, H, W, gh, gw int, pos []float32) []float32 {
	p, D := m.Config.Patch, m.Config.Width
	N := 1 + gh*gw
	x := make([]float32, B*N*D)
	cols := 3 * p * p
	patches := make([]float32, gh*gw*cols)
	for b := 0; b < B; b++ {
		img := imgs[b*3*H*W : (b+1)*3*H*W]
		tensor.ParallelFor(gh, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				for c := 0; c < gw; c++ {
					dst := patches[(r*gw+c)*cols:]
					for ch := 0; ch < 3; ch++ {
						for ky := 0; ky < p; ky++ {
							row := img[ch*H*W+(r*p+ky)*W+c*p:]
							copy(dst[(ch*p+ky)*p:(ch*p+ky)*p+p], row[:p])
						}
					}
				}
			}
		})
		xb := x[b*N*D : (b+1)*N*D]
		m.PatchEmbed.Apply(xb[D:], patches, gh*gw, false)
		copy(xb[:D], m.CLS)
		tensor.Add(xb, pos)
	}
	return x
}

type work struct{ ln, qkv, ctx, hidden []float32 }

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

func (blk *Block) forward(ws *work, x []float32, B, N, heads int) {
	D := blk.QKV.In
	rows := B * N
	ws.ln = grow(ws.ln, rows*D)
	ws.qkv = grow(ws.qkv, rows*3*D)
	ws.ctx = grow(ws.ctx, rows*D)
	blk.Norm1.Apply(ws.ln, x, rows)
	blk.QKV.Apply(ws.qkv, ws.ln, rows, false)
	clip.Attention(ws.ctx, ws.qkv, B, N, D, heads, clip.AttnQK, clip.AttnOptions{})
	blk.Proj.Apply(x, ws.ctx, rows, true)
	H := blk.FC1.Out
	ws.hidden = grow(ws.hidden, rows*H)
	blk.Norm2.Apply(ws.ln, x, rows)
	blk.FC1.Apply(ws.hidden, ws.ln, rows, false)
	tensor.ParallelFor(rows, func(lo, hi int) { tensor.GELU(ws.hidden[lo*H : hi*H]) })
	blk.FC2.Apply(x, ws.hidden, rows, true)
}

var (
	posMu    sync.Mutex
	posCache []posEntry
)

type posEntry struct {
	m      *Model
	gh, gw int
	pos    []float32
}

// PosTable is DINO's interpolate_pos_encoding: the stored table when the
// grid is the stored one, else the CLS row unchanged and the patch rows
// resized bicubically (A = −0.75, align_corners False) with the scale
// factors ((gh+0.1)/g0, (gw+0.1)/g0), the +0.1 avoiding a floating-point
// error in the output size. Always from the original table; the few most
// recent tables are cached (a sliding window uses one grid).
func (m *Model) PosTable(gh, gw int) ([]float32, error) {
	c := m.Config
	g0, D := c.Grid, c.Width
	if gh == g0 && gw == g0 {
		return m.Pos, nil
	}
	posMu.Lock()
	for _, e := range posCache {
		if e.m == m && e.gh == gh && e.gw == gw {
			posMu.Unlock()
			return e.pos, nil
		}
	}
	posMu.Unlock()
	planar := make([]float32, D*g0*g0)
	for t := 0; t < g0*g0; t++ {
		row := m.Pos[(1+t)*D : (2+t)*D]
		for ch, v := range row {
			planar[ch*g0*g0+t] = v
		}
	}
	sh := (float64(gh) + 0.1) / float64(g0)
	sw := (float64(gw) + 0.1) / float64(g0)
	resized := interp.ResizeBicubicTorch(planar, D, g0, g0, gh, gw, sh, sw)
	n := gh * gw
	pos := make([]float32, (1+n)*D)
	copy(pos[:D], m.Pos[:D])
	for t := 0; t < n; t++ {
		row := pos[(1+t)*D : (2+t)*D]
		for ch := range row {
			row[ch] = resized[ch*n+t]
		}
	}
	posMu.Lock()
	posCache = append(posCache, posEntry{m, gh, gw, pos})
	if len(posCache) > 8 {
		posCache = posCache[1:]
	}
	posMu.Unlock()
	return pos, nil
}
