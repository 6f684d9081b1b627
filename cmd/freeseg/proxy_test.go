package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/weights"
)

// segment and features run proxyclip with a local VFM; β and γ reach the
// settings; a bad γ is a usage error naming it; a missing VFM is an error
// naming it.
func TestProxyCLIPCommands(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	vfm := golden.Path(t, "proxyclip", "tiny-dino")
	img := golden.Path(t, "cases", "chelsea.png")
	out := t.TempDir()
	code, _, errs := run(t, "segment", "--model", model, "--vfm", vfm, "--method", "proxyclip", "--proxy-beta", "1.1",
		"--crop", "336", "--stride", "112", "--classes", "cat; person", "--out", out, "--no-cache", img)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	b, err := os.ReadFile(filepath.Join(out, "chelsea.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Settings["method"] != "proxyclip" || rep.Settings["proxy_beta"] != 1.1 || rep.Settings["proxy_gamma"] != 3.0 {
		t.Fatalf("settings %v", rep.Settings)
	}

	code, _, errs = run(t, "segment", "--model", model, "--vfm", vfm, "--method", "proxyclip", "--proxy-gamma", "-1",
		"--classes", "cat", "--out", t.TempDir(), "--no-cache", img)
	if code == 0 || !strings.Contains(errs, "gamma") {
		t.Fatalf("negative gamma: code %d, %s", code, errs)
	}
	missing := filepath.Join(t.TempDir(), "no-dino")
	code, _, errs = run(t, "segment", "--model", model, "--vfm", missing, "--method", "proxyclip",
		"--classes", "cat", "--out", t.TempDir(), "--no-cache", img)
	if code == 0 || !strings.Contains(errs, "no-dino") {
		t.Fatalf("missing VFM: code %d, %s", code, errs)
	}

	f := filepath.Join(out, "f.safetensors")
	code, _, errs = run(t, "features", "--model", model, "--vfm", vfm, "--method", "proxyclip", "--image", img,
		"--short-side", "336", "--out", f)
	if code != 0 {
		t.Fatalf("features: code %d: %s", code, errs)
	}
	tf, err := weights.ReadSafetensors(f)
	if err != nil {
		t.Fatal(err)
	}
	// 336x505 input: DINO's grid is 42x63, plus CLS.
	if s := tf.Tensors["tokens"].Shape; len(s) != 3 || s[1] != 1+42*63 || s[2] != 64 {
		t.Fatalf("tokens shape %v", s)
	}
}
