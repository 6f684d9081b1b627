package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/weights"
)

// Issue 11 item 6: explain takes repeated --text flags, positional images
// and --square (with --size kept as a deprecated alias).
func TestExplainFlags(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "astronaut.png")
	out := t.TempDir()
	code, _, errs := run(t, "explain", "--model", model, "--no-cache", "--templates", "single", "--text", "person", "--text", "rocket, sky", "--square", "64", "--out", out, img)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	var rep struct {
		Texts     []string
		Settings  struct{ Square int }
		Generator string
	}
	b, _ := os.ReadFile(filepath.Join(out, "astronaut.explain.json"))
	if err := json.Unmarshal(b, &rep); err != nil || strings.Join(rep.Texts, "|") != "person|rocket|sky" || rep.Settings.Square != 64 || rep.Generator == "" {
		t.Fatalf("report %s: %v", b, err)
	}
	for _, n := range []string{"person", "rocket", "sky"} {
		txt, err := imageio.PNGTextFile(filepath.Join(out, "astronaut.heat."+n+".png"))
		if err != nil || txt[batch.MarkerKey] != "heat" {
			t.Fatalf("heat map %s: %v %v", n, txt, err)
		}
	}
	code, _, errs = run(t, "explain", "--model", model, "--no-cache", "--templates", "single", "--text", "person", "--size", "32", "--out", out, "--image", img)
	if code != 0 || !strings.Contains(errs, "--size is deprecated") {
		t.Fatalf("--size: code %d, %q", code, errs)
	}
	if code, _, errs := run(t, "explain", "--model", model, "--text", "a", "--text", "a", "--out", out, img); code != 2 || !strings.Contains(errs, "twice") {
		t.Fatalf("repeated text: code %d, %q", code, errs)
	}
	// features takes its image positionally too, and gives both sizes as
	// width x height.
	ff := filepath.Join(out, "f.safetensors")
	if code, _, errs := run(t, "features", "--model", model, "--method", "vanilla", "--short-side", "32", "--out", ff, golden.Path(t, "cases", "chelsea.png")); code != 0 {
		t.Fatalf("features: %s", errs)
	}
	tf, err := weights.ReadSafetensors(ff)
	if err != nil {
		t.Fatal(err)
	}
	// chelsea is 451x300: short side 32 gives 48x32 (451·32/300 = 48.1), a
	// grid of 3x2 patches of 16.
	if m := tf.Metadata; m["input"] != "48x32" || m["grid"] != "3x2" || m["size_order"] != "width x height" {
		t.Fatalf("metadata %v", m)
	}
}

// classify reads classes as segment does: ';' separates classes, ','
// synonyms, and a class scores as its best synonym. The expected
// probabilities come from embed's cosines of the same prompts.
func TestClassifySynonyms(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "chelsea.png")
	code, stdout, errs := run(t, "classify", "--model", model, "--no-cache", "--templates", "single", "--top", "0", "--classes", "cat, kitten; dog", img)
	if code != 0 {
		t.Fatalf("classify: %s", errs)
	}
	var got struct {
		Top []struct {
			Class string
			Prob  float64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || len(got.Top) != 2 {
		t.Fatalf("classify output %q: %v", stdout, err)
	}
	code, stdout, errs = run(t, "embed", "--model", model, "--text", "a photo of a cat.", "--text", "a photo of a kitten.", "--text", "a photo of a dog.", img)
	if code != 0 {
		t.Fatalf("embed: %s", errs)
	}
	var emb struct {
		Cosine     [][]float64
		LogitScale float64 `json:"logit_scale"`
	}
	if err := json.Unmarshal([]byte(stdout), &emb); err != nil {
		t.Fatal(err)
	}
	c := emb.Cosine[0]
	a, b := math.Max(c[0], c[1])*emb.LogitScale, c[2]*emb.LogitScale
	want := map[string]float64{"cat": 1 / (1 + math.Exp(b-a)), "dog": 1 / (1 + math.Exp(a-b))}
	for _, x := range got.Top {
		// embed rounds cosines to 1e-6; times the logit scale (100 at most).
		if math.Abs(x.Prob-want[x.Class]) > 1e-3 {
			t.Fatalf("%s: %g, want %g (cosines %v)", x.Class, x.Prob, want[x.Class], c)
		}
	}
}
