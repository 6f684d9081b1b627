package dense

import (
	"context"
	"fmt"
	"math"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/interp"
	"github.com/freeseg/freeseg/tensor"
	"github.com/freeseg/freeseg/tensor/attn"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// The normalisation constants: CLIP's (the input of every method) and
// ImageNet's (what DINO was trained with).
var (
	clipMean     = [3]float32{0.48145466, 0.4578275, 0.40821073}
	clipStd      = [3]float32{0.26862954, 0.26130258, 0.27577711}
	imagenetMean = [3]float32{0.485, 0.456, 0.406}
	imagenetStd  = [3]float32{0.229, 0.224, 0.225}
)

// VFMInput turns B CLIP-normalised images (planar [B,3,H,W]) into the
// input of a vision foundation model trained with ImageNet's constants:
// x·std_clip + mean_clip, then (· − mean_in)/std_in, each step rounded in
// float32 as the reference's two transforms are.
func VFMInput(imgs []float32, B, H, W int) []float32 {
	out := make([]float32, len(imgs))
	n := H * W
	for b := 0; b < B; b++ {
		for c := 0; c < 3; c++ {
			src := imgs[(b*3+c)*n : (b*3+c+1)*n]
			dst := out[(b*3+c)*n:]
			for i, v := range src {
				u := v*clipStd[c] + clipMean[c]
				dst[i] = (u - imagenetMean[c]) / imagenetStd[c]
			}
		}
	}
	return out
}

// FeaturesWith is Features for every method, with the vision foundation
// model the proxy method needs (vfm may be nil for the others).
// A cancelled ctx stops it between transformer blocks.
func (m Method) FeaturesWith(ctx context.Context, model *clip.Model, vfm *dino.Model, imgs []float32, B, H, W int) (*Features, error) {
	if !m.Proxy {
		return m.Features(ctx, model, imgs, B, H, W)
	}
	if vfm == nil {
		return nil, fmt.Errorf("method %s needs a vision foundation model (a DINO ViT; --vfm)", m.Name)
	}
	return m.proxyFeatures(ctx, model, vfm, imgs, B, H, W)
}

// proxyRows is how many query rows of the proxy attention are computed at
// once: the scores live in proxyRows×n blocks, never as the n×n matrix.
const proxyRows = 64

// proxyFeatures is ProxyCLIP's last block (Lan et al., ECCV 2024;
// docs/vfm.md): the attention of CLIP's last block is replaced by one
// computed from the VFM's patch features, the same for every head, and it
// averages CLIP's value vectors resized to the VFM grid; out_proj, no
// residual, no FFN; ln_post and proj. The features live on the VFM grid.
// Row 0 of each image is CLIP's own CLS output (the unchanged last block),
// which the reference does not compute; freeseg's image-level scores use it.
func (m Method) proxyFeatures(cctx context.Context, model *clip.Model, vfm *dino.Model, imgs []float32, B, H, W int) (*Features, error) {
	v := model.Vision
	L := len(v.Blocks)
	if err := m.Validate(L); err != nil {
		return nil, err
	}
	gh, gw := v.GridFor(H, W)
	if gh < 1 || gw < 1 {
		return nil, fmt.Errorf("image of %dx%d is smaller than one %dx%d patch", W, H, v.Patch, v.Patch)
	}
	// The VFM first: its grid sizes everything after CLIP's blocks.
	tok, vh, vw, err := vfm.Tokens(VFMInput(imgs, B, H, W), B, H, W)
	if err != nil {
		return nil, err
	}
	pos, err := PosTable(v, gh, gw, m.Pos)
	if err != nil {
		return nil, err
	}
	x, err := v.Embed(imgs, B, H, W, pos)
	if err != nil {
		return nil, err
	}
	N, D := 1+gh*gw, v.Width
	ws := clip.GetWorkspace()
	defer clip.PutWorkspace(ws)
	for l := 0; l < L-1; l++ {
		if err := cctx.Err(); err != nil {
			return nil, err
		}
		v.RunBlocks(ws, x, B, N, l, l+1)
	}
	if err := cctx.Err(); err != nil {
		return nil, err
	}
	blk := &v.Blocks[L-1]
	qkv := blk.QKV(ws, x, B*N)

	n, C := vh*vw, vfm.Config.Width
	nt := 1 + n
	ctx := make([]float32, B*nt*D) // row 0 of each image: CLS, filled below
	cls := make([]float32, B*D)
	for b := 0; b < B; b++ {
		q := qkv[b*N*3*D:]
		// CLIP's value vectors of the patches, planar [D, gh, gw],
		// resized bilinearly (align_corners False) to the VFM grid.
		planar := make([]float32, D*gh*gw)
		for t := 0; t < gh*gw; t++ {
			row := q[(1+t)*3*D+2*D : (1+t)*3*D+3*D]
			for c, val := range row {
				planar[c*gh*gw+t] = val
			}
		}
		vals := interp.ResizeBilinearTorch(planar, D, gh, gw, vh, vw, false)
		V := planarToRows(vals, D, n)
		feats := append([]float32(nil), tok[(b*nt+1)*C:(b+1)*nt*C]...)
		normalizeRows(feats, n, C)
		proxyAttention(ctx[(b*nt+1)*D:(b+1)*nt*D], feats, V, n, C, D, m.Beta, m.Gamma)
		clsAttention(cls[b*D:(b+1)*D], q, N, D, blk.Heads)
	}
	// out_proj of the proxy rows (no residual); the CLS rows get CLIP's
	// full last block: x + out_proj(attn) + MLP.
	out := make([]float32, B*nt*D)
	blk.OutProj.Apply(out, ctx, B*nt, false)
	clsRows := make([]float32, B*D)
	for b := 0; b < B; b++ {
		copy(clsRows[b*D:(b+1)*D], x[b*N*D:b*N*D+D])
	}
	blk.OutProj.Apply(clsRows, cls, B, true)
	blk.MLPResidual(ws, clsRows, B)
	for b := 0; b < B; b++ {
		copy(out[b*nt*D:b*nt*D+D], clsRows[b*D:(b+1)*D])
	}
	return &Features{B: B, GH: vh, GW: vw, E: v.Proj.Out, Data: v.Head(out, B*nt)}, nil
}

// planarToRows turns planar [D, n] into rows [n, D].
func planarToRows(planar []float32, D, n int) []float32 {
	out := make([]float32, n*D)
	for c := 0; c < D; c++ {
		src := planar[c*n : (c+1)*n]
		for t, val := range src {
			out[t*D+c] = val
		}
	}
	return out
}

// normalizeRows is F.normalize over channels: x / max(‖x‖, 1e-12).
func normalizeRows(x []float32, rows, d int) {
	for r := 0; r < rows; r++ {
		xr := x[r*d : (r+1)*d]
		var s float64
		for _, v := range xr {
			s += float64(v) * float64(v)
		}
		nrm := float32(max(math.Sqrt(s), 1e-12))
		for i := range xr {
			xr[i] /= nrm
		}
	}
}

// proxyAttention writes ctx [n, D] = softmax_rows(Z)·V with, for the unit
// features F [n, C] and S = F·Fᵀ, Z = (S − β·mean(S))·γ and the entries
// where Z < 0 set to −Inf. mean(S) = ‖Σ_i f_i‖²/n² (no n×n pass for it);
// the scores are formed proxyRows rows at a time. A row with every entry
// masked (β·mean(S) above its self-similarity, which only near-constant
// features reach) has no softmax; the reference gives NaN there, freeseg
// uses the unmasked row instead.
func proxyAttention(ctx, F, V []float32, n, C, D int, beta, gamma float64) {
	sum := make([]float64, C)
	for i := 0; i < n; i++ {
		for c, v := range F[i*C : (i+1)*C] {
			sum[c] += float64(v)
		}
	}
	var ss float64
	for _, s := range sum {
		ss += s * s
	}
	mean := float32(ss / (float64(n) * float64(n)))
	shift := mean * float32(beta)
	g := float32(gamma)
	blocks := (n + proxyRows - 1) / proxyRows
	tensor.ParallelFor(blocks, func(lo, hi int) {
		s := make([]float32, proxyRows*n)
		for blkI := lo; blkI < hi; blkI++ {
			r0 := blkI * proxyRows
			r := min(proxyRows, n-r0)
			gemm.SgemmSerial(false, true, r, n, C, 1, F[r0*C:], C, F, C, 0, s, n)
			for i := 0; i < r; i++ {
				row := s[i*n : (i+1)*n]
				kept := false
				for j, v := range row {
					z := (v - shift) * g
					if z < 0 {
						row[j] = float32(math.Inf(-1))
					} else {
						row[j], kept = z, true
					}
				}
				if !kept {
					gemm.SgemmSerial(false, true, 1, n, C, 1, F[(r0+i)*C:], C, F, C, 0, row, n)
					for j, v := range row {
						row[j] = (v - shift) * g
					}
				}
			}
			tensor.SoftmaxRows(s, r, n, n)
			gemm.SgemmSerial(false, false, r, D, n, 1, s, n, V, D, 0, ctx[r0*D:], D)
		}
	})
}

// clsAttention is the standard attention of the CLS query (row 0) over the
// N tokens of one image, per head, from qkv [N, 3D]: ctx [D].
func clsAttention(ctx, qkv []float32, N, D, heads int) {
	hd := D / heads
	scale := float32(1 / math.Sqrt(float64(hd)))
	ld := 3 * D
	for h := 0; h < heads; h++ {
		attn.Attend(ctx[h*hd:], D, qkv[h*hd:], ld, qkv[D+h*hd:], ld, qkv[2*D+h*hd:], ld, 1, N, hd, scale, attn.Options{})
	}
}
