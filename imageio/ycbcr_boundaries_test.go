package imageio

import (
	"fmt"
	"image"
	"math"
	"testing"
)

// Boundary cases of the YCbCr → RGB conversions (ycbcr.go): every
// subsampling ratio on images one to eight pixels wide and one to five high,
// so odd and even widths and heights meet each edge rule of the chroma
// upsamplers. The expected colours come from the floating-point colour
// formulas (JFIF for JPEG, BT.601 limited range for WebP), not from the
// fixed-point code under test; the colours are chosen away from rounding
// ties, which the test checks.

// yccTieMargin is how far from a rounding tie (x.5) a reference channel must
// lie so that the fixed-point conversions, accurate to a few hundredths of
// a level, cannot round it the other way.
const yccTieMargin = 0.15

// yccRound clamps and rounds three channels, reporting whether each
// clamped one is at least yccTieMargin from a tie (a tie below 0.5 or above
// 254.5 rounds into the clamp either way).
func yccRound(v [3]float64) (c [3]uint8, ok bool) {
	ok = true
	for i, x := range v {
		x = min(max(x, 0), 255)
		if math.Abs(x-math.Floor(x)-0.5) < yccTieMargin {
			ok = false
		}
		c[i] = uint8(math.Round(x))
	}
	return c, ok
}

// yccJFIF is the JFIF (ITU-T T.871) full-range YCbCr → RGB conversion that
// libjpeg's tables approximate.
func yccJFIF(y, cb, cr uint8) ([3]uint8, bool) {
	Y, u, v := float64(y), float64(cb)-128, float64(cr)-128
	return yccRound([3]float64{
		Y + 1.402*v,
		Y - 0.344136*u - 0.714136*v,
		Y + 1.772*u,
	})
}

// yccBT601 is the limited-range BT.601 YUV → RGB conversion that libwebp's
// 14-bit arithmetic approximates.
func yccBT601(y, cb, cr uint8) ([3]uint8, bool) {
	Y, u, v := 1.164383*(float64(y)-16), float64(cb)-128, float64(cr)-128
	return yccRound([3]float64{
		Y + 1.596027*v,
		Y - 0.391762*u - 0.812968*v,
		Y + 2.017232*u,
	})
}

var yccRatios = []image.YCbCrSubsampleRatio{
	image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
	image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440,
	image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
}

// yccFlat is a w×h image of one colour in the given ratio, allocated as
// the JPEG decoder does (image.NewYCbCr: each plane exactly as long as it
// needs, so a read past a plane's last row panics instead of reading the
// next plane).
func yccFlat(w, h int, ratio image.YCbCrSubsampleRatio, y, cb, cr uint8) *image.YCbCr {
	m := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	for i := range m.Y {
		m.Y[i] = y
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = cb, cr
	}
	return m
}

// yccConvert runs toRGB, turning a panic into an error.
func yccConvert(m *image.YCbCr, opt convOpts) (out *RGB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return toRGB(m, opt), nil
}

// yccCheckFlat checks every pixel of out is want.
func yccCheckFlat(t *testing.T, name string, out *RGB, want [3]uint8) {
	t.Helper()
	for y := 0; y < out.H; y++ {
		for x := 0; x < out.W; x++ {
			if got := out.At(x, y); got != want {
				t.Errorf("%s: pixel (%d,%d) = %v, want %v", name, x, y, got, want)
				return
			}
		}
	}
}

// A JPEG of one colour stays that colour in every subsampling ratio and
// size: the upsampling filters have weights summing to one and their
// rounding biases must not shift a constant (3/4·c + 1/4·c + bias, shifted
// back, is c), and no edge rule may read outside the chroma planes (the
// last chroma row and column stand in for the ones beyond).
func TestJPEGConstantColourAllRatiosAndSizes(t *testing.T) {
	colours := [][3]uint8{
		{128, 128, 128}, // grey
		{100, 128, 230}, // (243.0, 27.2, 100)
		{90, 60, 172},   // (151.7, 82.0, -30.5 → 0)
		{200, 0, 254},   // (376.7 → 255, 154.1, -26.8 → 0)
		{30, 255, 0},    // (-149.5 → 0, 77.7, 255.0)
	}
	for _, c := range colours {
		want, ok := yccJFIF(c[0], c[1], c[2])
		if !ok {
			t.Fatalf("colour %v lies within %g of a rounding tie: pick another", c, yccTieMargin)
		}
		for _, ratio := range yccRatios {
			for w := 1; w <= 8; w++ {
				for h := 1; h <= 5; h++ {
					name := fmt.Sprintf("YCbCr %v %v %dx%d", c, ratio, w, h)
					out, err := yccConvert(yccFlat(w, h, ratio, c[0], c[1], c[2]), convOpts{})
					if err != nil {
						t.Errorf("%s: %v", name, err)
						continue
					}
					yccCheckFlat(t, name, out, want)
				}
			}
		}
	}
}

// A lossy WebP of one colour (4:2:0) stays that colour at every size: the
// 9/16, 3/16, 3/16, 1/16 interpolation of a constant is the constant, and
// the last chroma column (even width) and row (even height) are reused
// rather than read past.
func TestWebPConstantColourAllSizes(t *testing.T) {
	colours := [][3]uint8{
		{130, 128, 128}, // grey (132.7, 132.7, 132.7)
		{60, 172, 139},  // (68.8, 25.1, 140.0)
		{200, 20, 60},   // (105.7, 311.8 → 255, -3.6 → 0)
		{120, 0, 255},   // chroma 0 and 255: (323.8 → 255, 68.0, -137.1 → 0)
		{16, 128, 128},  // black (0, 0, 0)
		{235, 128, 128}, // white (255.0, 255.0, 255.0)
	}
	for _, c := range colours {
		want, ok := yccBT601(c[0], c[1], c[2])
		if !ok {
			t.Fatalf("colour %v lies within %g of a rounding tie: pick another", c, yccTieMargin)
		}
		for w := 1; w <= 8; w++ {
			for h := 1; h <= 5; h++ {
				name := fmt.Sprintf("WebP %v %dx%d", c, w, h)
				out, err := yccConvert(yccFlat(w, h, image.YCbCrSubsampleRatio420, c[0], c[1], c[2]), convOpts{webp: true})
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				yccCheckFlat(t, name, out, want)
			}
		}
	}
}

// yccRow is a w×h image with luma 128, Cr 123 and the given chroma-blue
// row repeated on every chroma row.
func yccRow(w, h int, ratio image.YCbCrSubsampleRatio, cb []uint8) *image.YCbCr {
	m := yccFlat(w, h, ratio, 128, 0, 123)
	for i := range m.Cb {
		m.Cb[i] = cb[i%m.CStride]
	}
	return m
}

// yccCheckCbRow checks row y of out against luma 128, Cr 123 and the expected
// chroma blue of each column, converted with the JFIF formula.
func yccCheckCbRow(t *testing.T, name string, out *RGB, y int, cb []uint8) {
	t.Helper()
	for x, c := range cb {
		want, ok := yccJFIF(128, c, 123)
		if !ok {
			t.Fatalf("%s: Cb %d lies within %g of a rounding tie: pick another", name, c, yccTieMargin)
		}
		if got := out.At(x, y); got != want {
			t.Errorf("%s: pixel (%d,%d) = %v, want %v (Cb %d)", name, x, y, got, want, c)
		}
	}
}

// libjpeg (jdsample.c, jinit_upsampler) uses its triangle filters only for
// chroma rows more than two samples wide; a JPEG 3 or 4 pixels wide with
// horizontally halved chroma (two chroma columns) is upsampled by
// replication, in 4:2:2 (h2v1_upsample) and 4:2:0 (h2v2_upsample).
func TestJPEGTwoChromaColumnsReplicated(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420} {
		for _, w := range []int{3, 4} {
			name := fmt.Sprintf("%v %dx2", ratio, w)
			out, err := yccConvert(yccRow(w, 2, ratio, []uint8{80, 168}), convOpts{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for y := 0; y < 2; y++ {
				yccCheckCbRow(t, name, out, y, []uint8{80, 80, 168, 168}[:w])
			}
		}
	}
}

// libjpeg's h2v1_fancy_upsample on a 4:2:2 row of three chroma samples
// (80, 128, 168), worked by hand: each output takes 3/4 of its own sample
// and 1/4 of the neighbour on its side, +1 bias for even columns and +2
// for odd ones, the first and last columns copying their sample:
// 80, (3·80+128+2)>>2 = 92, (3·128+80+1)>>2 = 116, (3·128+168+2)>>2 = 138,
// (3·168+128+1)>>2 = 158, 168. An odd width ends at 158.
func TestJPEGFancyUpsample422HandCase(t *testing.T) {
	full := []uint8{80, 92, 116, 138, 158, 168}
	for _, w := range []int{5, 6} {
		name := fmt.Sprintf("4:2:2 %dx1", w)
		out, err := yccConvert(yccRow(w, 1, image.YCbCrSubsampleRatio422, []uint8{80, 128, 168}), convOpts{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		yccCheckCbRow(t, name, out, 0, full[:w])
	}
}
