package clip

import (
	"github.com/freeseg/freeseg/internal/golden"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A random model with the exact GELU applies it in every MLP: one block's
// MLPResidual equals a float64 reference computed here from the raw weights
// with math.Erf, and the QuickGELU model of the same weights does not.
func TestGELUModelAppliesGELU(t *testing.T) {
	c := Config{VisionWidth: 64, VisionLayers: 2, VisionHeads: 1, Patch: 16, Grid: 2, EmbedDim: 32,
		TextWidth: 64, TextLayers: 1, TextHeads: 1, ContextLength: 77, VocabSize: 49408, Act: ActGELU}
	m, err := Random(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Act != ActGELU || !m.Vision.Blocks[1].GELU || !m.Text.Blocks[0].GELU {
		t.Fatalf("activation not set: %q", m.Config.Act)
	}
	raw, err := randomTensors(c, 7) // the same weights, unpacked
	if err != nil {
		t.Fatal(err)
	}
	const rows, D, H = 3, 64, 256
	x := make([]float32, rows*D)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 2
	}
	fc := raw["visual.transformer.resblocks.1.mlp.c_fc.weight"].F32     // [H, D]
	proj := raw["visual.transformer.resblocks.1.mlp.c_proj.weight"].F32 // [D, H]
	ref := func(act func(float64) float64) []float32 {
		out := make([]float32, rows*D)
		for r := 0; r < rows; r++ {
			xr := x[r*D : (r+1)*D]
			var mean, v float64
			for _, a := range xr {
				mean += float64(a)
			}
			mean /= D
			for _, a := range xr {
				v += (float64(a) - mean) * (float64(a) - mean)
			}
			inv := 1 / math.Sqrt(v/D+1e-5) // layer norms are at identity
			h := make([]float64, H)
			for j := 0; j < H; j++ {
				var s float64
				for k := 0; k < D; k++ {
					s += (float64(xr[k]) - mean) * inv * float64(fc[j*D+k])
				}
				h[j] = act(s)
			}
			for k := 0; k < D; k++ {
				s := float64(xr[k])
				for j := 0; j < H; j++ {
					s += h[j] * float64(proj[k*H+j])
				}
				out[r*D+k] = float32(s)
			}
		}
		return out
	}
	gelu := ref(func(z float64) float64 { return z / 2 * (1 + math.Erf(z/math.Sqrt2)) })
	quick := ref(func(z float64) float64 { return z / (1 + math.Exp(-1.702*z)) })

	run := func(exact bool) []float32 {
		y := append([]float32(nil), x...)
		blk := m.Vision.Blocks[1]
		blk.GELU = exact
		ws := GetWorkspace()
		defer PutWorkspace(ws)
		blk.MLPResidual(ws, y, rows)
		return y
	}
	maxDiff := func(a, b []float32) float64 {
		var d float64
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		}
		return d
	}
	got := run(true)
	if d := maxDiff(got, gelu); d > 1e-5 {
		t.Fatalf("GELU MLP differs from the reference by %g", d)
	}
	if d := maxDiff(run(false), quick); d > 1e-5 {
		t.Fatalf("QuickGELU MLP differs from its reference by %g", d)
	}
	if d := maxDiff(gelu, quick); d < 1e-4 {
		t.Fatalf("the two references differ by only %g: the test cannot tell the activations apart", d)
	}
}

// ViT-H/14 (open_clip, LAION-2B) is recognised from its shapes, with 16
// vision heads of width 80 (not 1280/64 = 20).
func TestInferViTH14(t *testing.T) {
	want, err := Arch("ViT-H/14")
	if err != nil {
		t.Fatal(err)
	}
	got, err := InferConfig("h14", shapesOf(want))
	if err != nil {
		t.Fatal(err)
	}
	want.Act = "" // not in the shapes; read from the folder's configuration
	if got != want || got.VisionHeads != 16 || got.TextHeads != 16 || got.Name() != "ViT-H/14" {
		t.Fatalf("inferred %+v (%s), want %+v", got, got.Name(), want)
	}
}

// The activation comes from config.json's hidden_act, or from
// open_clip_config.json (GELU unless quick_gelu is set); without either an
// OpenAI checkpoint keeps QuickGELU.
func TestLoadActivation(t *testing.T) {
	src := golden.Path(t, "tiny-clip", "model.safetensors")
	folder := func(files map[string]string) string {
		d := t.TempDir()
		if err := os.Symlink(src, filepath.Join(d, "model.safetensors")); err != nil {
			t.Fatal(err)
		}
		for n, s := range files {
			if err := os.WriteFile(filepath.Join(d, n), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	cases := []struct {
		files map[string]string
		act   string
		heads int
		err   string
	}{
		{nil, ActQuickGELU, 2, ""},
		{map[string]string{"config.json": `{"text_config":{"hidden_act":"gelu"},"vision_config":{"hidden_act":"gelu","num_attention_heads":4}}`}, ActGELU, 4, ""},
		{map[string]string{"config.json": `{"text_config":{"hidden_act":"quick_gelu"},"vision_config":{"hidden_act":"quick_gelu"}}`}, ActQuickGELU, 2, ""},
		{map[string]string{"open_clip_config.json": `{"model_cfg":{"embed_dim":64}}`}, ActGELU, 2, ""},
		{map[string]string{"open_clip_config.json": `{"model_cfg":{"quick_gelu":true}}`}, ActQuickGELU, 2, ""},
		{map[string]string{"config.json": `{"vision_config":{"hidden_act":"relu"}}`}, "", 0, `hidden_act "relu"`},
		{map[string]string{"config.json": `{"vision_config":{"num_attention_heads":3}}`}, "", 0, "does not divide"},
		{map[string]string{"config.json": `{"vision_config":`}, "", 0, "config.json"},
	}
	for i, c := range cases {
		m, err := Load(folder(c.files))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("case %d: err %v, want %q", i, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if m.Config.Act != c.act || m.Vision.Blocks[0].GELU != (c.act == ActGELU) || m.Text.Blocks[2].GELU != (c.act == ActGELU) ||
			m.Vision.Blocks[7].Heads != c.heads || m.Config.VisionHeads != c.heads {
			t.Errorf("case %d: act %q heads %d, want %q, %d", i, m.Config.Act, m.Vision.Blocks[7].Heads, c.act, c.heads)
		}
	}
}
