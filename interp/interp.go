// Package interp resizes planar float32 maps [C,H,W] the way PyTorch's
// F.interpolate does on the CPU in float32 (PyTorch 1.13 / 2.x
// UpSampleKernel.cpp): bilinear with align_corners False or True, and
// bicubic (A = −0.75) with align_corners False and an optional explicit
// scale factor. No antialiasing. It is used for positional embeddings
// (docs/model.md#positional-tables), similarity maps and logits.
//
// The arithmetic follows PyTorch 1.13's x86-64 build (the AVX2 kernels,
// where the compiler fuses multiply-adds), which was measured against
// torch itself (testdata/gen_reference.py):
//
//   - ResizeBilinearTorch reproduces the NCHW-contiguous kernel bit for bit;
//   - ResizeBilinearTorchChannelsLast reproduces the channels-last kernel
//     (what F.interpolate runs on a permuted [B,h,w,K] tensor, as in CLIP
//     Surgery's get_similarity_map) bit for bit, golden itsm maps included;
//   - ResizeBicubicTorch follows the source's formulas in float32; its
//     results are within about 1e-6 of the map's peak of PyTorch's (both
//     are that far from the float64 value), not bit-exact.
//
// The resizes never panic: an output side below one pixel becomes one, and
// an empty or inconsistent input gives nil (CheckSizes says why).
//
// Explicit float32/float64 conversions keep the Go compiler from fusing
// operations on its own, so results do not depend on GOARCH.
package interp

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// checkShape makes every resize total, without panics: an output side
// below one pixel is raised to one (PyTorch refuses a zero output size; a
// one-pixel side is the nearest size it accepts), and an input that is
// empty, negative or does not hold c·h·w values gives ok = false, for which
// the resizes return nil (PyTorch refuses such input: "Input and output
// sizes should be greater than 0"). Callers that can meet such sizes check
// them with CheckSizes first, for a message naming them.
func checkShape(src []float32, c, h, w, outH, outW int) (oh, ow int, ok bool) {
	if CheckSizes(c, h, w, 1, 1) != nil || len(src) != c*h*w {
		return 0, 0, false
	}
	oh, ow = max(outH, 1), max(outW, 1)
	if c > 0 && (oh > math.MaxInt32 || ow > math.MaxInt32 || oh > math.MaxInt/c/ow) {
		return 0, 0, false // the output's size overflows
	}
	return oh, ow, true
}

// CheckSizes reports whether a resize of a [c,h,w] map to outH×outW is one
// PyTorch would do, with an error saying which size is not.
func CheckSizes(c, h, w, outH, outW int) error {
	if c < 0 || h <= 0 || w <= 0 || outH <= 0 || outW <= 0 {
		return fmt.Errorf("interp: cannot resize a [%d,%d,%d] map to %dx%d: every size must be at least 1", c, h, w, outH, outW)
	}
	if h > math.MaxInt32 || w > math.MaxInt32 || c > math.MaxInt32 || (c > 0 && h > math.MaxInt/c/w) {
		return fmt.Errorf("interp: a [%d,%d,%d] map is too large", c, h, w)
	}
	return nil
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

// sourceIndex is area_pixel_compute_source_index: PyTorch writes
// scale·(dst + 0.5) − 0.5 with double literals, so the expression is
// evaluated in float64; the cubic path then stores it as float32.
func sourceIndex(scale float32, dst int, alignCorners, cubic bool) float64 {
	s := float64(scale)
	if alignCorners {
		return float64(s * float64(dst))
	}
	v := float64(s*(float64(dst)+0.5)) - 0.5
	if !cubic && v < 0 {
		return 0
	}
	return v
}

// fma32 is a float32 multiply-add rounded once, as the FMA instructions of
// PyTorch's AVX2 kernels compute it (the product of two float32 values is
// exact in float64, so one float64 rounding then one float32 rounding).
func fma32(a, b, c float32) float32 {
	return float32(float64(float64(a)*float64(b)) + float64(c))
}

type linearTap struct {
	i0, i1 int
	l0, l1 float32
}

// linearTaps is compute_source_index_and_lambda: the source index stays in
// float64 (it is never stored as float32 on this path), i0 = floor(src)
// clamped to in−1, i1 = i0+1 unless at the last index, λ1 = float32(src −
// i0) clamped to [0, 1], λ0 = 1 − λ1. An unchanged size copies.
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
		i0 := min(int(math.Floor(s)), in-1)
		l1 := min(max(float32(s-float64(i0)), 0), 1)
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
	outH, outW, ok := checkShape(src, c, h, w, outH, outW)
	if !ok {
		return nil
	}
	if c == 1 || (h == 1 && w == 1) {
		// Such a tensor is channels-last contiguous too, and PyTorch then
		// dispatches to the channels-last kernel.
		return ResizeBilinearTorchChannelsLast(src, c, h, w, outH, outW, alignCorners)
	}
	ty := linearTaps(h, outH, alignCorners, 0)
	tx := linearTaps(w, outW, alignCorners, 0)
	out := make([]float32, c*outH*outW)
	// Each source row's interpolation along W is computed once and reused by
	// every output row that reads it (an upsampling reads each source row
	// many times); the arithmetic per output element is unchanged.
	parallelChannels(c, outH*outW, func(c0, c1 int) {
		rows := make([]float32, h*outW)
		done := make([]bool, h)
		horiz := func(plane []float32, sy int) []float32 {
			hr := rows[sy*outW : (sy+1)*outW]
			if !done[sy] {
				r := plane[sy*w : (sy+1)*w]
				for ox, x := range tx {
					hr[ox] = fma32(r[x.i0], x.l0, float32(r[x.i1]*x.l1))
				}
				done[sy] = true
			}
			return hr
		}
		for ch := c0; ch < c1; ch++ {
			clear(done)
			plane := src[ch*h*w : (ch+1)*h*w]
			o := out[ch*outH*outW : (ch+1)*outH*outW]
			for oy, y := range ty {
				t0, t1 := horiz(plane, y.i0), horiz(plane, y.i1)
				orow := o[oy*outW : (oy+1)*outW]
				for ox := range orow {
					orow[ox] = fma32(t0[ox], y.l0, float32(t1[ox]*y.l1))
				}
			}
		}
	})
	return out
}

// parallelChannels splits channels [0,c) over up to GOMAXPROCS goroutines
// when there is enough work (per channel, n outputs).
func parallelChannels(c, n int, f func(c0, c1 int)) {
	workers := min(runtime.GOMAXPROCS(0), c)
	if workers <= 1 || c*n < 1<<16 {
		f(0, c)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		c0, c1 := c*i/workers, c*(i+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(c0, c1)
		}()
	}
	wg.Wait()
}

// ResizeBilinearTorchChannelsLast is ResizeBilinearTorch with the
// arithmetic of PyTorch's channels-last bilinear kernel
// (cpu_upsample_linear_channels_last), which F.interpolate takes when the
// input tensor is laid out channels-last — as in CLIP Surgery's
// get_similarity_map, whose input is a permute(0, 3, 1, 2) of [B,h,w,K]
// (docs/method.md#similarity-maps). Input and output are still planar [c,h,w] / [c,outH,outW];
// only the rounding differs from ResizeBilinearTorch. Each output is
// x00·w00 + x01·w01 + x10·w10 + x11·w11 with the four weights rounded to
// float32 products of the row and column weights; the first c − c%8
// channels are summed as AVX2 vectors, fma(x00,w00, fma(x01,w01,
// fma(x11,w11, x10·w10))), the last c%8 in float64 and rounded once. This
// reproduces PyTorch 1.13's x86-64 (AVX2) output bit for bit, including the
// golden itsm maps.
func ResizeBilinearTorchChannelsLast(src []float32, c, h, w, outH, outW int, alignCorners bool) []float32 {
	outH, outW, ok := checkShape(src, c, h, w, outH, outW)
	if !ok {
		return nil
	}
	ty := linearTaps(h, outH, alignCorners, 0)
	tx := linearTaps(w, outW, alignCorners, 0)
	out := make([]float32, c*outH*outW)
	vec := c - c%8
	for oy, y := range ty {
		for ox, x := range tx {
			w00, w01 := float32(y.l0*x.l0), float32(y.l0*x.l1)
			w10, w11 := float32(y.l1*x.l0), float32(y.l1*x.l1)
			i00, i01 := y.i0*w+x.i0, y.i0*w+x.i1
			i10, i11 := y.i1*w+x.i0, y.i1*w+x.i1
			o := oy*outW + ox
			for ch := 0; ch < c; ch++ {
				p := src[ch*h*w : (ch+1)*h*w]
				var v float32
				if ch < vec {
					s := fma32(p[i11], w11, float32(p[i10]*w10))
					s = fma32(p[i01], w01, s)
					v = fma32(p[i00], w00, s)
				} else {
					d := float64(float64(p[i00])*float64(w00)) + float64(float64(p[i01])*float64(w01))
					d += float64(float64(p[i10]) * float64(w10))
					d += float64(float64(p[i11]) * float64(w11))
					v = float32(d)
				}
				out[ch*outH*outW+o] = v
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
		s := float32(sourceIndex(r, o, false, true))
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
// NACLIP and ClearCLIP's positional-embedding interpolation, docs/model.md#positional-tables; the
// caller passes outH = floor(h·scaleH)); otherwise src = (dst+0.5)·in/out −
// 0.5. src is not clamped; the four taps floor(src)−1 .. floor(src)+2 are
// clamped to the edge, weighted by the cubic convolution kernel with
// A = −0.75, summed along W first, then along H. An unchanged size with no
// explicit scale gives back the input exactly (the weights are 0, 1, 0, 0);
// with an explicit scale it does not (SCLIP's (14+0.1)/14 on a 14-row grid
// resamples).
func ResizeBicubicTorch(src []float32, c, h, w, outH, outW int, scaleH, scaleW float64) []float32 {
	outH, outW, ok := checkShape(src, c, h, w, outH, outW)
	if !ok {
		return nil
	}
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
