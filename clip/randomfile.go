package clip

import (
	"io"

	"github.com/freeseg/freeseg/weights"
)

// TinyConfig is a small architecture for trying the commands and for
// tests: ViT with width 128, 8 vision layers (enough for CLIP Surgery's
// six changed blocks), patch 16 at 224 pixels, a 3-layer text tower of
// width 128 and 64-dimensional embeddings (about 35 MB of float32, 25 MB
// of it the token embedding).
var TinyConfig = Config{
	VisionWidth: 128, VisionLayers: 8, VisionHeads: 2, Patch: 16, Grid: 14, EmbedDim: 64,
	TextWidth: 128, TextLayers: 3, TextHeads: 2, ContextLength: 77, VocabSize: 49408,
	Act: ActQuickGELU, // as OpenAI's CLIPs; a loaded folder without a config says so too
}

// WriteRandom writes the weights of Random(c, seed) as a safetensors file
// with OpenAI's tensor names, which Load reads back as the same model. The
// metadata says the weights are random. Head counts must be width/64, as
// Load infers them.
func WriteRandom(w io.Writer, c Config, seed uint64) error {
	t, err := randomTensors(c, seed)
	if err != nil {
		return err
	}
	list := make([]*weights.Tensor, 0, len(t))
	for _, x := range t {
		list = append(list, x)
	}
	return weights.WriteSafetensors(w, list, map[string]string{
		"format":  "pt",
		"freeseg": "random weights (not a trained CLIP model): for trying the commands only",
	})
}
