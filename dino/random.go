package dino

import (
	"fmt"
	"math/rand/v2"

	"github.com/freeseg/freeseg/weights"
)

// Arch returns the configuration of a published DINO ViT by name
// ("ViT-S/16", "ViT-S/8", "ViT-B/16", "ViT-B/8"), for benchmarks with
// random weights.
func Arch(name string) (Config, error) {
	c := Config{Layers: 12, Grid: 0, Eps: 1e-6}
	switch name {
	case "ViT-S/16", "ViT-S/8":
		c.Width, c.Heads = 384, 6
	case "ViT-B/16", "ViT-B/8":
		c.Width, c.Heads = 768, 12
	default:
		return c, fmt.Errorf("unknown DINO architecture %q (want ViT-S/16, ViT-S/8, ViT-B/16 or ViT-B/8)", name)
	}
	c.Patch = 16
	if name[len(name)-1] == '8' && name[len(name)-2] == '/' {
		c.Patch = 8
	}
	c.Grid = 224 / c.Patch
	c.MLP = 4 * c.Width
	return c, nil
}

// Random builds a DINO ViT of configuration c with random weights (normal,
// std 0.02; layer norms at identity). The same seed gives the same model.
func Random(c Config, seed uint64) (*Model, error) {
	if c.Width <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.Width%c.Heads != 0 || c.Patch <= 0 || c.Grid <= 0 || c.MLP <= 0 {
		return nil, fmt.Errorf("random DINO: incomplete config %+v", c)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	w := map[string]*weights.Tensor{}
	put := func(name string, v func() float32, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = v()
		}
		w[name] = &weights.Tensor{Name: name, DType: "F32", Shape: shape, F32: x}
	}
	normal := func() float32 { return float32(r.NormFloat64() * 0.02) }
	one := func() float32 { return 1 }
	zero := func() float32 { return 0 }
	D := c.Width
	put("cls_token", normal, 1, 1, D)
	put("pos_embed", normal, 1, 1+c.Grid*c.Grid, D)
	put("patch_embed.proj.weight", normal, D, 3, c.Patch, c.Patch)
	put("patch_embed.proj.bias", zero, D)
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("blocks.%d.", l)
		for _, n := range []string{"norm1", "norm2"} {
			put(p+n+".weight", one, D)
			put(p+n+".bias", zero, D)
		}
		put(p+"attn.qkv.weight", normal, 3*D, D)
		put(p+"attn.qkv.bias", zero, 3*D)
		put(p+"attn.proj.weight", normal, D, D)
		put(p+"attn.proj.bias", zero, D)
		put(p+"mlp.fc1.weight", normal, c.MLP, D)
		put(p+"mlp.fc1.bias", zero, c.MLP)
		put(p+"mlp.fc2.weight", normal, D, c.MLP)
		put(p+"mlp.fc2.bias", zero, D)
	}
	put("norm.weight", one, D)
	put("norm.bias", zero, D)
	f := &weights.File{Path: fmt.Sprintf("random DINO %s (seed %d)", c.Name(), seed), Tensors: w}
	return FromWeights(f, &HFConfig{Heads: c.Heads})
}
