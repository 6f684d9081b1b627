package imageio

import "image"

// libjpeg's YCbCr → RGB tables (jdcolor.c build_ycc_rgb_table): 16-bit
// fixed point, FIX(x) = round(x·65536).
const (
	jfixCrR = 91881  // FIX(1.40200)
	jfixCbB = 116130 // FIX(1.77200)
	jfixCrG = 46802  // FIX(0.71414)
	jfixCbG = 22554  // FIX(0.34414)
	jhalf   = 1 << 15
)

func clampU8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// jpegPixel is libjpeg's ycc_rgb_convert for one pixel.
func jpegPixel(y, cb, cr uint8) (uint8, uint8, uint8) {
	Y, x, z := int(y), int(cb)-128, int(cr)-128
	r := Y + (jfixCrR*z+jhalf)>>16
	g := Y + ((-jfixCbG*x+jhalf)+(-jfixCrG*z))>>16
	b := Y + (jfixCbB*x+jhalf)>>16
	return clampU8(r), clampU8(g), clampU8(b)
}

// jpegYCbCrToRGB converts a decoded JPEG the way libjpeg(-turbo) does with
// its defaults (do_fancy_upsampling): chroma planes subsampled 2× in a
// direction are upsampled with the triangle filter of jdsample.c
// (h2v1_fancy_upsample, h1v2_fancy_upsample, h2v2_fancy_upsample: 3/4 of
// the nearer sample, 1/4 of the further, edges replicated, with libjpeg's
// alternating rounding biases); other ratios (4:1:1, 4:1:0) and chroma
// planes two samples wide or less are replicated (int_upsample,
// h2v*_upsample). Then the fixed-point tables of jdcolor.c.
func jpegYCbCrToRGB(out *RGB, m *image.YCbCr) {
	w, h := out.W, out.H
	hs, vs := 0, 0 // chroma subsampling factors
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	case image.YCbCrSubsampleRatio411:
		hs, vs = 4, 1
	case image.YCbCrSubsampleRatio410:
		hs, vs = 4, 2
	}
	if hs == 0 || m.Rect.Min != (image.Point{}) {
		// Not a decoder result (a sub-image, or an unknown ratio): nearest
		// chroma sample, libjpeg's colour arithmetic.
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				px, py := m.Rect.Min.X+x, m.Rect.Min.Y+y
				yi, ci := m.YOffset(px, py), m.COffset(px, py)
				i := 3 * (y*w + x)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = jpegPixel(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
		return
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	u := chromaUpsampler{stride: m.CStride, cw: cw, ch: ch, hs: hs, vs: vs, w: w}
	u.fancyH = hs == 2 && cw > 2
	u.fancyV = vs == 2 && (hs == 1 || u.fancyH)
	parallelRows(h, w*h*8, func(lo, hi int) {
		cbRow, crRow := make([]uint8, w), make([]uint8, w)
		colsum := make([]int, cw)
		for y := lo; y < hi; y++ {
			u.row(cbRow, m.Cb, y, colsum)
			u.row(crRow, m.Cr, y, colsum)
			yrow := m.Y[y*m.YStride : y*m.YStride+w]
			o := out.Pix[3*y*w : 3*(y+1)*w]
			for x, yv := range yrow {
				o[3*x], o[3*x+1], o[3*x+2] = jpegPixel(yv, cbRow[x], crRow[x])
			}
		}
	})
}

// chromaUpsampler produces full-resolution rows of a cw×ch chroma plane
// subsampled hs× horizontally and vs× vertically, with libjpeg's methods:
// h2v1_fancy_upsample, h1v2_fancy_upsample and h2v2_fancy_upsample (3/4 of
// the nearer sample and 1/4 of the further in each subsampled direction,
// edges replicated, with libjpeg's alternating rounding biases) where
// jdsample.c uses them, replication (int_upsample, h2v*_upsample)
// elsewhere.
type chromaUpsampler struct {
	stride, cw, ch, hs, vs, w int
	fancyH, fancyV            bool
}

func (u *chromaUpsampler) row(dst, plane []uint8, y int, colsum []int) {
	cy := y / u.vs
	cur := plane[cy*u.stride : cy*u.stride+u.cw]
	if !u.fancyV {
		if !u.fancyH { // replication
			for x := range dst {
				dst[x] = cur[x/u.hs]
			}
			return
		}
		// h2v1_fancy_upsample
		last := u.cw - 1
		for x := range dst {
			cx := x >> 1
			in := int(cur[cx])
			var v int
			if x&1 == 0 {
				if cx == 0 {
					v = in
				} else {
					v = (in*3 + int(cur[cx-1]) + 1) >> 2
				}
			} else {
				if cx == last {
					v = in
				} else {
					v = (in*3 + int(cur[cx+1]) + 2) >> 2
				}
			}
			dst[x] = uint8(v)
		}
		return
	}
	// The further row: above for even output rows, below for odd ones,
	// the image's first and last chroma rows standing in beyond the edges.
	ny := cy - 1
	if y&1 == 1 {
		ny = cy + 1
	}
	ny = min(max(ny, 0), u.ch-1)
	far := plane[ny*u.stride : ny*u.stride+u.cw]
	if !u.fancyH { // h1v2_fancy_upsample
		bias := 1
		if y&1 == 1 {
			bias = 2
		}
		for x := range dst {
			dst[x] = uint8((3*int(cur[x]) + int(far[x]) + bias) >> 2)
		}
		return
	}
	// h2v2_fancy_upsample
	cs := colsum[:u.cw]
	for i := range cs {
		cs[i] = 3*int(cur[i]) + int(far[i])
	}
	last := u.cw - 1
	for x := range dst {
		cx := x >> 1
		this := cs[cx]
		var v int
		if x&1 == 0 {
			if cx == 0 {
				v = (this*4 + 8) >> 4
			} else {
				v = (this*3 + cs[cx-1] + 8) >> 4
			}
		} else {
			if cx == last {
				v = (this*4 + 7) >> 4
			} else {
				v = (this*3 + cs[cx+1] + 7) >> 4
			}
		}
		dst[x] = uint8(v)
	}
}

// libwebp's YUV → RGB (dsp/yuv.h): 14-bit products, 6 fractional bits.
func webpMultHi(v, c int) int { return (v * c) >> 8 }

func webpClip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func webpPixel(y, u, v int) (uint8, uint8, uint8) {
	yy := webpMultHi(y, 19077)
	r := webpClip8(yy + webpMultHi(v, 26149) - 14234)
	g := webpClip8(yy - webpMultHi(u, 6419) - webpMultHi(v, 13320) + 8708)
	b := webpClip8(yy + webpMultHi(u, 33050) - 17685)
	return r, g, b
}

// webpYCbCrToRGB converts a lossy WebP picture (4:2:0) the way libwebp's
// default RGB output does (io_dec.c EmitFancyRGB with the upsamplers of
// dsp/upsampling.c): each output row is interpolated from its nearer and
// further chroma rows with weights 9/16, 3/16, 3/16, 1/16 in libwebp's
// integer form, the first row (and the last of an even height) using its
// own chroma row twice. Other ratios fall back to nearest chroma.
func webpYCbCrToRGB(out *RGB, Y, Cb, Cr []uint8, yStride, cStride int, ratio image.YCbCrSubsampleRatio, w, h int) {
	if ratio != image.YCbCrSubsampleRatio420 {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				ci := y*cStride + x
				switch ratio {
				case image.YCbCrSubsampleRatio422:
					ci = y*cStride + x/2
				case image.YCbCrSubsampleRatio440:
					ci = (y/2)*cStride + x
				}
				i := 3 * (y*w + x)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = webpPixel(int(Y[y*yStride+x]), int(Cb[ci]), int(Cr[ci]))
			}
		}
		return
	}
	cw, ch := (w+1)/2, (h+1)/2
	// up interpolates one chroma plane at output column X from the near and
	// far chroma rows.
	up := func(near, far []uint8, X int) int {
		if X == 0 {
			return (3*int(near[0]) + int(far[0]) + 2) >> 2
		}
		r := (X + 1) / 2 // right chroma column of the pair
		if r >= cw {     // last column of an even width
			return (3*int(near[cw-1]) + int(far[cw-1]) + 2) >> 2
		}
		l := r - 1
		nl, nr, fl, fr := int(near[l]), int(near[r]), int(far[l]), int(far[r])
		avg := nl + nr + fl + fr + 8
		if X&1 == 1 { // nearer the left column
			return ((avg+2*(nr+fl))>>3 + nl) >> 1
		}
		return ((avg+2*(nl+fr))>>3 + nr) >> 1
	}
	parallelRows(h, w*h*16, func(lo, hi int) {
		for y := lo; y < hi; y++ {
			var n, f int // near and far chroma rows
			switch {
			case y == 0:
				n, f = 0, 0
			case y&1 == 1:
				n, f = (y-1)/2, min((y+1)/2, ch-1)
			default:
				n, f = y/2, y/2-1
			}
			nu, fu := Cb[n*cStride:n*cStride+cw], Cb[f*cStride:f*cStride+cw]
			nv, fv := Cr[n*cStride:n*cStride+cw], Cr[f*cStride:f*cStride+cw]
			yrow := Y[y*yStride:]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = webpPixel(int(yrow[x]), up(nu, fu, x), up(nv, fv, x))
			}
		}
	})
}
