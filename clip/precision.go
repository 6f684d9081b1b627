package clip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/freeseg/freeseg/tensor/gemm"
)

// Precision is the number format of the weights and matrix products of a
// model (docs/speed.md). Layer norms, softmax, attention and everything
// after the encoders are float32 in both.
type Precision int

const (
	// PrecisionDefault, the zero value, means "the model's own" wherever a
	// precision is requested (an Options field, say).
	PrecisionDefault Precision = iota
	// FP32 is float32 everywhere: the parity reference.
	FP32
	// BF16 stores the linear layers' weights as bfloat16 (half the memory),
	// rounds their inputs to bf16 and accumulates in float32: about twice
	// as fast where the CPU has a bf16 dot product (gemm.BF16Kernel).
	BF16
)

func (p Precision) String() string {
	switch p {
	case PrecisionDefault:
		return "default"
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "fp32" or "bf16" (any case).
func ParsePrecision(s string) (Precision, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "fp32", "float32":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return 0, fmt.Errorf("precision %q: want fp32 or bf16", s)
}

// ErrPrecisionUnavailable is returned when a model cannot run in the
// precision asked for (fp32 from a model loaded in bf16).
var ErrPrecisionUnavailable = errors.New("precision not available")

// Precision reports the precision of the model's weights (FP32 or BF16).
func (m *Model) Precision() Precision {
	if m.precision == BF16 {
		return BF16
	}
	return FP32
}

// WithPrecision returns the model in precision p: m itself when it already
// is, else a new model sharing everything with m except the linear layers,
// whose weights are converted once here (so when the caller drops m, the
// float32 weights are freed and the model takes about half the memory).
// bf16 weights cannot be turned back into the float32 ones: asking a BF16
// model for FP32 is an error.
func (m *Model) WithPrecision(p Precision) (*Model, error) { return m.convert(p, false) }

// IntoPrecision is WithPrecision for a model the caller drops: each
// layer's float32 weights are freed as soon as the layer is converted, so
// the process never holds both copies (its peak memory stays that of the
// fp32 model). m must not be used afterwards.
func (m *Model) IntoPrecision(p Precision) (*Model, error) { return m.convert(p, true) }

func (m *Model) convert(p Precision, release bool) (*Model, error) {
	switch {
	case p == PrecisionDefault || p == m.Precision():
		return m, nil
	case p == BF16:
	case p == FP32:
		return nil, fmt.Errorf("%w: the model is loaded in bf16 and its float32 weights are gone; load it again for fp32", ErrPrecisionUnavailable)
	default:
		return nil, fmt.Errorf("unknown precision %v", p)
	}
	q := &Model{
		Config: m.Config, LogitScale: m.LogitScale, Tokenizer: m.Tokenizer,
		BuiltinVocabulary: m.BuiltinVocabulary, Path: m.Path, precision: p,
	}
	q.syntheticDigest = m.syntheticDigest
	if m.Vision != nil {
		v := *m.Vision
		v.PatchEmbed = v.PatchEmbed.bf16(release)
		v.Proj = v.Proj.bf16(release)
		v.Blocks = blocksBF16(v.Blocks, release)
		q.Vision = &v
	}
	if m.Text != nil {
		t := *m.Text
		t.Proj = t.Proj.bf16(release)
		t.Blocks = blocksBF16(t.Blocks, release)
		q.Text = &t
	}
	return q, nil
}

// bf16 returns l with bf16 weights, releasing the fp32 ones if asked.
func (l Linear) bf16(release bool) Linear {
	if l.W != nil {
		w := l.W.BF16()
		if release && w != l.W {
			l.W.Release()
		}
		l.W = w
	}
	return l
}

func blocksBF16(bs []Block, release bool) []Block {
	out := make([]Block, len(bs))
	for i, b := range bs {
		b.InProj, b.OutProj = b.InProj.bf16(release), b.OutProj.bf16(release)
		b.FC, b.Proj = b.FC.bf16(release), b.Proj.bf16(release)
		out[i] = b
	}
	return out
}

// WeightBytes is the memory held by the model's linear-layer weights.
func (m *Model) WeightBytes() int {
	n := 0
	add := func(ls ...Linear) {
		for _, l := range ls {
			if l.W != nil {
				n += l.W.Bytes()
			}
		}
	}
	blocks := func(bs []Block) {
		for _, b := range bs {
			add(b.InProj, b.OutProj, b.FC, b.Proj)
		}
	}
	if m.Vision != nil {
		add(m.Vision.PatchEmbed, m.Vision.Proj)
		blocks(m.Vision.Blocks)
	}
	if m.Text != nil {
		add(m.Text.Proj)
		blocks(m.Text.Blocks)
	}
	return n
}

// BF16Note is a line for users who ask for bf16 on a CPU without a bf16
// dot product, where it saves memory but is not faster; "" elsewhere.
func BF16Note() string {
	if gemm.BF16Kernel() != "emulated" {
		return ""
	}
	return "note: bf16 runs emulated here (no AVX512-BF16 on this CPU, or FREESEG_BF16=emulated): the fp32 kernels on bf16-rounded values, half the weight memory, not faster"
}
