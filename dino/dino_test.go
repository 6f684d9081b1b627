package dino_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/weights"
)

func peak(x []float32) float64 {
	var p float64
	for _, v := range x {
		p = math.Max(p, math.Abs(float64(v)))
	}
	return p
}

// The last block's tokens after the final norm match facebookresearch/dino
// on a 336 window (grid 42 from the stored 28: the positional table is
// interpolated), from both weight layouts.
func TestGoldenTokens(t *testing.T) {
	dir := golden.Path(t, "proxyclip", "tiny-dino")
	in := golden.Proxy(t, "proxy/dino_input")
	want := golden.Proxy(t, "proxy/dino_tokens")
	for _, file := range []string{"model.safetensors", "dino_state_dict.pth"} {
		t.Run(file, func(t *testing.T) {
			m, err := dino.Load(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config
			if c.Width != 96 || c.Layers != 3 || c.Heads != 3 || c.Patch != 8 || c.Grid != 28 || c.MLP != 384 || c.Eps != 1e-6 {
				t.Fatalf("config %+v, want width 96, 3 layers, 3 heads, patch 8, grid 28, MLP 384, eps 1e-6", c)
			}
			got, gh, gw, err := m.Tokens(in.F32, 1, 336, 336)
			if err != nil {
				t.Fatal(err)
			}
			if gh != 42 || gw != 42 {
				t.Fatalf("grid %dx%d, want 42x42", gh, gw)
			}
			golden.AssertClose(t, "proxy/dino_tokens", got, want.F32, 2e-5*peak(want.F32))
		})
	}
}

// Loading the folder picks model.safetensors; its heads come from config.json.
func TestLoadFolder(t *testing.T) {
	m, err := dino.Load(golden.Path(t, "proxyclip", "tiny-dino"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(m.Path) != "model.safetensors" || m.Config.Heads != 3 {
		t.Fatalf("loaded %s with %d heads", m.Path, m.Config.Heads)
	}
}

// A checkpoint whose width is not a multiple of 64 needs a config.json for
// its head count: alone, the error says so.
func TestLoadNeedsHeads(t *testing.T) {
	src := golden.Path(t, "proxyclip", "tiny-dino", "dino_state_dict.pth")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dino.pth")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = dino.Load(p)
	if err == nil || !strings.Contains(err.Error(), "num_attention_heads") {
		t.Fatalf("err = %v, want one naming num_attention_heads", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := dino.Load(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("missing path accepted")
	}
	if _, err := dino.Load(dir); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Fatalf("empty folder: %v", err)
	}
	// A CLIP checkpoint is not a DINO.
	clipFile := golden.Path(t, "tiny-clip", "model.safetensors")
	if _, err := dino.Load(clipFile); err == nil || !strings.Contains(err.Error(), "not a") {
		t.Fatalf("CLIP checkpoint: %v", err)
	}
	// A config.json of another model type is refused by name.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type":"clip"}`), 0o644)
	os.WriteFile(filepath.Join(bad, "model.safetensors"), []byte("x"), 0o644)
	if _, err := dino.Load(bad); err == nil || !strings.Contains(err.Error(), "model_type") {
		t.Fatalf("clip config: %v", err)
	}
}

func TestTokensErrors(t *testing.T) {
	m, err := dino.Load(golden.Path(t, "proxyclip", "tiny-dino"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := m.Tokens(make([]float32, 3*4*4), 1, 4, 4); err == nil {
		t.Fatal("input smaller than a patch accepted")
	}
	if _, _, _, err := m.Tokens(make([]float32, 10), 1, 16, 16); err == nil {
		t.Fatal("short input accepted")
	}
}

// A DINO training checkpoint (teacher.backbone.* and student.backbone.*
// names) loads the teacher.
func TestTeacherPrefix(t *testing.T) {
	f, err := weights.Read(golden.Path(t, "proxyclip", "tiny-dino", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	g := &weights.File{Path: "full_checkpoint.pth", Tensors: map[string]*weights.Tensor{}}
	for n, x := range f.Tensors {
		g.Tensors["teacher.module.backbone."+n] = x
		bad := *x
		bad.F32 = make([]float32, len(x.F32)) // the student differs
		g.Tensors["student.module.backbone."+n] = &bad
	}
	m, err := dino.FromWeights(g, &dino.HFConfig{Heads: 3})
	if err != nil {
		t.Fatal(err)
	}
	in := golden.Proxy(t, "proxy/dino_input")
	want := golden.Proxy(t, "proxy/dino_tokens")
	got, _, _, err := m.Tokens(in.F32, 1, 336, 336)
	if err != nil {
		t.Fatal(err)
	}
	golden.AssertClose(t, "teacher checkpoint tokens", got, want.F32, 2e-5*peak(want.F32))
}
