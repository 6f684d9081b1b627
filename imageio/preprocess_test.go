package imageio

import (
	"math/rand"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
)

// compareTensor logs and checks a preprocessed tensor against golden data:
// max |Δ| and how many elements differ at all. One uint8 level is
// 1/255/std ≈ 0.015 after CLIP normalisation, ≈ 0.015 after mmseg's.
func compareTensor(t *testing.T, key string, got []float32, tol float64) {
	t.Helper()
	want := golden.Tensor(t, key)
	if len(got) != len(want.F32) {
		t.Fatalf("%s: %d values, want %d (shape %v)", key, len(got), len(want.F32), want.Shape)
	}
	d := numtest.AssertClose(t, key, got, want.F32, tol)
	t.Logf("%s: %d of %d elements differ", key, d.Differ, d.N)
}

func TestPreprocessGolden(t *testing.T) {
	for _, p := range photos {
		img := openPhoto(t, p)
		compareTensor(t, "pre/openai224/"+p, PreprocessOpenAI(img, 224), 1e-2)
		compareTensor(t, "pre/square224/"+p, PreprocessSquare(img, 224), 1e-2)
		compareTensor(t, "pre/square320/"+p, PreprocessSquare(img, 320), 1e-2)
	}
}

// The normalisation alone, on the golden uint8 resize, must reproduce the
// golden tensor to the bit: same float32 operations as torchvision.
func TestNormalizeCLIPExact(t *testing.T) {
	for _, p := range photos {
		u8 := golden.Tensor(t, "pre/uint8_resize_square224/"+p)
		img := NewRGB(224, 224)
		for i, v := range u8.Ints {
			img.Pix[i] = uint8(v)
		}
		compareTensor(t, "pre/square224/"+p, NormalizeCLIP(img), 0)
	}
}

func TestPreprocessMMSegGolden(t *testing.T) {
	img := openPhoto(t, "chelsea")
	want := golden.Tensor(t, "seg/input")
	data, w, h := PreprocessMMSegPIL(img, 336)
	if want.Shape[2] != h || want.Shape[3] != w {
		t.Fatalf("keep-ratio size %dx%d, golden %v", w, h, want.Shape)
	}
	// Pillow bilinear: the path the golden data was made with.
	compareTensor(t, "seg/input", data, 1e-6)
	// cv2 bilinear: what mmseg does; within about one level of Pillow's.
	cv, w2, h2 := PreprocessMMSeg(img, 336)
	if w2 != w || h2 != h {
		t.Fatalf("cv2 path size %dx%d", w2, h2)
	}
	compareTensor(t, "seg/input", cv, 1.01/66.632*2)
}

func TestShapesAndSizes(t *testing.T) {
	cases := []struct{ w, h, n, ww, wh int }{
		{451, 300, 224, 336, 224}, // int(224*451/300) = 336
		{300, 451, 224, 224, 336},
		{500, 375, 224, 298, 224}, // 298.67 truncated
		{224, 224, 224, 224, 224},
		{1, 1000, 7, 7, 7000},
	}
	for _, c := range cases {
		if w, h := ShortSideSize(c.w, c.h, c.n); w != c.ww || h != c.wh {
			t.Errorf("ShortSideSize(%d,%d,%d) = %d,%d want %d,%d", c.w, c.h, c.n, w, h, c.ww, c.wh)
		}
	}
	// Python round() is half-to-even: (336-224)/2 = 56; (299-224)/2 = 37.5 → 38;
	// (297-224)/2 = 36.5 → 36; (225-224)/2 = 0.5 → 0; (227-224)/2 = 1.5 → 2.
	for _, c := range [][2]int{{336, 56}, {299, 38}, {297, 36}, {225, 0}, {227, 2}, {224, 0}} {
		if l, top := CenterCropOffset(c[0], 224, 224, 224); l != c[1] || top != 0 {
			t.Errorf("CenterCropOffset(%d) = %d,%d want %d,0", c[0], l, top, c[1])
		}
	}
	ks := []struct{ w, h, short, long, ww, wh int }{
		{451, 300, 336, 2048, 505, 336}, // factor 1.12: 505.12 → 505
		{300, 451, 336, 2048, 336, 505},
		{500, 375, 336, 2048, 448, 336},
		{640, 480, 448, 2048, 597, 448},  // 597.33
		{4000, 100, 336, 2048, 2048, 51}, // long side bound wins: 51.2
		{2000, 1000, 512, 2048, 1024, 512},
	}
	for _, c := range ks {
		if w, h := KeepRatioSize(c.w, c.h, c.short, c.long); w != c.ww || h != c.wh {
			t.Errorf("KeepRatioSize(%d,%d,%d,%d) = %d,%d want %d,%d", c.w, c.h, c.short, c.long, w, h, c.ww, c.wh)
		}
	}
	img := smoothRGB(rand.New(rand.NewSource(3)), 97, 61)
	if d := PreprocessOpenAI(img, 32); len(d) != 3*32*32 {
		t.Errorf("PreprocessOpenAI length %d", len(d))
	}
	if d := PreprocessSquare(img, 40); len(d) != 3*40*40 {
		t.Errorf("PreprocessSquare length %d", len(d))
	}
	if d, w, h := PreprocessMMSeg(img, 50); len(d) != 3*w*h || h != 50 || w != 80 {
		t.Errorf("PreprocessMMSeg: %d values, %dx%d", len(d), w, h)
	}
}

func TestNormalizeValues(t *testing.T) {
	img := constantRGB(2, 1, [3]uint8{0, 255, 128})
	d := NormalizeCLIP(img)
	// Planar: R plane, then G, then B.
	wantR := (float32(0)/255 - CLIPMean[0]) / CLIPStd[0]
	wantG := (float32(255)/255 - CLIPMean[1]) / CLIPStd[1]
	wantB := (float32(128)/255 - CLIPMean[2]) / CLIPStd[2]
	if d[0] != wantR || d[1] != wantR || d[2] != wantG || d[4] != wantB {
		t.Errorf("NormalizeCLIP = %v", d)
	}
	m := NormalizeMMSeg(img)
	if m[0] != (0-MMSegMean[0])/MMSegStd[0] || m[2] != (255-MMSegMean[1])/MMSegStd[1] {
		t.Errorf("NormalizeMMSeg = %v", m)
	}
}
