// Package evaltest writes tiny synthetic datasets in the MMSegmentation
// layouts for the tests of eval and of the eval command.
package evaltest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
)

// WriteFile writes data, creating the folders.
func WriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Photo is a deterministic w×h test picture: smooth gradients and a
// bright rectangle whose place depends on seed.
func Photo(w, h, seed int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	x0, y0 := (seed*7)%max(w/2, 1), (seed*5)%max(h/2, 1)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(40 + 150*x/max(w, 1)), uint8(60 + 120*y/max(h, 1)), uint8(90 + 13*seed), 255}
			if x >= x0 && x < x0+w/3 && y >= y0 && y < y0+h/3 {
				c = color.RGBA{230, 220, uint8(30 * seed), 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// WriteImage writes Photo(w, h, seed) as JPEG (.jpg, .jpeg) or PNG.
func WriteImage(t testing.TB, path string, w, h, seed int) {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jpg", ".jpeg":
		err = jpeg.Encode(&b, Photo(w, h, seed), &jpeg.Options{Quality: 95})
	default:
		err = png.Encode(&b, Photo(w, h, seed))
	}
	if err != nil {
		t.Fatal(err)
	}
	WriteFile(t, path, b.Bytes())
}

// PalettePNG encodes a label map as an 8-bit paletted PNG (the VOC
// format) whose colours are unrelated to the indices.
func PalettePNG(t testing.TB, w, h int, pix []uint8) []byte {
	t.Helper()
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.RGBA{uint8(255 - i), uint8(i * 37), uint8(i * 91), 255}
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	copy(img.Pix, pix)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// GreyPNG encodes a label map as an 8-bit greyscale PNG.
func GreyPNG(t testing.TB, w, h int, pix []uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	copy(img.Pix, pix)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Label makes a w×h map: a 255 border of one pixel, and inside it bands
// of values taken in turn from values, shifted by seed.
func Label(w, h, seed int, values []uint8) []uint8 {
	pix := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if x == 0 || y == 0 || x == w-1 || y == h-1 {
				pix[y*w+x] = 255
				continue
			}
			pix[y*w+x] = values[(x/8+y/8+seed)%len(values)]
		}
	}
	return pix
}

// RawValues are the stored label values a benchmark's files may hold
// besides 255: 0..C-1, or 0..C when reduce_zero_label maps them.
func RawValues(s eval.Spec) []uint8 {
	n := s.Classes
	if s.ReduceZeroLabel {
		n++
	}
	v := make([]uint8, n)
	for i := range v {
		v[i] = uint8(i)
	}
	return v
}

// Benchmark writes n images of w×h and their labels in spec's layout
// under root (with the split file when the spec has one) and returns the
// IDs in list order. Labels are palette PNGs for the VOC and Context sets
// and greyscale PNGs for the others, as the converters write them.
// Cityscapes images are spread over two city folders.
func Benchmark(t testing.TB, s eval.Spec, root string, n, w, h int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("img_%03d", i)
		switch s.Name {
		case "cityscapes":
			city := []string{"aachen", "bremen"}[i%2]
			id = fmt.Sprintf("%s/%s_%06d_000019", city, city, i)
		case "voc21", "voc20", "context60", "context59":
			id = fmt.Sprintf("2008_%06d", i)
		case "coco_object", "coco_stuff164k":
			id = fmt.Sprintf("%012d", 139+i)
		case "ade20k":
			id = fmt.Sprintf("ADE_val_%08d", i+1)
		}
		ids = append(ids, id)
		WriteImage(t, filepath.Join(root, s.ImageDir, filepath.FromSlash(id)+s.ImageSuffix), w, h, i)
		pix := Label(w, h, i, RawValues(s))
		var data []byte
		if strings.HasPrefix(s.Name, "voc") || strings.HasPrefix(s.Name, "context") {
			data = PalettePNG(t, w, h, pix)
		} else {
			data = GreyPNG(t, w, h, pix)
		}
		WriteFile(t, filepath.Join(root, s.LabelDir, filepath.FromSlash(id)+s.LabelSuffix), data)
	}
	if s.Split != "" {
		WriteFile(t, filepath.Join(root, s.Split), []byte(strings.Join(ids, "\n")+"\n"))
	}
	return ids
}
