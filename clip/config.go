// Package clip is the CLIP model: configuration inferred from checkpoint
// shapes, the vision and text transformers (OpenAI clip/model.py semantics,
// docs/model.md), prompt ensembles, and the primitives the dense methods of
// package dense build on.
package clip

import "fmt"

// Config holds the sizes of a ViT CLIP model. Every field is inferred from
// tensor shapes (docs/model.md#architecture-from-shapes, OpenAI build_model), so no config file is needed.
type Config struct {
	VisionWidth  int // D
	VisionLayers int // L
	VisionHeads  int // nh
	Patch        int // p
	Grid         int // side of the original positional-embedding grid (14 for B/16)
	EmbedDim     int // E, the joint embedding size

	TextWidth     int
	TextLayers    int
	TextHeads     int
	ContextLength int
	VocabSize     int

	// Act is the MLP activation: ActQuickGELU (OpenAI) or ActGELU (the
	// LAION-trained open_clip models). It is not in the shapes: Load reads
	// it from the folder's config.json or open_clip_config.json.
	Act string
}

// The MLP activations.
const (
	ActQuickGELU = "quick_gelu"
	ActGELU      = "gelu"
)

// headsFor is the attention head count of a tower of the given width:
// open_clip's ViT-H/14, ViT-g/14 and ViT-bigG/14 towers have 16 heads of
// width 80, 88 and 104; every other CLIP uses heads of width 64 (OpenAI
// build_model).
func headsFor(width int) int {
	switch width {
	case 1280, 1408, 1664:
		return 16
	}
	return width / 64
}

// ImageSize is the training resolution, Patch·Grid (224 for B/16).
func (c Config) ImageSize() int { return c.Patch * c.Grid }

// Name gives the conventional architecture name when the sizes match a
// published model (ViT-B/16 etc.), else a description of the sizes.
func (c Config) Name() string {
	switch {
	case c.VisionWidth == 768 && c.VisionLayers == 12 && c.Patch == 32 && c.Grid == 7:
		return "ViT-B/32"
	case c.VisionWidth == 768 && c.VisionLayers == 12 && c.Patch == 16 && c.Grid == 14:
		return "ViT-B/16"
	case c.VisionWidth == 1024 && c.VisionLayers == 24 && c.Patch == 14 && c.Grid == 16:
		return "ViT-L/14"
	case c.VisionWidth == 1024 && c.VisionLayers == 24 && c.Patch == 14 && c.Grid == 24:
		return "ViT-L/14@336"
	case c.VisionWidth == 1280 && c.VisionLayers == 32 && c.Patch == 14 && c.Grid == 16:
		return "ViT-H/14"
	}
	return fmt.Sprintf("ViT(width %d, %d layers, patch %d, %dpx; text width %d, %d layers; embed %d)",
		c.VisionWidth, c.VisionLayers, c.Patch, c.ImageSize(), c.TextWidth, c.TextLayers, c.EmbedDim)
}

// Arch returns the configuration of a published architecture by name, used
// to build random-weight models for benchmarks.
func Arch(name string) (Config, error) {
	text := func(c Config, w, l int) Config {
		c.TextWidth, c.TextLayers, c.TextHeads = w, l, w/64
		c.ContextLength, c.VocabSize = 77, 49408
		return c
	}
	switch name {
	case "ViT-B/32":
		return text(Config{VisionWidth: 768, VisionLayers: 12, VisionHeads: 12, Patch: 32, Grid: 7, EmbedDim: 512}, 512, 12), nil
	case "ViT-B/16":
		return text(Config{VisionWidth: 768, VisionLayers: 12, VisionHeads: 12, Patch: 16, Grid: 14, EmbedDim: 512}, 512, 12), nil
	case "ViT-L/14":
		return text(Config{VisionWidth: 1024, VisionLayers: 24, VisionHeads: 16, Patch: 14, Grid: 16, EmbedDim: 768}, 768, 12), nil
	case "ViT-L/14@336":
		return text(Config{VisionWidth: 1024, VisionLayers: 24, VisionHeads: 16, Patch: 14, Grid: 24, EmbedDim: 768}, 768, 12), nil
	case "ViT-H/14": // open_clip's, LAION-2B: exact GELU, 80-wide vision heads
		c := text(Config{VisionWidth: 1280, VisionLayers: 32, VisionHeads: 16, Patch: 14, Grid: 16, EmbedDim: 1024}, 1024, 24)
		c.Act = ActGELU
		return c, nil
	}
	return Config{}, fmt.Errorf("unknown architecture %q (want ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336 or ViT-H/14)", name)
}
