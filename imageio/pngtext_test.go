package imageio

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestPNGTextRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w, err := WithPNGText(&b, "freeseg", "labels")
	if err != nil {
		t.Fatal(err)
	}
	img := NewRGB(5, 4)
	img.Set(2, 1, [3]uint8{10, 20, 30})
	if err := EncodePNG(w, img); err != nil {
		t.Fatal(err)
	}
	// Still a valid PNG with the same pixels (the chunk CRC is checked by
	// Go's decoder, so a wrong CRC would fail here).
	m, err := png.Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r, g, bl, _ := m.At(2, 1).RGBA(); r>>8 != 10 || g>>8 != 20 || bl>>8 != 30 {
		t.Fatalf("pixel changed: %d %d %d", r>>8, g>>8, bl>>8)
	}
	// The chunk sits right after IHDR: signature 8 + IHDR 25.
	if got := string(b.Bytes()[37:41]); got != "tEXt" {
		t.Fatalf("chunk after IHDR is %q", got)
	}
	txt, err := ReadPNGText(bytes.NewReader(b.Bytes()))
	if err != nil || len(txt) != 1 || txt["freeseg"] != "labels" {
		t.Fatalf("ReadPNGText: %v %v", txt, err)
	}
	// A PNG without the chunk has none; a non-PNG is an error.
	var plain bytes.Buffer
	png.Encode(&plain, image.NewGray(image.Rect(0, 0, 2, 2)))
	if txt, err := ReadPNGText(bytes.NewReader(plain.Bytes())); err != nil || len(txt) != 0 {
		t.Fatalf("plain PNG: %v %v", txt, err)
	}
	if _, err := ReadPNGText(bytes.NewReader([]byte("GIF89a......"))); err == nil {
		t.Fatal("a GIF was read as a PNG")
	}
	for _, k := range []string{"", string(make([]byte, 80)), "tab\there"} {
		if _, err := WithPNGText(&b, k, "x"); err == nil {
			t.Fatalf("keyword %q accepted", k)
		}
	}
	if _, err := WithPNGText(&b, "k", "a\x00b"); err == nil {
		t.Fatal("text with a zero byte accepted")
	}
	var bad bytes.Buffer
	w, _ = WithPNGText(&bad, "k", "v")
	if _, err := w.Write(bytes.Repeat([]byte("x"), 40)); err == nil {
		t.Fatal("a stream that is not a PNG was accepted")
	}
}

func TestWriteGray16PNG(t *testing.T) {
	labels := []int32{0, 1, 255, 256, 300, 65535}
	var b bytes.Buffer
	if err := WriteGray16PNG(&b, labels, 3, 2); err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := m.(*image.Gray16)
	if !ok {
		t.Fatalf("decoded as %T, want *image.Gray16", m)
	}
	for i, l := range labels {
		if v := g.Gray16At(i%3, i/3).Y; int32(v) != l {
			t.Fatalf("pixel %d: %d, want %d", i, v, l)
		}
	}
	if err := WriteGray16PNG(&b, []int32{70000}, 1, 1); err == nil {
		t.Fatal("label 70000 accepted")
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a.labels.png")
	files := map[string]bool{
		".a.labels.png.tmp123456": true,  // a killed write of this output: removed
		".a.labels.png.tmp9":      true,  // likewise
		".a.labels.png.tmpx1":     false, // not CreateTemp's pattern
		".b.labels.png.tmp77":     false, // another output's
		"a.labels.png.tmp77":      false, // no leading dot
		"a.labels.png":            false, // the output itself
	}
	for n := range files {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	removed, err := RemoveStaleTemps([]string{out, filepath.Join(dir, "missing", "x.png")})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Fatalf("removed %v", removed)
	}
	for n, gone := range files {
		_, err := os.Stat(filepath.Join(dir, n))
		if gone != os.IsNotExist(err) {
			t.Fatalf("%s: removed %v, want %v", n, os.IsNotExist(err), gone)
		}
	}
	// WriteFileAtomic's own temporaries match the pattern.
	f, _ := os.CreateTemp(dir, ".c.json.tmp*")
	f.Close()
	if !IsTempOf(filepath.Base(f.Name()), filepath.Join(dir, "c.json")) {
		t.Fatalf("%s not recognised", f.Name())
	}
}
