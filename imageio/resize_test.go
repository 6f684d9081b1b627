package imageio

import (
	"math/rand"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
)

var photos = []string{"astronaut", "chelsea", "coffee"}

func openPhoto(t testing.TB, name string) *RGB {
	t.Helper()
	img, meta, err := Open(golden.Path(t, "cases", name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	if meta.Format != "png" || meta.Width != img.W || meta.Height != img.H || meta.Orientation != 1 {
		t.Fatalf("%s: meta %+v for a %dx%d image", name, meta, img.W, img.H)
	}
	return img
}

func newRng(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

func randomRGB(rng *rand.Rand, w, h int) *RGB {
	img := NewRGB(w, h)
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Intn(256))
	}
	return img
}

// smoothRGB is a gradient with a little noise, closer to a photo than white
// noise.
func smoothRGB(rng *rand.Rand, w, h int) *RGB {
	img := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 3 * (y*w + x)
			img.Pix[i] = uint8((x*255/max(w-1, 1) + rng.Intn(9)) % 256)
			img.Pix[i+1] = uint8((y*255/max(h-1, 1) + rng.Intn(9)) % 256)
			img.Pix[i+2] = uint8(((x + y) * 3) % 256)
		}
	}
	return img
}

func constantRGB(w, h int, c [3]uint8) *RGB {
	img := NewRGB(w, h)
	for i := 0; i < w*h; i++ {
		copy(img.Pix[3*i:], c[:])
	}
	return img
}

// countDiff compares two byte slices: the largest difference and how many
// bytes differ at all.
func countDiff(a, b []uint8) (maxd, n int) {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		if d > 0 {
			n++
		}
		maxd = max(maxd, d)
	}
	return
}

func TestResizePILGolden(t *testing.T) {
	for _, p := range photos {
		img := openPhoto(t, p)
		want := golden.Tensor(t, "pre/uint8_resize_square224/"+p)
		if len(want.Shape) != 3 || want.Shape[0] != 224 || want.Shape[1] != 224 || want.Shape[2] != 3 {
			t.Fatalf("golden shape %v", want.Shape)
		}
		got := ResizePIL(img, 224, 224, Bicubic)
		wb := make([]uint8, len(want.Ints))
		for i, v := range want.Ints {
			wb[i] = uint8(v)
		}
		maxd, n := countDiff(got.Pix, wb)
		t.Logf("parity pre/uint8_resize_square224/%s: max |Δ| = %d levels, %d of %d bytes differ", p, maxd, n, len(wb))
		if maxd > 1 || n > len(wb)/1000 {
			t.Errorf("%s: PIL bicubic parity: max diff %d, %d bytes differ (allowed: 1 level on 0.1%%)", p, maxd, n)
		}
	}
}

func TestResizeConstant(t *testing.T) {
	c := [3]uint8{17, 130, 250}
	src := constantRGB(37, 23, c)
	sizes := [][2]int{{1, 1}, {5, 3}, {36, 22}, {37, 60}, {100, 7}, {224, 224}, {19, 23}}
	for _, s := range sizes {
		for _, f := range []Filter{Nearest, Box, Bilinear, Hamming, Bicubic, Lanczos} {
			got := ResizePIL(src, s[0], s[1], f)
			if got.W != s[0] || got.H != s[1] {
				t.Fatalf("%v: size %dx%d", f, got.W, got.H)
			}
			for i := 0; i < got.W*got.H; i++ {
				if [3]uint8(got.Pix[3*i:3*i+3]) != c {
					t.Fatalf("PIL %v %dx%d: pixel %d = %v, want %v", f, s[0], s[1], i, got.Pix[3*i:3*i+3], c)
				}
			}
		}
		got := ResizeCV2Linear(src, s[0], s[1])
		for i := 0; i < got.W*got.H; i++ {
			if [3]uint8(got.Pix[3*i:3*i+3]) != c {
				t.Fatalf("cv2 %dx%d: pixel %d = %v, want %v", s[0], s[1], i, got.Pix[3*i:3*i+3], c)
			}
		}
	}
}

func TestResizeIdentityAndIntegerUpscale(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	src := randomRGB(rng, 13, 9)
	for _, f := range []Filter{Nearest, Bilinear, Bicubic, Lanczos} {
		if got := ResizePIL(src, 13, 9, f); string(got.Pix) != string(src.Pix) || &got.Pix[0] == &src.Pix[0] {
			t.Errorf("%v: same-size resize is not a copy", f)
		}
	}
	// Nearest 3× upscale replicates each pixel into a 3×3 block.
	up := ResizePIL(src, 39, 27, Nearest)
	for y := 0; y < 27; y++ {
		for x := 0; x < 39; x++ {
			if up.At(x, y) != src.At(x/3, y/3) {
				t.Fatalf("nearest 3x at (%d,%d) = %v, want %v", x, y, up.At(x, y), src.At(x/3, y/3))
			}
		}
	}
	// Box filter 2× reduction is the rounded 2×2 mean.
	src2 := randomRGB(rng, 8, 6)
	dn := ResizePIL(src2, 4, 3, Box)
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			for c := 0; c < 3; c++ {
				s := int(src2.At(2*x, 2*y)[c]) + int(src2.At(2*x+1, 2*y)[c]) + int(src2.At(2*x, 2*y+1)[c]) + int(src2.At(2*x+1, 2*y+1)[c])
				// Two passes, each rounding half up: mean of row means.
				r0 := (int(src2.At(2*x, 2*y)[c]) + int(src2.At(2*x+1, 2*y)[c]) + 1) / 2
				r1 := (int(src2.At(2*x, 2*y+1)[c]) + int(src2.At(2*x+1, 2*y+1)[c]) + 1) / 2
				want := (r0 + r1 + 1) / 2
				if got := int(dn.At(x, y)[c]); got != want {
					t.Fatalf("box 2x at (%d,%d,%d) = %d, want %d (sum %d)", x, y, c, got, want, s)
				}
			}
		}
	}
}

// A bilinear (triangle) 2× upscale with Pillow's centre alignment puts each
// output pixel at 1/4 or 3/4 between two inputs.
func TestResizePILBilinearUpscale1D(t *testing.T) {
	src := NewRGB(3, 1)
	copy(src.Pix, []uint8{0, 0, 0, 100, 100, 100, 200, 200, 200})
	got := ResizePIL(src, 6, 1, Bilinear)
	// Output centres map to 0.25, 0.75(−0.5 offsets): x_in = (x+0.5)/2 − 0.5.
	want := []uint8{0, 25, 75, 125, 175, 200}
	for x := 0; x < 6; x++ {
		if got.Pix[3*x] != want[x] {
			t.Fatalf("bilinear 2x upscale: %v, want %v", got.Pix, want)
		}
	}
}

func TestResizeCV2LinearKnown(t *testing.T) {
	// 2× upscale of a row: weights 0.75/0.25 (1536/512), borders replicated.
	src := NewRGB(3, 1)
	copy(src.Pix, []uint8{0, 0, 0, 100, 100, 100, 200, 200, 200})
	got := ResizeCV2Linear(src, 6, 1)
	want := []uint8{0, 25, 75, 125, 175, 200}
	for x := 0; x < 6; x++ {
		if got.Pix[3*x] != want[x] || got.Pix[3*x+2] != want[x] {
			t.Fatalf("cv2 2x upscale: %v, want %v", got.Pix, want)
		}
	}
	// Exact 2× reduction: rounded 2×2 mean.
	rng := rand.New(rand.NewSource(2))
	src2 := randomRGB(rng, 10, 6)
	dn := ResizeCV2Linear(src2, 5, 3)
	for y := 0; y < 3; y++ {
		for x := 0; x < 5; x++ {
			for c := 0; c < 3; c++ {
				s := int(src2.At(2*x, 2*y)[c]) + int(src2.At(2*x+1, 2*y)[c]) + int(src2.At(2*x, 2*y+1)[c]) + int(src2.At(2*x+1, 2*y+1)[c])
				if got := int(dn.At(x, y)[c]); got != (s+2)/4 {
					t.Fatalf("cv2 2x down at (%d,%d,%d) = %d, want %d", x, y, c, got, (s+2)/4)
				}
			}
		}
	}
}
