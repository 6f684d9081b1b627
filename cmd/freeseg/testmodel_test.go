package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
)

func TestTestModel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	code, _, errs := run(t, "testmodel", "--out", dir)
	if code != 0 || !strings.Contains(errs, "RANDOM") {
		t.Fatalf("code %d: %s", code, errs)
	}
	m, err := clip.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != clip.TinyConfig {
		t.Errorf("loaded config %+v, want %+v", m.Config, clip.TinyConfig)
	}
	// The file holds exactly the tensors of clip.Random with the same seed.
	want, err := clip.Random(clip.TinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, 3*224*224)
	for i := range img {
		img[i] = float32(i%17)/17 - 0.5
	}
	a, err1 := m.EncodeImage(img, 1, 224, 224)
	b, err2 := want.EncodeImage(img, 1, 224, 224)
	if err1 != nil || err2 != nil || len(a) == 0 || !slicesEqual(a, b) {
		t.Errorf("written model's image embedding differs from clip.Random's")
	}
	if readme, _ := os.ReadFile(filepath.Join(dir, "README.txt")); !bytes.Contains(readme, []byte("NOT a trained model")) {
		t.Errorf("README.txt: %q", readme)
	}
	// The model runs the commands.
	out := t.TempDir()
	photo := filepath.Join(out, "p.png")
	var buf bytes.Buffer
	rgb := imageio.NewRGB(64, 48)
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
	}
	if err := imageio.EncodePNG(&buf, rgb); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(photo, buf.Bytes(), 0o644)
	if code, _, errs := run(t, "segment", "--model", dir, "--no-cache", "--templates", "single", "--classes", "cat; dog", "--out", out, photo); code != 0 {
		t.Fatalf("segment with the test model: %d %s", code, errs)
	}
	// A folder with anything in it is refused (it could be a real model).
	if code, _, errs := run(t, "testmodel", "--out", dir); code == 0 || !strings.Contains(errs, "not empty") {
		t.Errorf("second write into %s: code %d %s", dir, code, errs)
	}
	if code, _, _ := run(t, "testmodel"); code != 2 {
		t.Errorf("no --out: code %d, want 2", code)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
