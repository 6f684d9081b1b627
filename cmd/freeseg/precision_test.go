package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/tensor/gemm"
	"github.com/freeseg/freeseg/weights"
)

// --precision bf16 runs the model with bf16 weights: the features differ
// from the fp32 ones by bf16 rounding (a little, not nothing); a bad value
// is a usage error naming the flag.
func TestPrecisionFlag(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "coffee.png")
	dir := t.TempDir()
	var notes strings.Builder // loadModel's notes go to modelLog
	old := modelLog
	modelLog = &notes
	t.Cleanup(func() { modelLog = old })
	feats := map[string][]float32{}
	for _, p := range []string{"fp32", "bf16"} {
		out := filepath.Join(dir, p+".safetensors")
		code, _, errs := run(t, "features", "--model", model, "--image", img, "--method", "sclip", "--square", "224", "--precision", p, "--out", out)
		if code != 0 {
			t.Fatalf("--precision %s: code %d: %s", p, code, errs)
		}
		if p == "bf16" && (gemm.BF16Kernel() == "emulated") != strings.Contains(notes.String(), "not faster") {
			t.Errorf("bf16 on kernel %s: notes %q", gemm.BF16Kernel(), notes.String())
		}
		f, err := weights.ReadSafetensors(out)
		if err != nil {
			t.Fatal(err)
		}
		feats[p] = f.Tensors["tokens"].F32
	}
	a, b := feats["fp32"], feats["bf16"]
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("features of %d and %d values", len(a), len(b))
	}
	var d, peak float64
	for i := range a {
		d = max(d, float64(abs32(a[i]-b[i])))
		peak = max(peak, float64(abs32(a[i])))
	}
	if !(d > 0 && d < 0.1*peak) {
		t.Errorf("bf16 features differ from fp32 by %g (peak %g): want a small nonzero difference", d, peak)
	}
	code, _, errs := run(t, "features", "--model", model, "--image", img, "--square", "224", "--precision", "fp16", "--out", filepath.Join(dir, "x.safetensors"))
	if code != 2 || !strings.Contains(errs, "precision") {
		t.Fatalf("--precision fp16: code %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.safetensors")); err == nil {
		t.Errorf("an output was written despite the bad flag")
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
