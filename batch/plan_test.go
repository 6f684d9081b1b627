package batch

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
)

func writePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := imageio.EncodePNG(f, imageio.NewRGB(w, h)); err != nil {
		t.Fatal(err)
	}
}

func TestNewPlan(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.png", "b.png", "c.png"} {
		writePNG(t, filepath.Join(in, n), 8, 8)
	}
	if err := os.WriteFile(filepath.Join(in, "broken.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	var expanded, warned int
	o := PlanOptions{Out: out, Suffixes: []string{".labels.png"},
		Expanded: func(n, skipped int) error { expanded = n; return nil },
		Check: func(in *Input, limit int64, why string) (string, error) {
			if limit <= 0 || why == "" {
				t.Errorf("memory limit %d (%q)", limit, why)
			}
			if filepath.Base(in.Path) == "b.png" {
				return "b is large", nil
			}
			_, err := imageio.Probe(in.Path)
			return "", err
		},
		Warn: func(string) { warned++ }}
	p, err := NewPlan([]string{in}, o)
	if err != nil {
		t.Fatal(err)
	}
	var todo []string
	for _, in := range p.Todo {
		todo = append(todo, filepath.Base(in.Path))
	}
	if expanded != 4 || warned != 1 || !slices.Equal(todo, []string{"a.png", "b.png", "c.png"}) || len(p.Fails.List) != 1 || p.Fails.Total != 4 {
		t.Errorf("expanded %d, warned %d, todo %v, failures %v of %d", expanded, warned, todo, p.Fails.List, p.Fails.Total)
	}
	// Strict: the broken image stops the plan; Expanded's error too.
	o.Strict = true
	if _, err := NewPlan([]string{in}, o); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("strict: %v, want the broken image's error", err)
	}
	o.Expanded = func(int, int) error { return freeseg.Usagef("stop") }
	if _, err := NewPlan([]string{in}, o); !errors.Is(err, freeseg.ErrUsage) {
		t.Errorf("Expanded's error: %v", err)
	}
}

func TestHoldsPatch(t *testing.T) {
	check := HoldsPatch(16)
	if _, err := check(&Input{Path: "x.png", InW: 16, InH: 16}); err != nil {
		t.Errorf("16x16: %v", err)
	}
	if _, err := check(&Input{Path: "x.png", InW: 15, InH: 40}); err == nil || !strings.Contains(err.Error(), "x.png") {
		t.Errorf("15x40: %v, want an error naming the image", err)
	}
}

func TestCheckOutDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutDir(filepath.Join(dir, "new", "deeper")); err != nil {
		t.Errorf("a folder to create: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the check created the folder")
	}
	if err := CheckOutDir(file); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("a file: %v", err)
	}
	if err := CheckOutDir(filepath.Join(file, "sub")); err == nil || !strings.Contains(err.Error(), "f/sub") {
		t.Errorf("below a file: %v", err)
	}
	if err := CheckOutDir(""); !errors.Is(err, freeseg.ErrUsage) {
		t.Errorf("no folder: %v, want a usage error", err)
	}
	if err := CheckImages(nil, true, -1); !errors.Is(err, freeseg.ErrUsage) {
		t.Errorf("negative memory bound: %v, want a usage error", err)
	}
}
