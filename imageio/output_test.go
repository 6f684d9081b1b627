package imageio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPaletteVOC(t *testing.T) {
	p := Palette(256)
	want := [][3]uint8{{0, 0, 0}, {128, 0, 0}, {0, 128, 0}, {128, 128, 0}, {0, 0, 128}, {128, 0, 128}, {0, 128, 128}, {128, 128, 128}, {64, 0, 0}, {192, 0, 0}}
	for i, w := range want {
		if p[i] != w {
			t.Errorf("Palette[%d] = %v, want %v", i, p[i], w)
		}
	}
	// VOC's 20 classes end with tvmonitor (0,64,128); index 255 (the ignore
	// label) is (224,224,192).
	if p[20] != [3]uint8{0, 64, 128} || p[255] != [3]uint8{224, 224, 192} {
		t.Errorf("Palette[20] = %v, Palette[255] = %v", p[20], p[255])
	}
	seen := map[[3]uint8]bool{}
	for _, c := range p {
		if seen[c] {
			t.Fatalf("colour %v repeated", c)
		}
		seen[c] = true
	}
}

func TestWritePalettePNG(t *testing.T) {
	labels := []int32{0, 1, 2, 3, 4, 5, 20, 1, 0, 0, 2, 2}
	var buf bytes.Buffer
	if err := WritePalettePNG(&buf, labels, 4, 3, Palette(21)); err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	pm, ok := m.(*image.Paletted)
	if !ok {
		t.Fatalf("decoded as %T, want *image.Paletted", m)
	}
	for i, l := range labels {
		if int(pm.Pix[pm.PixOffset(i%4, i/4)]) != int(l) {
			t.Fatalf("pixel %d = %d, want %d", i, pm.Pix[i], l)
		}
	}
	if r, g, b, _ := pm.Palette[1].RGBA(); r>>8 != 128 || g != 0 || b != 0 {
		t.Errorf("PLTE[1] = %v", pm.Palette[1])
	}
	// uint8 labels work too; out-of-palette and negative labels are errors.
	if err := WritePalettePNG(io.Discard, []uint8{0, 1}, 2, 1, Palette(2)); err != nil {
		t.Error(err)
	}
	if err := WritePalettePNG(io.Discard, []int32{0, 2}, 2, 1, Palette(2)); err == nil {
		t.Error("label outside the palette accepted")
	}
	if err := WritePalettePNG(io.Discard, []int32{-1, 0}, 2, 1, Palette(2)); err == nil {
		t.Error("negative label accepted")
	}
	if err := WritePalettePNG(io.Discard, []int32{0}, 2, 1, Palette(2)); err == nil {
		t.Error("wrong label count accepted")
	}
	if err := WritePalettePNG(io.Discard, []int32{0, 0}, 2, 1, Palette(257)); err == nil {
		t.Error("257-colour palette accepted")
	}
}

func TestOverlay(t *testing.T) {
	img := constantRGB(3, 1, [3]uint8{100, 200, 50})
	pal := [][3]uint8{{0, 0, 0}, {255, 0, 10}}
	out := Overlay(img, []int32{1, 0, -1}, pal, 0.5)
	// 100·0.5 + 255·0.5 = 177.5 → 177 (truncation, as mmseg's astype)
	if got := out.At(0, 0); got != [3]uint8{177, 100, 30} {
		t.Errorf("overlay label 1 = %v", got)
	}
	if got := out.At(1, 0); got != [3]uint8{50, 100, 25} {
		t.Errorf("overlay label 0 = %v", got)
	}
	if got := out.At(2, 0); got != [3]uint8{100, 200, 50} {
		t.Errorf("ignore label changed the pixel: %v", got)
	}
	if img.At(0, 0) != [3]uint8{100, 200, 50} {
		t.Error("Overlay modified its input")
	}
}

func TestDrawLegend(t *testing.T) {
	img := constantRGB(40, 10, [3]uint8{10, 20, 30})
	names := []string{"background", "cat", "person in shirt"}
	cols := [][3]uint8{{0, 0, 0}, {128, 0, 0}, {0, 128, 0}}
	out := DrawLegend(img, names, cols)
	if out.W <= img.W || out.H < img.H || out.H < len(names)*legendRow {
		t.Fatalf("legend canvas %dx%d for a %dx%d photo", out.W, out.H, img.W, img.H)
	}
	// The photo is untouched.
	for y := 0; y < img.H; y++ {
		for x := 0; x < img.W; x++ {
			if out.At(x, y) != img.At(x, y) {
				t.Fatalf("photo pixel (%d,%d) covered: %v", x, y, out.At(x, y))
			}
		}
	}
	// Each swatch holds its colour; each name leaves dark text pixels.
	for i, c := range cols {
		y := legendPad + i*legendRow + legendRow/2
		x := img.W + legendPad + legendSwatch/2
		if out.At(x, y) != c {
			t.Errorf("swatch %d at (%d,%d) = %v, want %v", i, x, y, out.At(x, y), c)
		}
		dark := 0
		for yy := legendPad + i*legendRow; yy < legendPad+(i+1)*legendRow; yy++ {
			for xx := img.W + legendPad + legendSwatch + legendGap; xx < out.W; xx++ {
				if p := out.At(xx, yy); p[0] < 128 {
					dark++
				}
			}
		}
		if dark < 5*len(names[i]) {
			t.Errorf("name %q: only %d dark pixels", names[i], dark)
		}
	}
	// Below the photo (the canvas grew), the area is white.
	if out.At(0, out.H-1) != [3]uint8{255, 255, 255} {
		t.Errorf("padding under the photo = %v", out.At(0, out.H-1))
	}
}

// The full table written by testdata/gen_reference.py from
// cv2.applyColorMap(COLORMAP_JET).
func TestJetMatchesOpenCV(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "jet_opencv.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		var v, r, g, b int
		if _, err := fmt.Sscan(line, &v, &r, &g, &b); err != nil {
			t.Fatal(err)
		}
		if got := Jet(uint8(v)); got != [3]uint8{uint8(r), uint8(g), uint8(b)} {
			t.Errorf("Jet(%d) = %v, OpenCV %d %d %d", v, got, r, g, b)
		}
		n++
	}
	if n != 256 {
		t.Fatalf("%d table lines", n)
	}
	// Landmarks: dark blue, blue, cyan-ish, yellow-ish, red, dark red.
	for _, c := range []struct {
		v    uint8
		want [3]uint8
	}{{0, [3]uint8{0, 0, 128}}, {32, [3]uint8{0, 0, 255}}, {96, [3]uint8{2, 255, 254}}, {160, [3]uint8{255, 252, 0}}, {224, [3]uint8{252, 0, 0}}, {255, [3]uint8{128, 0, 0}}} {
		if got := Jet(c.v); got != c.want {
			t.Errorf("Jet(%d) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestHeatOverlay(t *testing.T) {
	if HeatByte(0.5) != 127 || HeatByte(1) != 255 || HeatByte(0) != 0 || HeatByte(-3) != 0 || HeatByte(7) != 255 || HeatByte(0.999) != 254 {
		t.Errorf("HeatByte: %d %d %d", HeatByte(0.5), HeatByte(1), HeatByte(0.999))
	}
	if JetColormap(1) != Jet(255) || JetColormap(0.5) != Jet(127) {
		t.Error("JetColormap")
	}
	img := constantRGB(2, 1, [3]uint8{200, 100, 0})
	out := HeatOverlay(img, []float32{0, 1})
	// 0.4·200 + 0.6·0 = 80; 0.4·100 = 40; 0.6·128 = 76.8 → 76
	if got := out.At(0, 0); got != [3]uint8{80, 40, 76} {
		t.Errorf("HeatOverlay cold = %v", got)
	}
	// red 128: 80 + 76.8 = 156.8 → 156
	if got := out.At(1, 0); got != [3]uint8{156, 40, 0} {
		t.Errorf("HeatOverlay hot = %v", got)
	}
}

func TestEncodePNGRoundTrip(t *testing.T) {
	img := smoothRGB(newRng(4), 13, 7)
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img); err != nil {
		t.Fatal(err)
	}
	back, meta, err := Decode(&buf, "roundtrip.png")
	if err != nil {
		t.Fatal(err)
	}
	if meta.Format != "png" || !bytes.Equal(back.Pix, img.Pix) {
		t.Error("PNG round trip changed the image")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A failing writer leaves the old file and no temporary behind.
	boom := errors.New("boom")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the writer's", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("old file now %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if string(b) != "new" || st.Mode().Perm() != 0o644 {
		t.Fatalf("content %q mode %v", b, st.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x.png"), func(io.Writer) error { return nil }); err == nil {
		t.Error("write into a missing folder succeeded")
	}
}
