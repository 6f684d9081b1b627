package clip

import (
	"fmt"
	"math"
	"runtime/debug"

	"github.com/freeseg/freeseg/tensor/gemm"
	"github.com/freeseg/freeseg/tokenizer"
	"github.com/freeseg/freeseg/weights"
)

// Linear is a PyTorch nn.Linear: y = x·Wᵀ + b, with W packed once for the
// matrix kernels. In and Out are the feature sizes.
type Linear struct {
	In, Out int
	W       *gemm.PackedB
	B       []float32 // nil when the layer has no bias
}

// LayerNorm holds the affine parameters of a torch LayerNorm (eps 1e-5).
type LayerNorm struct{ W, B []float32 }

// Block is one pre-LN residual attention block (docs/model.md#vision-transformer).
type Block struct {
	LN1, LN2 LayerNorm
	InProj   Linear // D → 3D; output columns are q | k | v
	OutProj  Linear // D → D
	FC       Linear // D → 4D (mlp.c_fc)
	Proj     Linear // 4D → D (mlp.c_proj)
	Heads    int
	// GELU selects the exact (erf) GELU in the MLP instead of OpenAI's
	// QuickGELU (open_clip's LAION-trained models; Config.Act).
	GELU bool
}

// Vision is the ViT image tower.
type Vision struct {
	Width, Heads, Patch, Grid int
	PatchEmbed                Linear    // conv1 as a linear map of flattened [3,p,p] patches, no bias
	ClassEmbedding            []float32 // [D]
	PosEmbedding              []float32 // [1+Grid², D], the original table, never modified
	LNPre, LNPost             LayerNorm
	Blocks                    []Block
	Proj                      Linear // D → E, no bias (visual.proj)
}

// Text is the causal text transformer.
type Text struct {
	Width, Heads, Context int
	TokenEmbedding        []float32 // [vocab, Dt]
	PosEmbedding          []float32 // [context, Dt]
	Blocks                []Block
	LNFinal               LayerNorm
	Proj                  Linear // Dt → E, no bias (text_projection)
}

// Model is a loaded CLIP: both towers, the temperature and the tokenizer.
type Model struct {
	Config     Config
	Vision     *Vision
	Text       *Text
	LogitScale float32 // the stored parameter; similarities use exp(LogitScale)
	Tokenizer  *tokenizer.Tokenizer
	// BuiltinVocabulary is set when the model folder had no vocabulary
	// files and the built-in CLIP BPE vocabulary (the same for every CLIP
	// model) is used.
	BuiltinVocabulary bool
	Path              string // checkpoint file, "" for models built in memory
	digestState
	precision Precision // of the linear layers' weights; 0 means FP32 (see WithPrecision)
}

// FromWeights builds a model from a checkpoint in either naming layout. It
// takes ownership of f: the data of tensors packed for the matrix kernels is
// released from f as the model is built.
func FromWeights(f *weights.File) (*Model, error) {
	w, err := Canonicalize(f)
	if err != nil {
		return nil, err
	}
	cfg, err := InferConfig(f.Path, w)
	if err != nil {
		return nil, err
	}
	if err := validateShapes(f.Path, cfg, w); err != nil {
		return nil, err
	}
	return build(f.Path, cfg, w)
}

// builder fetches tensors by canonical name, checking shapes, and records
// the first error so that construction code stays linear.
type builder struct {
	path     string
	w        map[string]*weights.Tensor
	err      error
	released int // bytes of tensor data released since the last FreeOSMemory
}

func (b *builder) get(name string, shape ...int) []float32 {
	if b.err != nil {
		return nil
	}
	t, ok := b.w[name]
	if !ok {
		b.err = fmt.Errorf("%s: missing tensor %q", b.path, name)
		return nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(t.F32) != n || (len(t.Shape) != len(shape) && !(len(shape) == 0 && t.Numel() == 1)) {
		b.err = fmt.Errorf("%s: tensor %q has shape %v, want %v", b.path, name, t.Shape, shape)
		return nil
	}
	for i := range shape {
		if i < len(t.Shape) && t.Shape[i] != shape[i] {
			b.err = fmt.Errorf("%s: tensor %q has shape %v, want %v", b.path, name, t.Shape, shape)
			return nil
		}
	}
	for _, v := range t.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			b.err = fmt.Errorf("%s: tensor %q holds NaN or Inf values (corrupt checkpoint?)", b.path, name)
			return nil
		}
	}
	return t.F32
}

// linear packs a torch Linear weight [out,in] (and bias [out] when
// withBias) for the kernels.
func (b *builder) linear(prefix string, in, out int, withBias bool) Linear {
	w := b.get(prefix+".weight", out, in)
	l := Linear{In: in, Out: out}
	if withBias {
		l.B = b.get(prefix+".bias", out)
	}
	if b.err == nil {
		l.W = gemm.PackB(true, in, out, w, in)
		b.release(prefix + ".weight")
	}
	return l
}

// release drops the raw data of a tensor once it is packed, so that the
// garbage collector can reclaim it while the rest of the model is built
// (peak memory during loading is then about one copy of the weights, not
// two).
func (b *builder) release(name string) {
	if t, ok := b.w[name]; ok {
		b.released += 4 * len(t.F32)
		t.F32 = nil
		delete(b.w, name)
	}
	// The packed copies live outside the Go heap, so the heap does not grow
	// while the model is built and no collection would run: return the
	// released tensors to the OS every releaseEvery bytes, or the process
	// holds both copies at its peak (measured: 1.34 GB instead of about
	// 0.75 GB for ViT-B/16).
	if b.released >= releaseEvery {
		b.released = 0
		debug.FreeOSMemory()
	}
}

// releaseEvery is how many bytes of released tensors the builder lets
// pile up before it returns them to the OS: the peak memory of loading is
// about the checkpoint's float32 tensors plus this (ViT-B/16: 64 MiB gave
// a peak 74 MB above the tensors, 16 MiB about 20 MB, for about 40 forced
// collections of a heap of pointer-free slices, a few ms in all).
const releaseEvery = 16 << 20

// linearXP packs a projection stored as x @ P, P [in,out] (visual.proj,
// text_projection).
func (b *builder) linearXP(name string, in, out int) Linear {
	p := b.get(name, in, out)
	l := Linear{In: in, Out: out}
	if b.err == nil {
		l.W = gemm.PackB(false, in, out, p, out)
		b.release(name)
	}
	return l
}

func (b *builder) ln(prefix string, d int) LayerNorm {
	return LayerNorm{W: b.get(prefix+".weight", d), B: b.get(prefix+".bias", d)}
}

func (b *builder) block(prefix string, d, heads int) Block {
	return Block{
		LN1:     b.ln(prefix+"ln_1", d),
		LN2:     b.ln(prefix+"ln_2", d),
		InProj:  b.linearPair(prefix+"attn.in_proj", d, 3*d),
		OutProj: b.linear(prefix+"attn.out_proj", d, d, true),
		FC:      b.linear(prefix+"mlp.c_fc", d, b.mlpWidth(prefix, d), true),
		Proj:    b.linear(prefix+"mlp.c_proj", b.mlpWidth(prefix, d), d, true),
		Heads:   heads,
	}
}

// mlpWidth reads the hidden width of a block's MLP (4·D for CLIP).
func (b *builder) mlpWidth(prefix string, d int) int {
	if t, ok := b.w[prefix+"mlp.c_fc.bias"]; ok && len(t.Shape) == 1 {
		return t.Shape[0]
	}
	return 4 * d
}

// linearPair reads in_proj_weight / in_proj_bias (nn.MultiheadAttention names).
func (b *builder) linearPair(prefix string, in, out int) Linear {
	w := b.get(prefix+"_weight", out, in)
	l := Linear{In: in, Out: out, B: b.get(prefix+"_bias", out)}
	if b.err == nil {
		l.W = gemm.PackB(true, in, out, w, in)
		b.release(prefix + "_weight")
	}
	return l
}

func build(path string, c Config, w map[string]*weights.Tensor) (*Model, error) {
	b := &builder{path: path, w: w}
	D, p := c.VisionWidth, c.Patch
	v := &Vision{Width: D, Heads: c.VisionHeads, Patch: p, Grid: c.Grid}
	conv := b.get("visual.conv1.weight", D, 3, p, p)
	if b.err == nil {
		v.PatchEmbed = Linear{In: 3 * p * p, Out: D, W: gemm.PackB(true, 3*p*p, D, conv, 3*p*p)}
		b.release("visual.conv1.weight")
	}
	v.ClassEmbedding = b.get("visual.class_embedding", D)
	v.PosEmbedding = b.get("visual.positional_embedding", 1+c.Grid*c.Grid, D)
	v.LNPre = b.ln("visual.ln_pre", D)
	v.LNPost = b.ln("visual.ln_post", D)
	for i := 0; i < c.VisionLayers; i++ {
		v.Blocks = append(v.Blocks, b.block(fmt.Sprintf("visual.transformer.resblocks.%d.", i), D, c.VisionHeads))
	}
	v.Proj = b.linearXP("visual.proj", D, c.EmbedDim)

	Dt := c.TextWidth
	t := &Text{Width: Dt, Heads: c.TextHeads, Context: c.ContextLength}
	t.TokenEmbedding = b.get("token_embedding.weight", c.VocabSize, Dt)
	t.PosEmbedding = b.get("positional_embedding", c.ContextLength, Dt)
	for i := 0; i < c.TextLayers; i++ {
		t.Blocks = append(t.Blocks, b.block(fmt.Sprintf("transformer.resblocks.%d.", i), Dt, c.TextHeads))
	}
	t.LNFinal = b.ln("ln_final", Dt)
	t.Proj = b.linearXP("text_projection", Dt, c.EmbedDim)
	ls := b.get("logit_scale")
	if b.err != nil {
		return nil, b.err
	}
	m := &Model{Config: c, Vision: v, Text: t, LogitScale: ls[0]}
	if err := m.SetActivation(c.Act); err != nil {
		return nil, err
	}
	return m, nil
}

// SetActivation sets the MLP activation of every block of both towers:
// ActQuickGELU (or "", OpenAI's models) or ActGELU (open_clip's LAION
// models, whose config says hidden_act "gelu").
func (m *Model) SetActivation(act string) error {
	var exact bool
	switch act {
	case "", ActQuickGELU:
		act = ActQuickGELU
	case ActGELU:
		exact = true
	default:
		return fmt.Errorf("unknown activation %q (want %s or %s)", act, ActQuickGELU, ActGELU)
	}
	m.Config.Act = act
	for _, blocks := range [][]Block{m.Vision.Blocks, m.Text.Blocks} {
		for i := range blocks {
			blocks[i].GELU = exact
		}
	}
	return nil
}
