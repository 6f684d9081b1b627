package clip

import (
	"fmt"

	"github.com/freeseg/freeseg/tensor"
)

// GridFor is the token grid a H×W input gives: the patch convolution has
// stride p and no padding, so partial patches at the right and bottom edges
// are dropped (floor), as in torch.
func (v *Vision) GridFor(H, W int) (gh, gw int) { return H / v.Patch, W / v.Patch }

// Embed turns B images (planar [B,3,H,W], normalised) into the residual
// stream entering block 0: [B·(1+gh·gw), D] rows of CLS then patches in
// row-major grid order, plus the positional table pos ([1+gh·gw, D]; use
// PosEmbedding for the native grid), then ln_pre (docs/model.md#vision-transformer).
func (v *Vision) Embed(imgs []float32, B, H, W int, pos []float32) ([]float32, error) {
	p, D := v.Patch, v.Width
	gh, gw := v.GridFor(H, W)
	if gh < 1 || gw < 1 {
		return nil, fmt.Errorf("image of %dx%d is smaller than one %dx%d patch", W, H, p, p)
	}
	if len(imgs) != B*3*H*W {
		return nil, fmt.Errorf("clip: %d input values for %d images of 3x%dx%d", len(imgs), B, H, W)
	}
	N := 1 + gh*gw
	if len(pos) != N*D {
		return nil, fmt.Errorf("clip: positional table has %d values, want %d (grid %dx%d)", len(pos), N*D, gh, gw)
	}
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
		v.PatchEmbed.Apply(xb[D:], patches, gh*gw, false)
		copy(xb[:D], v.ClassEmbedding)
		tensor.Add(xb, pos)
	}
	v.LNPre.Apply(x, x, B*N)
	return x, nil
}

// Head applies ln_post and the projection to rows tokens of x: [rows, E].
func (v *Vision) Head(x []float32, rows int) []float32 {
	D := v.Width
	ln := make([]float32, rows*D)
	v.LNPost.Apply(ln, x, rows)
	out := make([]float32, rows*v.Proj.Out)
	v.Proj.Apply(out, ln, rows, false)
	return out
}

// RunBlocks applies the unmodified blocks [from, to) to the stream x of B
// sequences of N tokens.
func (v *Vision) RunBlocks(ws *Workspace, x []float32, B, N, from, to int) {
	for l := from; l < to; l++ {
		v.Blocks[l].Forward(ws, x, B, N, AttnOptions{})
	}
}

// EncodeImage is CLIP's encode_image for B images at the native resolution
// (or any size, with the positional table given): ln_post(CLS) @ proj, not
// normalised. Returns [B, E].
func (m *Model) EncodeImage(imgs []float32, B, H, W int) ([]float32, error) {
	v := m.Vision
	gh, gw := v.GridFor(H, W)
	if gh != v.Grid || gw != v.Grid {
		return nil, fmt.Errorf("encode_image needs %dx%d inputs (got %dx%d); use a dense method for other sizes", v.Patch*v.Grid, v.Patch*v.Grid, W, H)
	}
	x, err := v.Embed(imgs, B, H, W, v.PosEmbedding)
	if err != nil {
		return nil, err
	}
	N := 1 + gh*gw
	ws := GetWorkspace()
	defer PutWorkspace(ws)
	v.RunBlocks(ws, x, B, N, 0, len(v.Blocks))
	cls := make([]float32, B*v.Width)
	for b := 0; b < B; b++ {
		copy(cls[b*v.Width:(b+1)*v.Width], x[b*N*v.Width:])
	}
	return v.Head(cls, B), nil
}
