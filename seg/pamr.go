package seg

import (
	"fmt"
	"math"

	"github.com/freeseg/freeseg/tensor"
)

// PAMR is pixel-adaptive mask refinement (Araslanov & Roth, CVPR 2020) as
// NACLIP's pamr.py runs it (docs/method.md#pamr): an affinity between each pixel and
// its 8 neighbours at each dilation, from the image, then iters rounds of
// replacing each mask value by the affinity-weighted mean of its neighbours.
//
// img is [3,H,W] (the normalised network input at mask resolution), mask is
// [K,H,W] and is refined in place. Neighbours outside the image repeat the
// border pixel (replicate padding).
func PAMR(img []float32, mask []float32, K, H, W, iters int, dilations []int) error {
	if len(img) != 3*H*W {
		return fmt.Errorf("pamr: image has %d values, want 3x%dx%d", len(img), H, W)
	}
	if len(mask) != K*H*W {
		return fmt.Errorf("pamr: mask has %d values, want %dx%dx%d", len(mask), K, H, W)
	}
	if iters <= 0 || len(dilations) == 0 {
		return nil
	}
	for _, d := range dilations {
		if d < 1 {
			return fmt.Errorf("pamr: dilation %d must be positive", d)
		}
	}
	// Offsets in the order of LocalAffinity's kernels: the 3×3 positions
	// row by row without the centre, scaled by each dilation in turn.
	type off struct{ dy, dx int }
	var offs []off
	for _, d := range dilations {
		for _, o := range []off{{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}, {0, 1}, {1, -1}, {1, 0}, {1, 1}} {
			offs = append(offs, off{o.dy * d, o.dx * d})
		}
	}
	P := len(offs)
	HW := H * W
	// nbr[p*HW + i] is the flat index of pixel i's neighbour p.
	nbr := make([]int32, P*HW)
	clampi := func(v, hi int) int { return max(0, min(v, hi-1)) }
	for p, o := range offs {
		for y := 0; y < H; y++ {
			ny := clampi(y+o.dy, H)
			for x := 0; x < W; x++ {
				nbr[p*HW+y*W+x] = int32(ny*W + clampi(x+o.dx, W))
			}
		}
	}
	// Affinities aff[p*HW+i], softmax-normalised over p.
	aff := make([]float32, P*HW)
	nd := len(dilations)
	tensor.ParallelFor(H, func(lo, hi int) {
		vals := make([]float64, 9*nd)
		a := make([]float64, P)
		for y := lo; y < hi; y++ {
			for x := 0; x < W; x++ {
				i := y*W + x
				for p := range a {
					a[p] = 0
				}
				for c := 0; c < 3; c++ {
					ch := img[c*HW : (c+1)*HW]
					centre := float64(ch[i])
					// LocalStDev: the 9 values of each dilated 3×3 window
					// (centre included once per dilation), unbiased std.
					n := 0
					for di := 0; di < nd; di++ {
						vals[n] = centre
						n++
						for p := di * 8; p < di*8+8; p++ {
							vals[n] = float64(ch[nbr[p*HW+i]])
							n++
						}
					}
					var mean float64
					for _, v := range vals {
						mean += v
					}
					mean /= float64(len(vals))
					var ss float64
					for _, v := range vals {
						ss += (v - mean) * (v - mean)
					}
					std := float32(math.Sqrt(ss / float64(len(vals)-1)))
					den := 1e-8 + 0.1*std
					for p := 0; p < P; p++ {
						diff := float32(math.Abs(centre - float64(ch[nbr[p*HW+i]])))
						a[p] += float64(-diff / den)
					}
				}
				m := math.Inf(-1)
				for p := range a {
					a[p] /= 3 // mean over channels
					m = math.Max(m, a[p])
				}
				var s float64
				for p := range a {
					a[p] = math.Exp(a[p] - m)
					s += a[p]
				}
				for p := range a {
					aff[p*HW+i] = float32(a[p] / s)
				}
			}
		}
	})
	// Propagation: next = Σ_p aff_p ⊙ shift_p(mask), accumulated neighbour by
	// neighbour in the order of offs (the same per-pixel order as a gather),
	// as streaming loops over rows: inside the image a shifted row is a
	// contiguous slice; only the dilation-wide borders need clamping.
	next := make([]float32, K*HW)
	for it := 0; it < iters; it++ {
		tensor.ParallelFor(K*H, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				k, y := r/H, r%H
				src := mask[k*HW : (k+1)*HW]
				dst := next[k*HW+y*W : k*HW+(y+1)*W]
				clear(dst)
				for p, o := range offs {
					ny := clampi(y+o.dy, H)
					srow := src[ny*W : (ny+1)*W]
					a := aff[p*HW+y*W : p*HW+(y+1)*W]
					x0, x1 := max(0, -o.dx), min(W, W-o.dx) // x+dx inside [0,W)
					for x := 0; x < min(x0, W); x++ {
						dst[x] += srow[clampi(x+o.dx, W)] * a[x]
					}
					if x0 < x1 {
						tensor.MulAdd(dst[x0:x1], srow[x0+o.dx:x1+o.dx], a[x0:x1])
					}
					for x := max(x1, x0); x < W; x++ {
						dst[x] += srow[clampi(x+o.dx, W)] * a[x]
					}
				}
			}
		})
		copy(mask, next)
	}
	return nil
}
