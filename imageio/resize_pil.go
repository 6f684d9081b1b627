package imageio

import (
	"fmt"
	"math"
)

// Filter selects a Pillow resampling filter.
type Filter int

// The Pillow filters (PIL.Image.Resampling).
const (
	Nearest  Filter = iota // Image.NEAREST
	Box                    // Image.BOX
	Bilinear               // Image.BILINEAR (triangle, support 1)
	Hamming                // Image.HAMMING
	Bicubic                // Image.BICUBIC (cubic convolution a = -0.5, support 2)
	Lanczos                // Image.LANCZOS (support 3)
)

func (f Filter) String() string {
	switch f {
	case Nearest:
		return "nearest"
	case Box:
		return "box"
	case Bilinear:
		return "bilinear"
	case Hamming:
		return "hamming"
	case Bicubic:
		return "bicubic"
	case Lanczos:
		return "lanczos"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// The filter kernels of Pillow's Resample.c, in float64 like the C code.
func filterSupport(f Filter) float64 {
	switch f {
	case Box:
		return 0.5
	case Bilinear, Hamming:
		return 1
	case Bicubic:
		return 2
	case Lanczos:
		return 3
	}
	panic("imageio: no kernel for filter " + f.String())
}

func filterKernel(f Filter, x float64) float64 {
	switch f {
	case Box:
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	case Bilinear:
		if x < 0 {
			x = -x
		}
		if x < 1 {
			return 1 - x
		}
		return 0
	case Hamming:
		if x < 0 {
			x = -x
		}
		if x == 0 {
			return 1
		}
		if x >= 1 {
			return 0
		}
		x *= math.Pi
		return math.Sin(x) / x * (0.54 + float64(0.46*math.Cos(x)))
	case Bicubic:
		const a = -0.5
		if x < 0 {
			x = -x
		}
		// The explicit conversions keep the compiler from fusing
		// multiply-adds, so the rounding is C's on every GOARCH.
		if x < 1 {
			p := float64((a + 2) * x)
			q := float64((p - (a + 3)) * x)
			return float64(q*x) + 1
		}
		if x < 2 {
			p := float64((x - 5) * x)
			q := float64((p + 8) * x)
			return (q - 4) * a
		}
		return 0
	case Lanczos:
		if -3 <= x && x < 3 {
			return sinc(x) * sinc(x/3)
		}
		return 0
	}
	panic("imageio: no kernel for filter " + f.String())
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// pilPrecisionBits is Resample.c's PRECISION_BITS (32 - 8 - 2).
const pilPrecisionBits = 32 - 8 - 2

// pilCoeffs holds, for each output position, the first input index, the
// number of taps and the fixed-point weights (Resample.c precompute_coeffs
// followed by normalize_coeffs_8bpc).
type pilCoeffs struct {
	ksize  int
	bounds []int   // 2 per output: xmin, count
	k      []int32 // ksize per output
}

// precomputePIL reproduces precompute_coeffs for the box [0, inSize) (the
// whole image, as Image.resize passes it) and converts the weights to
// fixed point with normalize_coeffs_8bpc's rounding.
func precomputePIL(inSize, outSize int, f Filter) pilCoeffs {
	// The C code holds the box in float and computes in double.
	scale := float64(float32(inSize)) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := filterSupport(f) * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := pilCoeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, ksize*outSize)}
	w := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := float64((float64(xx) + 0.5) * scale)
		ss := 1 / filterscale
		xmin := int(center - support + 0.5) // C (int) truncates toward zero
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		var ww float64
		for x := 0; x < xmax; x++ {
			v := filterKernel(f, float64((float64(x+xmin)-center+0.5)*ss))
			w[x] = v
			ww += v
		}
		kk := c.k[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				kk[x] = int32(-0.5 + v*(1<<pilPrecisionBits))
			} else {
				kk[x] = int32(0.5 + v*(1<<pilPrecisionBits))
			}
		}
		c.bounds[2*xx] = xmin
		c.bounds[2*xx+1] = xmax
	}
	return c
}

// clip8 is Resample.c's clip8 for PRECISION_BITS fixed point.
func clip8(in int) uint8 {
	if in >= 1<<pilPrecisionBits<<8 {
		return 255
	}
	if in <= 0 {
		return 0
	}
	return uint8(in >> pilPrecisionBits)
}

// ResizePIL resizes img to w×h exactly as Pillow's Image.resize((w, h),
// filter) does on an RGB image: separable antialiased convolution (the
// kernel support is widened by the downscale factor), horizontal pass first
// then vertical, each pass rounding to uint8 through 22-bit fixed-point
// weights; a pass whose dimension does not change is skipped, and an
// unchanged size returns a copy. Nearest reproduces Pillow's affine nearest
// sampling (pixel centres, accumulated in float64).
func ResizePIL(img *RGB, w, h int, filter Filter) *RGB {
	// Never a panic: a side below
	// one pixel becomes one, and an empty image stays empty.
	w, h = max(w, 1), max(h, 1)
	if img.W <= 0 || img.H <= 0 {
		return &RGB{}
	}
	if w == img.W && h == img.H {
		return img.Clone()
	}
	if filter == Nearest {
		return resizeNearestPIL(img, w, h)
	}
	needH := w != img.W
	needV := h != img.H
	ch := precomputePIL(img.W, w, filter)
	cv := precomputePIL(img.H, h, filter)

	src := img
	if needH {
		// Only the rows the vertical pass reads are computed.
		first, last := 0, img.H
		if needV {
			first = cv.bounds[0]
			last = cv.bounds[2*h-2] + cv.bounds[2*h-1]
			for i := 0; i < h; i++ {
				cv.bounds[2*i] -= first
			}
		}
		src = resampleHorizontal(img, w, first, last, ch)
	}
	if !needV {
		return src
	}
	return resampleVertical(src, h, cv)
}

func resampleHorizontal(img *RGB, w, first, last int, c pilCoeffs) *RGB {
	out := NewRGB(w, last-first)
	const half = 1 << (pilPrecisionBits - 1)
	parallelRows(out.H, out.H*w*c.ksize, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			in := img.Pix[3*(y+first)*img.W : 3*(y+first+1)*img.W]
			o := out.Pix[3*y*w : 3*(y+1)*w]
			for xx := 0; xx < w; xx++ {
				xmin, n := c.bounds[2*xx], c.bounds[2*xx+1]
				k := c.k[xx*c.ksize : xx*c.ksize+n]
				s := in[3*xmin : 3*(xmin+n)]
				ss0, ss1, ss2 := half, half, half
				for x, kv := range k {
					p := s[3*x : 3*x+3 : 3*x+3]
					kx := int(kv)
					ss0 += int(p[0]) * kx
					ss1 += int(p[1]) * kx
					ss2 += int(p[2]) * kx
				}
				o[3*xx], o[3*xx+1], o[3*xx+2] = clip8(ss0), clip8(ss1), clip8(ss2)
			}
		}
	})
	return out
}

func resampleVertical(img *RGB, h int, c pilCoeffs) *RGB {
	w := img.W
	out := NewRGB(w, h)
	const half = 1 << (pilPrecisionBits - 1)
	parallelRows(h, h*w*c.ksize, func(y0, y1 int) {
		acc := make([]int, 3*w)
		for yy := y0; yy < y1; yy++ {
			ymin, n := c.bounds[2*yy], c.bounds[2*yy+1]
			k := c.k[yy*c.ksize : yy*c.ksize+n]
			for i := range acc {
				acc[i] = half
			}
			for y, kv := range k {
				kx := int(kv)
				row := img.Pix[3*(ymin+y)*w : 3*(ymin+y+1)*w]
				a := acc[:len(row)]
				for i, v := range row {
					a[i] += int(v) * kx
				}
			}
			o := out.Pix[3*yy*w : 3*(yy+1)*w]
			for i, v := range acc {
				o[i] = clip8(v)
			}
		}
	})
	return out
}

// resizeNearestPIL follows ImagingScaleAffine (Geometry.c), which
// Image.resize uses for NEAREST: the source coordinate starts at half a
// step and is advanced by repeated addition of in/out in float64.
func resizeNearestPIL(img *RGB, w, h int) *RGB {
	ax := float64(float32(img.W)) / float64(w)
	ay := float64(float32(img.H)) / float64(h)
	xin := make([]int, w)
	xo := ax * 0.5
	for x := 0; x < w; x++ {
		xin[x] = coordPIL(xo, img.W)
		xo += ax
	}
	out := NewRGB(w, h)
	yo := ay * 0.5
	for y := 0; y < h; y++ {
		yi := coordPIL(yo, img.H)
		yo += ay
		row := img.Pix[3*yi*img.W:]
		o := out.Pix[3*y*w:]
		for x, xi := range xin {
			copy(o[3*x:3*x+3], row[3*xi:3*xi+3])
		}
	}
	return out
}

// coordPIL is Geometry.c's COORD (truncation), clamped into the image (the
// C code leaves such pixels untouched; with a whole-image box they cannot
// occur except through rounding at the far edge).
func coordPIL(v float64, n int) int {
	i := 0
	if v >= 0 {
		i = int(v)
	}
	if i >= n {
		i = n - 1
	}
	return i
}
