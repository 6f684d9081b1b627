// Package dino is the DINO vision transformer (Caron et al., "Emerging
// Properties in Self-Supervised Vision Transformers", ICCV 2021;
// facebookresearch/dino vision_transformer.py): the self-supervised ViT
// whose patch features guide CLIP's last attention in ProxyCLIP (see
// docs/vfm.md). Pre-norm blocks with exact GELU, LayerNorm eps 1e-6, a CLS
// token and a learned positional table resized bicubically for other input
// sizes. The matrix and attention kernels are CLIP's (package clip).
package dino

import (
	"fmt"

	"github.com/freeseg/freeseg/clip"
)

// Config holds the sizes of a DINO ViT, read from the tensor shapes (and
// the head count from config.json when there is one).
type Config struct {
	Width  int // D
	Layers int
	Heads  int
	Patch  int
	Grid   int // side of the stored positional grid (28 for ViT/8 at 224)
	MLP    int // hidden width of the MLP (4·D)
	Eps    float64
}

// Name gives the conventional name of a published DINO (ViT-B/8 etc.) or a
// description of the sizes.
func (c Config) Name() string {
	names := map[int]string{192: "ViT-T", 384: "ViT-S", 768: "ViT-B"}
	if n, ok := names[c.Width]; ok && c.Layers == 12 && c.MLP == 4*c.Width {
		return fmt.Sprintf("DINO %s/%d", n, c.Patch)
	}
	return fmt.Sprintf("DINO ViT(width %d, %d layers, %d heads, patch %d)", c.Width, c.Layers, c.Heads, c.Patch)
}

// LayerNorm is a torch LayerNorm with its eps.
type LayerNorm struct {
	W, B []float32
	Eps  float64
}

// Block is one pre-norm transformer block:
// x += proj(attn(norm1(x))); x += fc2(GELU(fc1(norm2(x)))).
type Block struct {
	Norm1, Norm2 LayerNorm
	QKV          clip.Linear // D → 3D, columns q | k | v, heads inside each
	Proj         clip.Linear
	FC1, FC2     clip.Linear
}

// Model is a loaded DINO ViT.
type Model struct {
	Config     Config
	PatchEmbed clip.Linear // the patch convolution as a linear map of flattened [3,p,p] patches, with bias
	CLS        []float32   // [D]
	Pos        []float32   // [1+Grid², D], never modified
	Blocks     []Block
	Norm       LayerNorm // the final norm
	Path       string    // checkpoint file
}
