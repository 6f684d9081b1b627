package clip

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/freeseg/freeseg/tokenizer"
	"github.com/freeseg/freeseg/weights"
)

// Random builds a model of the given architecture with random weights
// (normal, std 0.02; layer norms at identity), for benchmarks and tests
// that need real shapes but no real checkpoint. The same seed gives the
// same model.
func Random(c Config, seed uint64) (*Model, error) {
	w, err := randomTensors(c, seed)
	if err != nil {
		return nil, err
	}
	m, err := build(fmt.Sprintf("random %s (seed %d)", c.Name(), seed), c, w)
	if err != nil {
		return nil, err
	}
	m.Tokenizer = tokenizer.Default()
	m.syntheticDigest = fmt.Sprintf("random-%x-%d", c.VisionWidth*1000003+c.VisionLayers*101+c.Patch, seed)
	return m, nil
}

// randomTensors makes the canonical (OpenAI-named) tensors of a random
// model of configuration c.
func randomTensors(c Config, seed uint64) (map[string]*weights.Tensor, error) {
	if c.VisionWidth <= 0 || c.VisionLayers <= 0 || c.Patch <= 0 || c.Grid <= 0 || c.EmbedDim <= 0 ||
		c.TextWidth <= 0 || c.TextLayers <= 0 || c.ContextLength <= 0 || c.VocabSize <= 0 {
		return nil, fmt.Errorf("random model: incomplete config %+v", c)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := map[string]*weights.Tensor{}
	normal := func(name string, std float64, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * std)
		}
		w[name] = &weights.Tensor{Name: name, DType: "F32", Shape: shape, F32: x}
	}
	fill := func(name string, v float32, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = v
		}
		w[name] = &weights.Tensor{Name: name, DType: "F32", Shape: shape, F32: x}
	}
	ln := func(p string, d int) {
		fill(p+".weight", 1, d)
		fill(p+".bias", 0, d)
	}
	blocks := func(prefix string, layers, d int) {
		for i := 0; i < layers; i++ {
			p := fmt.Sprintf("%s%d.", prefix, i)
			ln(p+"ln_1", d)
			ln(p+"ln_2", d)
			normal(p+"attn.in_proj_weight", 0.02, 3*d, d)
			fill(p+"attn.in_proj_bias", 0, 3*d)
			normal(p+"attn.out_proj.weight", 0.02, d, d)
			fill(p+"attn.out_proj.bias", 0, d)
			normal(p+"mlp.c_fc.weight", 0.02, 4*d, d)
			fill(p+"mlp.c_fc.bias", 0, 4*d)
			normal(p+"mlp.c_proj.weight", 0.02, d, 4*d)
			fill(p+"mlp.c_proj.bias", 0, d)
		}
	}
	D, Dt := c.VisionWidth, c.TextWidth
	normal("visual.conv1.weight", 0.02, D, 3, c.Patch, c.Patch)
	normal("visual.class_embedding", 0.02, D)
	normal("visual.positional_embedding", 0.01, 1+c.Grid*c.Grid, D)
	ln("visual.ln_pre", D)
	ln("visual.ln_post", D)
	blocks("visual.transformer.resblocks.", c.VisionLayers, D)
	normal("visual.proj", 1/math.Sqrt(float64(D)), D, c.EmbedDim)
	normal("token_embedding.weight", 0.02, c.VocabSize, Dt)
	normal("positional_embedding", 0.01, c.ContextLength, Dt)
	blocks("transformer.resblocks.", c.TextLayers, Dt)
	ln("ln_final", Dt)
	normal("text_projection", 1/math.Sqrt(float64(Dt)), Dt, c.EmbedDim)
	fill("logit_scale", float32(math.Log(100)))
	return w, nil
}
