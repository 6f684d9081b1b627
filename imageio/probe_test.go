package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/bomb"
)

func TestProbeBombsReadsHeaderOnly(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ w, h int }{{19000, 19000}, {7000, 7000}} {
		data := bomb.PNG1Bit(c.w, c.h)
		p := filepath.Join(dir, "bomb.png")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h, err := Probe(p)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%dx%d: %v", c.w, c.h, err)
		}
		if h.Width != c.w || h.Height != c.h || h.Format != "png" || h.BytesPerPixel != 1 || h.FileSize != int64(len(data)) {
			t.Fatalf("header %+v for a %d-byte %dx%d grey PNG", h, len(data), c.w, c.h)
		}
		// The decode would allocate w·h bytes for the grey image and 3·w·h for
		// RGB; the probe must allocate almost nothing.
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Fatalf("probing %dx%d allocated %d bytes", c.w, c.h, got)
		}
		if want := int64(len(data)) + 4*int64(c.w)*int64(c.h); h.DecodeBytes() != want {
			t.Fatalf("DecodeBytes %d, want %d", h.DecodeBytes(), want)
		}
	}
}

func TestProbeRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	huge := write("huge.png", bomb.PNG1Bit(20000, 20000))
	if _, err := Probe(huge); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "huge.png") {
		t.Fatalf("20000x20000: %v", err)
	}
	for name, b := range map[string][]byte{"empty.png": nil, "text.png": []byte("hello, not an image"), "cut.png": bomb.PNG1Bit(10, 10)[:20]} {
		if _, err := Probe(write(name, b)); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := Probe(dir); err == nil {
		t.Fatal("a folder was probed as an image")
	}
	var rgba bytes.Buffer
	png.Encode(&rgba, image.NewNRGBA(image.Rect(0, 0, 3, 2)))
	h, err := Probe(write("rgba.png", rgba.Bytes()))
	if err != nil || h.BytesPerPixel != 4 || h.Width != 3 || h.Height != 2 {
		t.Fatalf("rgba: %+v %v", h, err)
	}
}

func TestFitLongSide(t *testing.T) {
	for _, c := range []struct{ w, h, m, ww, wh int }{
		{4000, 3000, 1000, 1000, 750},
		{3000, 4000, 1000, 750, 1000},
		{800, 600, 1000, 800, 600},
		{800, 600, 0, 800, 600},
		{20000, 1, 2048, 2048, 1}, // never below one pixel
	} {
		if w, h := FitLongSide(c.w, c.h, c.m); w != c.ww || h != c.wh {
			t.Fatalf("FitLongSide(%d,%d,%d) = %dx%d, want %dx%d", c.w, c.h, c.m, w, h, c.ww, c.wh)
		}
	}
}
