package clip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/weights"
)

// Checkpoints whose tensors are valid for the file format but not for a
// model must be refused at load with the file and the tensor named, never
// load and then divide by zero or index out of range on the first image.
func TestLoadRefusesDegenerateShapes(t *testing.T) {
	c := Config{VisionWidth: 64, VisionLayers: 1, VisionHeads: 1, Patch: 16, Grid: 2, EmbedDim: 32,
		TextWidth: 64, TextLayers: 1, TextHeads: 1, ContextLength: 77, VocabSize: 49408}
	set := func(w map[string]*weights.Tensor, name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		w[name] = &weights.Tensor{Name: name, DType: "F32", Shape: shape, F32: make([]float32, n)}
	}
	cases := []struct {
		name   string
		break_ func(w map[string]*weights.Tensor)
		want   string
	}{
		{"patch conv [64,3,0,0]", func(w map[string]*weights.Tensor) { set(w, "visual.conv1.weight", 64, 3, 0, 0) }, "patch size is 0"},
		{"one-row positional table", func(w map[string]*weights.Tensor) { set(w, "visual.positional_embedding", 1, 64) }, "grid is 0"},
		{"empty MLP", func(w map[string]*weights.Tensor) {
			set(w, "visual.transformer.resblocks.0.mlp.c_fc.weight", 0, 64)
			set(w, "visual.transformer.resblocks.0.mlp.c_fc.bias", 0)
			set(w, "visual.transformer.resblocks.0.mlp.c_proj.weight", 64, 0)
		}, `"visual.transformer.resblocks.0.mlp.c_fc.bias" has shape [0]`},
		{"empty projection", func(w map[string]*weights.Tensor) { set(w, "text_projection", 64, 0) }, "embedding size is 0"},
		{"context of one token", func(w map[string]*weights.Tensor) { set(w, "positional_embedding", 1, 64) }, "context length 1"},
		{"temperature overflowing exp", func(w map[string]*weights.Tensor) {
			w["logit_scale"] = &weights.Tensor{Name: "logit_scale", DType: "F32", F32: []float32{100}}
		}, "logit_scale is 100"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := randomTensors(c, 1)
			if err != nil {
				t.Fatal(err)
			}
			tc.break_(w)
			var ts []*weights.Tensor
			for _, x := range w {
				ts = append(ts, x)
			}
			p := filepath.Join(t.TempDir(), "bad.safetensors")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := weights.WriteSafetensors(f, ts, nil); err != nil {
				t.Fatal(err)
			}
			f.Close()
			_, err = Load(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.safetensors") {
				t.Fatalf("error %v, want it to name the file and %q", err, tc.want)
			}
		})
	}
	// The unbroken tensors load (the cases above fail for their own reason).
	w, _ := randomTensors(c, 1)
	if _, err := FromWeights(&weights.File{Path: "ok.safetensors", Tensors: w}); err != nil {
		t.Fatal(err)
	}
}
