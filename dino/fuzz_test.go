package dino_test

import (
	"bytes"
	"testing"

	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/weights"
)

// FromWeights on any parsed checkpoint returns a model or an error, never
// panics; a model it returns runs on a small input.
func FuzzFromWeights(f *testing.F) {
	// The seed: a model of width 8, one block, patch 2, grid 2.
	var buf bytes.Buffer
	var ts []*weights.Tensor
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i%7) * 0.01
		}
		ts = append(ts, &weights.Tensor{Name: name, DType: "F32", Shape: shape, F32: x})
	}
	add("cls_token", 1, 1, 8)
	add("pos_embed", 1, 5, 8)
	add("patch_embed.proj.weight", 8, 3, 2, 2)
	add("patch_embed.proj.bias", 8)
	for _, n := range []string{"norm1", "norm2"} {
		add("blocks.0."+n+".weight", 8)
		add("blocks.0."+n+".bias", 8)
	}
	add("blocks.0.attn.qkv.weight", 24, 8)
	add("blocks.0.attn.qkv.bias", 24)
	add("blocks.0.attn.proj.weight", 8, 8)
	add("blocks.0.attn.proj.bias", 8)
	add("blocks.0.mlp.fc1.weight", 16, 8)
	add("blocks.0.mlp.fc1.bias", 16)
	add("blocks.0.mlp.fc2.weight", 8, 16)
	add("blocks.0.mlp.fc2.bias", 8)
	add("norm.weight", 8)
	add("norm.bias", 8)
	if err := weights.WriteSafetensors(&buf, ts, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		wf, err := weights.ParseSafetensors(bytes.NewReader(b), int64(len(b)), "fuzz.safetensors")
		if err != nil {
			return
		}
		m, err := dino.FromWeights(wf, &dino.HFConfig{Heads: 2})
		if err != nil {
			return
		}
		p := m.Config.Patch
		if p > 16 {
			return
		}
		x := make([]float32, 3*2*p*2*p)
		if _, _, _, err := m.Tokens(x, 1, 2*p, 2*p); err != nil {
			t.Fatalf("model built but does not run: %v", err)
		}
	})
}
