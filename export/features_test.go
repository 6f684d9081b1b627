package export

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/weights"
)

func TestWriteFeatures(t *testing.T) {
	// A 3x2 grid (width x height) of E = 2 after the CLS token.
	f := &dense.Features{GW: 3, GH: 2, E: 2, Data: []float32{9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
	path := filepath.Join(t.TempDir(), "f.safetensors")
	if err := WriteFeatures(batch.NewGuard(), path, "in.jpg", f, "sclip", 48, 32, "ViT-T/16", "freeseg test"); err != nil {
		t.Fatal(err)
	}
	got, err := weights.ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	tok := got.Tensors["tokens"]
	if tok == nil || !slices.Equal(tok.Shape, []int{1, 7, 2}) || !slices.Equal(tok.F32, f.Data) {
		t.Fatalf("tokens: %+v", tok)
	}
	want := map[string]string{"method": "sclip", "image": "in.jpg", "grid": "3x2", "input": "48x32",
		"size_order": "width x height", "model": "ViT-T/16", "generator": "freeseg test"}
	for k, v := range want {
		if got.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, got.Metadata[k], v)
		}
	}
	// The guard keeps inputs from being overwritten.
	if err := WriteFeatures(batch.NewGuard(path), path, "in.jpg", f, "sclip", 48, 32, "m", "g"); err == nil {
		t.Error("overwrote a guarded input")
	}
}
