// Package interp resizes planar float32 maps [C,H,W] the way PyTorch's
// F.interpolate does on the CPU in float32 (PyTorch 1.13 / 2.x
// UpSampleKernel.cpp): bilinear with align_corners False or True, and
// bicubic (A = −0.75) with align_corners False and an optional explicit
// scale factor. No antialiasing. It is used for positional embeddings
// (SPEC 3.4), similarity maps and logits.
//
// Arithmetic is float32 in PyTorch's order (the NCHW-contiguous separable
// kernel: interpolate along W, then combine rows along H), with explicit
// conversions so that no multiply-add is fused. PyTorch's own vectorised
// builds may fuse, and a channels-last input takes a kernel that sums the
// four bilinear products in another order, so agreement is to the last
// bit or two of float32, not bit for bit.
package interp

import (
	"fmt"
	"math"
)

func checkShape(fn string, src []float32, c, h, w, outH, outW int) {
	if c < 0 || h <= 0 || w <= 0 || outH <= 0 || outW <= 0 {
		panic(fmt.Sprintf("interp.%s: bad sizes c=%d %dx%d → %dx%d", fn, c, h, w, outH, outW))
	}
	if len(src) != c*h*w {
		panic(fmt.Sprintf("interp.%s: %d values for [%d,%d,%d]", fn, len(src), c, h, w))
	}
}

// areaScale is area_pixel_compute_scale in float32: (in−1)/(out−1) for
// align_corners, else 1/scale when an explicit scale factor is given, else
// in/out.
func areaScale(in, out int, alignCorners bool, scale float64) float32 {
	if alignCorners {
		if out > 1 {
			return float32(in-1) / float32(out-1)
		}
		return 0
	}
	if scale > 0 {
		return float32(1.0 / scale)
	}
	return float32(in) / float32(out)
}

// sourceIndex is area_pixel_compute_source_index in float32.
func sourceIndex(scale float32, dst int, alignCorners, cubic bool) float32 {
	if alignCorners {
		return float32(scale * float32(dst))
	}
	s := float32(scale*(float32(dst)+0.5)) - 0.5
	if !cubic && s < 0 {
		return 0
	}
	return s
}

type linearTap struct {
	i0, i1 int
	l0, l1 float32
}

// linearTaps is compute_indices_weights_linear / guard_index_and_lambda:
// i0 = floor(src) clamped to in−1, i1 = i0+1 unless at the last index,
// λ1 = src − i0 clamped to [0, 1], λ0 = 1 − λ1. An unchanged size copies.
func linearTaps(in, out int, alignCorners bool, scale float64) []linearTap {
	t := make([]linearTap, out)
	if in == out {
		for i := range t {
			t[i] = linearTap{i, i, 1, 0}
		}
		return t
	}
	r := areaScale(in, out, alignCorners, scale)
	for o := range t {
		s := sourceIndex(r, o, alignCorners, false)
		i0 := min(int(math.Floor(float64(s))), in-1)
		l1 := min(max(s-float32(i0), 0), 1)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		t[o] = linearTap{i0, i1, 1 - l1, l1}
	}
	return t
}

// ResizeBilinearTorch is F.interpolate(x, size=(outH, outW),
// mode="bilinear", align_corners=alignCorners) of a planar float32 [c,h,w]
// map, returning [c,outH,outW]:
//
//	align_corners=False: src = max((dst+0.5)·(in/out) − 0.5, 0)
//	align_corners=True:  src = dst·(in−1)/(out−1)
//
// with i0 = floor(src), i1 = min(i0+1, in−1), λ = src − i0, and
// out = (x[y0][x0]·wx0 + x[y0][x1]·wx1)·wy0 + (x[y1][x0]·wx0 + x[y1][x1]·wx1)·wy1.
func ResizeBilinearTorch(src []float32, c, h, w, outH, outW int, alignCorners bool) []float32 {
	checkShape("ResizeBilinearTorch", src, c, h, w, outH, outW)
	ty := linearTaps(h, outH, alignCorners, 0)
	tx := linearTaps(w, outW, alignCorners, 0)
	out := make([]float32, c*outH*outW)
	for ch := 0; ch < c; ch++ {
		plane := src[ch*h*w : (ch+1)*h*w]
		o := out[ch*outH*outW : (ch+1)*outH*outW]
		for oy, y := range ty {
			r0 := plane[y.i0*w : (y.i0+1)*w]
			r1 := plane[y.i1*w : (y.i1+1)*w]
			orow := o[oy*outW : (oy+1)*outW]
			for ox, x := range tx {
				t0 := float32(r0[x.i0]*x.l0) + float32(r0[x.i1]*x.l1)
				t1 := float32(r1[x.i0]*x.l0) + float32(r1[x.i1]*x.l1)
				orow[ox] = float32(t0*y.l0) + float32(t1*y.l1)
			}
		}
	}
	return out
}

type cubicTap struct {
	idx [4]int
	w   [4]float32
}

// cubicConv1 and cubicConv2 are PyTorch's cubic_convolution1/2 in float32.
func cubicConv1(x, a float32) float32 {
	p := float32((a + 2) * x)
	q := float32((p - (a + 3)) * x)
	return float32(q*x) + 1
}

func cubicConv2(x, a float32) float32 {
	p := float32(a * x)
	q := float32((p - 5*a) * x)
	r := float32((q + 8*a) * x)
	return r - 4*a
}

func cubicTaps(in, out int, scale float64) []cubicTap {
	const a = float32(-0.75)
	t := make([]cubicTap, out)
	r := areaScale(in, out, false, scale)
	for o := range t {
		s := sourceIndex(r, o, false, true)
		i0 := min(int(math.Floor(float64(s))), in-1)
		l := min(max(s-float32(i0), 0), 1)
		var tp cubicTap
		tp.w[0] = cubicConv2(float32(float64(l)+1), a)
		tp.w[1] = cubicConv1(l, a)
		x2 := float32(1.0 - float64(l))
		tp.w[2] = cubicConv1(x2, a)
		tp.w[3] = cubicConv2(float32(float64(x2)+1), a)
		for j := 0; j < 4; j++ {
			tp.idx[j] = min(max(i0-1+j, 0), in-1)
		}
		t[o] = tp
	}
	return t
}

// ResizeBicubicTorch is F.interpolate(x, size=(outH, outW), mode="bicubic",
// align_corners=False) of a planar float32 [c,h,w] map, returning
// [c,outH,outW]. When scaleH > 0 (scaleW > 0) the coordinate map uses that
// explicit scale factor, src = (dst+0.5)/scale − 0.5, as PyTorch does for
// F.interpolate(scale_factor=..., recompute_scale_factor=False) (SCLIP,
// NACLIP and ClearCLIP's positional-embedding interpolation, SPEC 3.4; the
// caller passes outH = floor(h·scaleH)); otherwise src = (dst+0.5)·in/out −
// 0.5. src is not clamped; the four taps floor(src)−1 .. floor(src)+2 are
// clamped to the edge, weighted by the cubic convolution kernel with
// A = −0.75, summed along W first, then along H. An unchanged size with no
// explicit scale gives back the input exactly (the weights are 0, 1, 0, 0);
// with an explicit scale it does not (SCLIP's (14+0.1)/14 on a 14-row grid
// resamples).
func ResizeBicubicTorch(src []float32, c, h, w, outH, outW int, scaleH, scaleW float64) []float32 {
	checkShape("ResizeBicubicTorch", src, c, h, w, outH, outW)
	ty := cubicTaps(h, outH, scaleH)
	tx := cubicTaps(w, outW, scaleW)
	out := make([]float32, c*outH*outW)
	for ch := 0; ch < c; ch++ {
		plane := src[ch*h*w : (ch+1)*h*w]
		o := out[ch*outH*outW : (ch+1)*outH*outW]
		for oy, y := range ty {
			orow := o[oy*outW : (oy+1)*outW]
			for ox, x := range tx {
				var acc float32
				for j := 0; j < 4; j++ {
					row := plane[y.idx[j]*w:]
					t := float32(row[x.idx[0]] * x.w[0])
					t += float32(row[x.idx[1]] * x.w[1])
					t += float32(row[x.idx[2]] * x.w[2])
					t += float32(row[x.idx[3]] * x.w[3])
					if j == 0 {
						acc = float32(t * y.w[0])
					} else {
						acc += float32(t * y.w[j])
					}
				}
				orow[ox] = acc
			}
		}
	}
	return out
}
