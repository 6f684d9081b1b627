package imageio

import "math"

// OpenCV's fixed-point linear interpolation: 11-bit weights
// (INTER_RESIZE_COEF_BITS), products summed in int32.
const (
	cvCoefBits  = 11
	cvCoefScale = 1 << cvCoefBits
)

// ResizeCV2Linear resizes img to w×h as cv2.resize(img, (w, h),
// interpolation=cv2.INTER_LINEAR) does on a uint8 3-channel image in an
// x86-64 build of OpenCV 4.x (the mmcv/mmseg keep-ratio resize):
//
//   - source coordinate (float32) fx = (dst+0.5)·(1/(dst_size/src_size)) −
//     0.5, sx = floor(fx); left of the image sx = 0, right of it
//     sx = src−1, the fraction then 0; no antialiasing;
//   - weights rint((1−f)·2048), rint(f·2048) (int16, 11 bits);
//   - horizontal pass exact in int32: S[sx]·a0 + S[sx+1]·a1;
//   - vertical pass over rows clamped to the image with OpenCV's 8-bit
//     arithmetic, ((h0>>4)·b0>>16 + (h1>>4)·b1>>16 + 2)>>2 — the SIMD form
//     (v_shr, v_mul_hi, v_rshr_pack_u), which OpenCV's uchar specialisation
//     of VResizeLinear also uses for the scalar tail (checked against
//     OpenCV 4.6 on every tail length);
//   - an exact 2× reduction in both directions is INTER_AREA's 2×2 mean
//     with rounding, (a+b+c+d+2)>>2, as OpenCV switches to it;
//   - an unchanged size is a copy.
func ResizeCV2Linear(img *RGB, w, h int) *RGB {
	// Never a panic: cv2 refuses an empty size, here a side below one
	// pixel becomes one (KeepRatioSize never asks for less), and an empty
	// image stays empty.
	w, h = max(w, 1), max(h, 1)
	if img.W <= 0 || img.H <= 0 {
		return &RGB{}
	}
	if w == img.W && h == img.H {
		return img.Clone()
	}
	const cn = 3
	invX := float64(w) / float64(img.W)
	invY := float64(h) / float64(img.H)
	scaleX, scaleY := 1/invX, 1/invY
	iscaleX, iscaleY := math.RoundToEven(scaleX), math.RoundToEven(scaleY)
	const dblEps = 2.220446049250313e-16
	if math.Abs(scaleX-iscaleX) < dblEps && math.Abs(scaleY-iscaleY) < dblEps && iscaleX == 2 && iscaleY == 2 {
		return cvAreaHalf(img, w, h)
	}

	sw, sh := img.W, img.H
	width := w * cn
	xofs := make([]int, w) // source pixel of each output column
	alpha := make([]int32, 2*w)
	for dx := 0; dx < w; dx++ {
		fx := float32(float64((float64(dx)+0.5)*scaleX) - 0.5)
		sx := int(math.Floor(float64(fx)))
		fx -= float32(sx)
		if sx < 0 {
			fx, sx = 0, 0
		}
		if sx >= sw-1 {
			fx, sx = 0, sw-1
		}
		xofs[dx] = sx
		alpha[2*dx] = cvRoundCoef(1 - fx)
		alpha[2*dx+1] = cvRoundCoef(fx)
	}
	yofs := make([]int, h)
	beta := make([]int32, 2*h)
	for dy := 0; dy < h; dy++ {
		fy := float32(float64((float64(dy)+0.5)*scaleY) - 0.5)
		sy := int(math.Floor(float64(fy)))
		fy -= float32(sy)
		yofs[dy] = sy
		beta[2*dy] = cvRoundCoef(1 - fy)
		beta[2*dy+1] = cvRoundCoef(fy)
	}

	hrow := func(sy int, buf []int32) {
		row := img.Pix[3*sy*sw : 3*(sy+1)*sw]
		for dx := 0; dx < w; dx++ {
			s := 3 * xofs[dx]
			a0, a1 := alpha[2*dx], alpha[2*dx+1]
			if a1 == 0 {
				buf[3*dx] = int32(row[s]) * a0
				buf[3*dx+1] = int32(row[s+1]) * a0
				buf[3*dx+2] = int32(row[s+2]) * a0
				continue
			}
			buf[3*dx] = int32(row[s])*a0 + int32(row[s+3])*a1
			buf[3*dx+1] = int32(row[s+1])*a0 + int32(row[s+4])*a1
			buf[3*dx+2] = int32(row[s+2])*a0 + int32(row[s+5])*a1
		}
	}
	clampRow := func(y int) int {
		if y < 0 {
			return 0
		}
		if y >= sh {
			return sh - 1
		}
		return y
	}
	out := NewRGB(w, h)
	parallelRows(h, h*width*4, func(lo, hi int) {
		r0, r1 := make([]int32, width), make([]int32, width)
		have0, have1 := -1, -1
		for dy := lo; dy < hi; dy++ {
			s0, s1 := clampRow(yofs[dy]), clampRow(yofs[dy]+1)
			// Reuse horizontally resampled rows between output rows.
			switch {
			case s0 == have0:
			case s0 == have1:
				r0, r1 = r1, r0
				have0, have1 = have1, have0
			default:
				hrow(s0, r0)
				have0 = s0
			}
			if s1 != have1 {
				if s1 == have0 {
					copy(r1, r0)
				} else {
					hrow(s1, r1)
				}
				have1 = s1
			}
			b0, b1 := beta[2*dy], beta[2*dy+1]
			o := out.Pix[dy*width : (dy+1)*width]
			for x := 0; x < width; x++ {
				// v_shr<4>, v_pack (no saturation: |h| <= 255·2048), v_mul_hi
				// (signed 16×16 → high half), v_add, v_rshr_pack_u<2>.
				t := (((r0[x] >> 4) * b0) >> 16) + (((r1[x] >> 4) * b1) >> 16)
				o[x] = clampU8(int((t + 2) >> 2))
			}
		}
	})
	return out
}

// cvRoundCoef is saturate_cast<short>(c·2048) of a float32 weight (cvRound:
// round half to even).
func cvRoundCoef(c float32) int32 {
	return int32(math.RoundToEven(float64(c * cvCoefScale)))
}

// cvAreaHalf is OpenCV's resizeAreaFast_ for an exact 2× reduction of an
// 8-bit image: the rounded mean of each 2×2 block.
func cvAreaHalf(img *RGB, w, h int) *RGB {
	out := NewRGB(w, h)
	sw := img.W
	for y := 0; y < h; y++ {
		r0 := img.Pix[3*(2*y)*sw:]
		r1 := img.Pix[3*(2*y+1)*sw:]
		o := out.Pix[3*y*w:]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				i := 6*x + c
				o[3*x+c] = uint8((int(r0[i]) + int(r0[i+3]) + int(r1[i]) + int(r1[i+3]) + 2) >> 2)
			}
		}
	}
	return out
}
