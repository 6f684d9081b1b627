package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/internal/golden"
)

// The commands that run the model refuse a network input over the
// command line's limits before any work (the 65,537-token input),
// say how to force it, and write nothing.
func TestCLIBudgetRefusal(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "coffee.png")
	for _, args := range [][]string{
		{"explain", "--model", model, "--image", img, "--text", "cup, table", "--size", "4096", "--templates", "single"},
		{"segment", "--model", model, "--classes", "cup; table", "--square", "4096", "--whole", "--pamr", "0", "--templates", "single", img},
		{"features", "--model", model, "--image", img, "--square", "4096", "--method", "naclip"},
	} {
		out := t.TempDir()
		if args[0] == "features" {
			args = append(args, "--out", filepath.Join(out, "f.safetensors"))
		} else {
			args = append(args, "--out", filepath.Join(out, "o"), "--no-cache")
		}
		code, _, errs := run(t, args...)
		if code == 0 || !strings.Contains(errs, "65537 tokens") || !strings.Contains(errs, "--force") || !strings.Contains(errs, "coffee.png") {
			t.Errorf("%s: code %d, %q", args[0], code, errs)
		}
		var files []string
		filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		if len(files) > 0 {
			t.Errorf("%s wrote %q", args[0], files)
		}
	}
}

// A non-finite logit scale is refused before any output is written (it
// used to write the label map and overlay, then fail on the JSON).
func TestCLINonFiniteRefused(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "coffee.png")
	out := filepath.Join(t.TempDir(), "o")
	code, _, errs := run(t, "segment", "--model", model, "--classes", "cup; table", "--logit-scale", "Inf", "--templates", "single", "--no-cache", "--out", out, img)
	if code == 0 || !strings.Contains(errs, "logit") || !strings.Contains(errs, "finite") {
		t.Fatalf("code %d, %q", code, errs)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("wrote %d files", len(entries))
	}
}

// Inputs over the service's budget but within the command line's are run
// with a warning that gives the estimate.
func TestWarnBudget(t *testing.T) {
	var buf bytes.Buffer
	e := &env{stderr: &buf}
	warnBudget(e, "a.png", freeseg.Budget{Op: "explain", InputW: 1040, InputH: 1040, Passes: 1, Tokens: 4226, GFLOPs: 80, PeakBytes: 3 << 29})
	if !strings.Contains(buf.String(), "warning: a.png: large explain") || !strings.Contains(buf.String(), "4226 tokens") ||
		!strings.Contains(buf.String(), "about 1.5 GiB and 80 GFLOPs") {
		t.Errorf("%q", buf.String())
	}
	buf.Reset()
	warnBudget(e, "a.png", freeseg.Budget{Op: "explain", InputW: 224, InputH: 224, Passes: 1, Tokens: 197, GFLOPs: 5})
	if buf.Len() != 0 {
		t.Errorf("warned for a small input: %q", buf.String())
	}
}
