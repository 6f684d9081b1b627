package freeseg

import (
	"fmt"
	"math"
	"runtime"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/tensor/attn"
)

// Budget is what one call will cost, computed from the model's shapes, the
// options and the image size before any work is done (docs/service.md,
// "The network-input budget"). The memory figures are estimates of the
// buffers the pipeline allocates, not measurements; they err on the high
// side.
type Budget struct {
	Op             string // "segment", "explain" or "features"
	ImageW, ImageH int    // the image (the size of the output maps)
	InputW, InputH int    // the network input after resizing
	PassW, PassH   int    // one encoder pass: a crop (padded) or the whole input
	Passes         int    // encoder passes (sliding windows; 1 for the whole image)
	Tokens         int    // tokens of one pass: 1 + patches
	Batch          int    // passes run together

	// ActivationBytes are the transformer's buffers for one batch: the
	// residual stream, q|k|v, the MLP hidden layer, the outputs.
	ActivationBytes int64
	// AttentionBytes are the Tokens×Tokens buffers: NACLIP's Gaussian bias
	// (cached after the call when it is at most 16 MiB), and without the
	// fused attention kernel one logits matrix per worker.
	AttentionBytes int64
	// MapBytes are the float32 maps at the network input's and the image's
	// size: logits, PAMR's affinities, probabilities, heat maps.
	MapBytes int64
	// PeakBytes is the estimate of the most the call holds at once.
	PeakBytes int64
	// GFLOPs is the work, 10⁹ multiply-adds counted as 2: the vision
	// encoder's, plus the per-pixel work of the maps (upsampling and
	// accumulating each window's logits, PAMR's iterations), which
	// dominates with many small windows or large images.
	GFLOPs float64
	// MaxSquare is the largest square input side whose tokens fit the
	// limit the budget was checked against (0 before Check).
	MaxSquare int
}

// Limits bound one call's cost; Budget.Check compares against them. A
// zero field takes DefaultLimits' value; use NoLimits to turn them off.
type Limits struct {
	MaxTokens int     // tokens of one encoder pass
	MaxBytes  int64   // Budget.PeakBytes
	MaxGFLOPs float64 // Budget.GFLOPs
}

// DefaultLimits are the engine's (and so the command line's) limits: a
// 2048×2048 whole-image pass of a /16 model (16,385 tokens), 8 GiB of
// working memory, 50,000 GFLOPs (minutes on a desktop CPU). The service's
// defaults are smaller (server.DefaultConfig).
func DefaultLimits() Limits {
	return Limits{MaxTokens: 16385, MaxBytes: 8 << 30, MaxGFLOPs: 50_000}
}

// NoLimits turns every check off (the command line's --force).
func NoLimits() Limits {
	return Limits{MaxTokens: math.MaxInt, MaxBytes: math.MaxInt64, MaxGFLOPs: math.Inf(1)}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxTokens <= 0 {
		l.MaxTokens = d.MaxTokens
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if !(l.MaxGFLOPs > 0) {
		l.MaxGFLOPs = d.MaxGFLOPs
	}
	return l
}

// BudgetError says which limit a call exceeds. It is returned by
// Budget.Check and by Engine.Segment and Engine.Explain before any work.
type BudgetError struct {
	Budget Budget
	Limits Limits
	// What is "tokens", "memory" or "gflops".
	What string
}

func (e *BudgetError) Error() string {
	b, l := e.Budget, e.Limits
	switch e.What {
	case "tokens":
		return fmt.Sprintf("%s: a network input pass of %dx%d pixels is %d tokens, more than the limit of %d (its attention alone grows with the square of the tokens): use an input side of at most %d pixels, or sliding windows",
			b.Op, b.PassW, b.PassH, b.Tokens, l.MaxTokens, b.MaxSquare)
	case "memory":
		return fmt.Sprintf("%s: the %dx%d image with a %dx%d network input needs about %s of working memory (activations %s, attention %s, maps %s), more than the limit of %s: use a smaller input or image (scale it down first) or fewer classes",
			b.Op, b.ImageW, b.ImageH, b.InputW, b.InputH, fmtBytes(b.PeakBytes), fmtBytes(b.ActivationBytes), fmtBytes(b.AttentionBytes), fmtBytes(b.MapBytes), fmtBytes(l.MaxBytes))
	}
	return fmt.Sprintf("%s: a %dx%d network input in %d passes of %d tokens is about %.0f GFLOPs, more than the limit of %.0f: use a smaller input, a larger stride or the whole image at a small size",
		b.Op, b.InputW, b.InputH, b.Passes, b.Tokens, b.GFLOPs, l.MaxGFLOPs)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)>>10)
}

// Check returns a *BudgetError when b exceeds l (tokens first, then
// memory, then time), else nil. It sets b.MaxSquare for the message.
func (b *Budget) Check(l Limits, patch int) error {
	l = l.withDefaults()
	if patch > 0 && l.MaxTokens < math.MaxInt {
		b.MaxSquare = int(math.Sqrt(float64(max(0, l.MaxTokens-1)))) * patch
	}
	switch {
	case b.Tokens > l.MaxTokens:
		return &BudgetError{Budget: *b, Limits: l, What: "tokens"}
	case b.PeakBytes > l.MaxBytes:
		return &BudgetError{Budget: *b, Limits: l, What: "memory"}
	case b.GFLOPs > l.MaxGFLOPs:
		return &BudgetError{Budget: *b, Limits: l, What: "gflops"}
	}
	return nil
}

// Exceeds reports whether b is over any of l's limits.
func (b Budget) Exceeds(l Limits) bool { return b.Check(l, 0) != nil }

// sat converts a non-negative float byte count to int64, saturating.
func sat(x float64) int64 {
	if !(x < math.MaxInt64/2) {
		return math.MaxInt64 / 2
	}
	return int64(math.Ceil(x))
}

// inputSize is the network input size prepare gives an imgW×imgH image.
func inputSize(imgW, imgH int, r Resize) (int, int) {
	switch r.Mode {
	case "short":
		return imageio.KeepRatioSize(imgW, imgH, r.Size, r.MaxLong)
	case "square":
		return r.Size, r.Size
	}
	return imgW, imgH
}

// encoderCost fills the tokens, activation, attention and GFLOPs of B
// passes of H×W through the method's encoder (dense.Method.Features).
func encoderCost(b *Budget, m *clip.Model, meth dense.Method, B, H, W int) {
	v := m.Vision
	p := max(1, v.Patch)
	gh, gw := H/p, W/p
	N := float64(1 + gh*gw)
	b.Tokens = 1 + gh*gw
	D, E := float64(v.Width), float64(m.Config.EmbedDim)
	L := float64(len(v.Blocks))
	M, heads := 4*D, 1
	if len(v.Blocks) > 0 {
		M, heads = float64(v.Blocks[0].FC.Out), max(1, v.Blocks[0].Heads)
	}
	hd := D / float64(heads)
	fb := float64(B)
	// Embed: input crops, patches, x, positional table; blocks: ln, qkv,
	// ctx, hidden (clip.Workspace); the changed path's stream; the head's
	// ln and output.
	act := 3*fb*float64(H*W) + float64(gh*gw)*3*float64(p*p) + fb*N*(D+D+3*D+D+M+D+D+E) + N*D
	b.ActivationBytes = sat(4 * act)
	workers := float64(min(runtime.GOMAXPROCS(0), B*heads))
	var att float64
	if meth.Sigma > 0 {
		att += N * N // NACLIP's bias table
	}
	if attn.Kernel() == "unfused" {
		att += workers * N * N // one logits matrix per worker
	} else {
		att += workers * (2*N*hd + 8192) // packed keys and values, tiles
	}
	b.AttentionBytes = sat(4 * att)
	// 2 FLOPs per multiply-add: q|k|v and out projections (4D²), the MLP
	// (2DM), the attention's two products (2·N²·D); the changed blocks
	// run one more attention and out projection; the patch embedding and
	// the head.
	perBlock := 2*N*(4*D*D+2*D*M) + 4*N*N*D
	extra := float64(meth.Blocks) * (2*N*D*D + 4*N*N*D)
	if meth.Attn == clip.AttnQQPlusKK {
		extra += float64(meth.Blocks) * 4 * N * N * D
	}
	embed := 2*float64(gh*gw)*3*float64(p*p)*D + 2*N*D*E
	b.GFLOPs = fb * (L*perBlock + extra + embed) / 1e9
}

// SegmentBudget is the cost of Segment on an imgW×imgH image with
// queries text queries in classes classes, computed from the shapes only.
func (e *Engine) SegmentBudget(imgW, imgH, queries, classes int, o Options) (Budget, error) {
	if imgW <= 0 || imgH <= 0 {
		return Budget{}, fmt.Errorf("empty image (%dx%d)", imgW, imgH)
	}
	b := Budget{Op: "segment", ImageW: imgW, ImageH: imgH}
	w, h := inputSize(imgW, imgH, o.Resize)
	b.InputW, b.InputH = w, h
	p := max(1, e.Model.Vision.Patch)
	Q, C := float64(queries), float64(classes)
	in, out := float64(w)*float64(h), float64(imgW)*float64(imgH)
	maps := 3*in + in*3/4 // the normalised input and the resized RGB
	if o.Window.Crop == 0 {
		b.PassW, b.PassH, b.Passes, b.Batch = w, h, 1, 1
		encoderCost(&b, e.Model, o.Method, 1, h, w)
		vfmCost(&b, e.Model, o.Method, e.VFM, 1, h, w)
		gh, gw := float64(h/p), float64(w/p)
		maps += 2*Q*gh*gw + Q*out // grid logits, upsampled logits
	} else {
		// seg.Windows' count and crop size, computed without listing the
		// windows (a 1-pixel stride on a large input would be billions).
		crop, stride := o.Window.Crop, max(1, o.Window.Stride)
		nwin := (max(h-crop+stride-1, 0)/stride + 1) * (max(w-crop+stride-1, 0)/stride + 1)
		ch, cw := min(crop, h), min(crop, w)
		if o.Window.PadToPatch {
			ch, cw = (ch+p-1)/p*p, (cw+p-1)/p*p
		}
		if q := o.Method.Pad; q > 0 { // proxyclip: windows padded to a multiple of 56
			ch, cw = (ch+q-1)/q*q, (cw+q-1)/q*q
		}
		batch := o.Window.Batch
		if batch <= 0 {
			batch = 8
		}
		batch = min(batch, nwin)
		b.PassW, b.PassH, b.Passes, b.Batch = cw, ch, nwin, batch
		encoderCost(&b, e.Model, o.Method, batch, ch, cw)
		vfmCost(&b, e.Model, o.Method, e.VFM, batch, ch, cw)
		b.GFLOPs *= float64(nwin) / float64(batch)
		// Each window: cosines, bilinear upsampling (4 multiply-adds a
		// value) and accumulation of Q maps, and its crop's copy.
		b.GFLOPs += float64(nwin) * (Q*10 + 3) * float64(ch*cw) / 1e9
		maps += Q*in + in + Q*float64(ch*cw) // accumulated logits, counts, one upsampled window
		if w != imgW || h != imgH {
			maps += Q * out
		}
	}
	if o.PAMRSteps > 0 {
		P := 8 * float64(max(1, len(o.PAMRDilations)))
		maps += 3*out + 2*P*out + Q*out // guide, neighbours (int32) and affinities, next
		b.GFLOPs += (float64(o.PAMRSteps)*2*P*Q + 30*P) * out / 1e9
	}
	maps += C*out + out                 // probabilities, labels
	b.GFLOPs += (Q*8 + C*4) * out / 1e9 // upsampling, softmax, labels
	b.MapBytes = sat(4 * maps)
	b.PeakBytes = b.ActivationBytes + b.AttentionBytes + b.MapBytes
	return b, nil
}

// ExplainBudget is the cost of Explain on an imgW×imgH image with texts
// texts, computed from the shapes only.
func (e *Engine) ExplainBudget(imgW, imgH, texts int, o ExplainOptions) (Budget, error) {
	if imgW <= 0 || imgH <= 0 {
		return Budget{}, fmt.Errorf("empty image (%dx%d)", imgW, imgH)
	}
	s := o.Size
	b := Budget{Op: "explain", ImageW: imgW, ImageH: imgH, InputW: s, InputH: s, PassW: s, PassH: s, Passes: 1, Batch: 1}
	encoderCost(&b, e.Model, o.Method, 1, s, s)
	vfmCost(&b, e.Model, o.Method, e.VFM, 1, s, s)
	K, out := float64(texts+1), float64(imgW)*float64(imgH)
	N := float64(b.Tokens)
	b.MapBytes = sat(4 * (3*float64(s)*float64(s) + 3*N*K + 2*K*out))
	b.PeakBytes = b.ActivationBytes + b.AttentionBytes + b.MapBytes
	return b, nil
}

// FeaturesBudget is the cost of dense features of one H×W input
// (dense.Method.Features), as freeseg features computes them.
func FeaturesBudget(m *clip.Model, meth dense.Method, H, W int) Budget {
	b := Budget{Op: "features", ImageW: W, ImageH: H, InputW: W, InputH: H, PassW: W, PassH: H, Passes: 1, Batch: 1}
	encoderCost(&b, m, meth, 1, H, W)
	vfmCost(&b, m, meth, nil, 1, H, W)
	b.PeakBytes = b.ActivationBytes + b.AttentionBytes
	return b
}

// limits are the engine's limits with defaults filled in.
func (e *Engine) limits() Limits { return e.Limits.withDefaults() }
