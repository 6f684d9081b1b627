package clip

import (
	"math"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/weights"
)

// shapesOf turns a configuration into the canonical tensor shapes of its
// checkpoint (no data), as OpenAI's state dicts have them.
func shapesOf(c Config) map[string]*weights.Tensor {
	w := map[string]*weights.Tensor{}
	add := func(name string, shape ...int) { w[name] = &weights.Tensor{Name: name, DType: "F32", Shape: shape} }
	D, Dt := c.VisionWidth, c.TextWidth
	add("visual.conv1.weight", D, 3, c.Patch, c.Patch)
	add("visual.positional_embedding", 1+c.Grid*c.Grid, D)
	for i := 0; i < c.VisionLayers; i++ {
		add("visual.transformer.resblocks."+itoa(i)+".attn.in_proj_weight", 3*D, D)
	}
	for i := 0; i < c.TextLayers; i++ {
		add("transformer.resblocks."+itoa(i)+".attn.in_proj_weight", 3*Dt, Dt)
	}
	add("text_projection", Dt, c.EmbedDim)
	add("ln_final.weight", Dt)
	add("positional_embedding", c.ContextLength, Dt)
	add("token_embedding.weight", c.VocabSize, Dt)
	return w
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// Every published architecture is recognised from its tensor shapes alone.
func TestInferConfigPublishedArchitectures(t *testing.T) {
	for _, name := range []string{"ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336"} {
		want, err := Arch(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := InferConfig(name, shapesOf(want))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s: inferred %+v, want %+v", name, got, want)
		}
		if got.Name() != name {
			t.Fatalf("inferred config named %q, want %q", got.Name(), name)
		}
	}
}

func TestBuildErrorsNameTheTensor(t *testing.T) {
	c := Config{VisionWidth: 64, VisionLayers: 2, VisionHeads: 1, Patch: 16, Grid: 2, EmbedDim: 32,
		TextWidth: 64, TextLayers: 1, TextHeads: 1, ContextLength: 77, VocabSize: 49408}
	cases := []struct {
		name   string
		break_ func(w map[string]*weights.Tensor)
		want   string
	}{
		{"missing", func(w map[string]*weights.Tensor) { delete(w, "visual.ln_post.weight") }, `missing tensor "visual.ln_post.weight"`},
		{"wrong shape", func(w map[string]*weights.Tensor) {
			t := w["visual.transformer.resblocks.1.mlp.c_fc.weight"]
			t.Shape = []int{t.Shape[1], t.Shape[0]}
		}, `"visual.transformer.resblocks.1.mlp.c_fc.weight" has shape`},
		{"NaN", func(w map[string]*weights.Tensor) { w["ln_final.bias"].F32[3] = float32(math.NaN()) }, `"ln_final.bias" holds NaN`},
		{"no text blocks", func(w map[string]*weights.Tensor) {
			for n := range w {
				if strings.HasPrefix(n, "transformer.resblocks.") {
					delete(w, n)
				}
			}
		}, "no text transformer blocks"},
	}
	for _, tc := range cases {
		w, err := randomTensors(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		tc.break_(w)
		f := &weights.File{Path: "bad.safetensors", Tensors: w}
		_, err = FromWeights(f)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.safetensors") {
			t.Fatalf("%s: error %v, want it to name the file and %s", tc.name, err, tc.want)
		}
	}
	// A checkpoint of something else is refused as such.
	_, err := FromWeights(&weights.File{Path: "x.bin", Tensors: map[string]*weights.Tensor{"fc.weight": {Shape: []int{2, 2}, F32: make([]float32, 4)}}})
	if err == nil || !strings.Contains(err.Error(), "not a CLIP checkpoint") {
		t.Fatalf("non-CLIP checkpoint: %v", err)
	}
}
