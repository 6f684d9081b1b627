package export

import (
	"fmt"
	"io"

	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/weights"
)

// WriteFeatures writes the dense features f of the image imgPath (method
// method, an input of w×h, model model) to path as safetensors (freeseg
// features, docs/outputs.md): one tensor "tokens" [1, tokens, E], CLS at
// row 0, and the metadata that tells the grid. g refuses to overwrite an
// input.
func WriteFeatures(g batch.Guard, path, imgPath string, f *dense.Features, method string, w, h int, model, generator string) error {
	// Both sizes are width x height, as everywhere in freeseg's outputs;
	// the tokens after CLS are in row-major order (grid_height rows of
	// grid_width).
	meta := map[string]string{
		"method": method, "image": imgPath, "grid": fmt.Sprintf("%dx%d", f.GW, f.GH),
		"input": fmt.Sprintf("%dx%d", w, h), "size_order": "width x height", "model": model,
		"generator": generator,
	}
	return g.WriteFile(path, func(wr io.Writer) error {
		return weights.WriteSafetensors(wr, []*weights.Tensor{{Name: "tokens", Shape: []int{1, f.Tokens(), f.E}, F32: f.Data}}, meta)
	})
}
