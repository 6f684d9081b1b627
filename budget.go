package freeseg

import (
	"fmt"
	"math"
	"runtime"
	"strings"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
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
	// TextSequences are the prompts the text encoder must run for the
	// names not in the classifier cache (names × templates), TextGFLOPs
	// their work (an upper estimate: prompts sharing a template's prefix
	// encode it once). Set by AddTextCost.
	TextSequences int
	TextGFLOPs    float64
	// Patch is the patch of the model whose pass has the most tokens (the
	// vision foundation model's for a proxy method), for the hints.
	Patch int
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
	// MaxTextGFLOPs bounds Budget.TextGFLOPs. The engine does not
	// estimate text work itself (DefaultLimits: no bound); the service
	// does, before a request waits for a slot.
	MaxTextGFLOPs float64
}

// DefaultLimits are the engine's (and so the command line's) limits: a
// 2048×2048 whole-image pass of a /16 model (16,385 tokens), 8 GiB of
// working memory, 50,000 GFLOPs (minutes on a desktop CPU). The service's
// defaults are smaller (server.DefaultConfig).
func DefaultLimits() Limits {
	return Limits{MaxTokens: 16385, MaxBytes: 8 << 30, MaxGFLOPs: 50_000, MaxTextGFLOPs: math.Inf(1)}
}

// NoLimits turns every check off (the command line's --force).
func NoLimits() Limits {
	return Limits{MaxTokens: math.MaxInt, MaxBytes: math.MaxInt64, MaxGFLOPs: math.Inf(1), MaxTextGFLOPs: math.Inf(1)}
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
	if !(l.MaxTextGFLOPs > 0) {
		l.MaxTextGFLOPs = d.MaxTextGFLOPs
	}
	return l
}

// BudgetError says which limit a call exceeds. It is returned by
// Budget.Check and by Engine.Segment and Engine.Explain before any work.
type BudgetError struct {
	Budget Budget
	Limits Limits
	// What is "tokens", "memory", "gflops" or "text".
	What string
}

func (e *BudgetError) Error() string {
	b, l := e.Budget, e.Limits
	switch e.What {
	case "tokens":
		return fmt.Sprintf("%s: a network input pass of %dx%d pixels is %d tokens, more than the limit of %d (its attention alone grows with the square of the tokens): use an input side of at most %d pixels, or sliding windows",
			b.Op, b.PassW, b.PassH, b.Tokens, l.MaxTokens, b.MaxSquare)
	case "text":
		return fmt.Sprintf("%s: %d prompts to encode for names not yet cached are about %.0f GFLOPs of text encoding, more than the limit of %.0f: use fewer new names, or a smaller template set (single)",
			b.Op, b.TextSequences, b.TextGFLOPs, l.MaxTextGFLOPs)
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
	if b.Patch > 0 {
		patch = b.Patch
	}
	if patch >= 1 && l.MaxTokens < math.MaxInt {
		b.MaxSquare = int(math.Sqrt(float64(max(0, l.MaxTokens-1)))) * patch
	}
	switch {
	case b.Tokens > l.MaxTokens:
		return &BudgetError{Budget: *b, Limits: l, What: "tokens"}
	case b.PeakBytes > l.MaxBytes:
		return &BudgetError{Budget: *b, Limits: l, What: "memory"}
	case b.GFLOPs > l.MaxGFLOPs:
		return &BudgetError{Budget: *b, Limits: l, What: "gflops"}
	case b.TextGFLOPs > l.MaxTextGFLOPs:
		return &BudgetError{Budget: *b, Limits: l, What: "text"}
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
	case ResizeShort:
		return imageio.KeepRatioSize(imgW, imgH, r.Size, r.MaxLong)
	case ResizeSquare:
		return r.Size, r.Size
	}
	return imgW, imgH
}

// encoderCost fills the tokens, activation, attention and GFLOPs of B
// passes of H×W through the method's encoder (dense.Method.Features), and
// for a proxy method those of the vision foundation model vfm too.
func encoderCost(b *Budget, m *clip.Model, vfm *dino.Config, meth dense.Method, B, H, W int) {
	v := m.Vision
	p := max(1, v.Patch)
	gh, gw := H/p, W/p
	N := float64(1 + gh*gw)
	b.Tokens = 1 + gh*gw
	D, E := float64(v.Width), float64(m.Config.EmbedDim)
	L := float64(len(v.Blocks))
	M, heads := 0.0, 1 // no blocks: no MLP
	if len(v.Blocks) != 0 {
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
	b.Patch = p
	if meth.Proxy && vfm != nil {
		proxyCost(b, vfm, D, E, float64(gh*gw), B, H, W)
	}
}

// defaultVFM are the shapes of DefaultVFM (DINO ViT-B/8), assumed for a
// proxy method's budget while the engine's VFM is not loaded yet.
var defaultVFM = dino.Config{Width: 768, Layers: 12, Heads: 12, Patch: 8, MLP: 3072}

// vfmConfig is the engine's VFM's shapes, or DefaultVFM's before it is
// loaded.
func (e *Engine) vfmConfig() *dino.Config {
	e.vfmMu.Lock()
	defer e.vfmMu.Unlock()
	if e.VFM != nil {
		c := e.VFM.Config
		return &c
	}
	c := defaultVFM
	return &c
}

// proxyCost adds ProxyCLIP's vision foundation model to b: its own
// transformer pass over its (finer) grid, and the proxy attention over
// that grid (dense/proxy.go), whose output lives on the VFM grid. The
// pass with the most tokens sets b.Tokens and the patch of the hints.
func proxyCost(b *Budget, v *dino.Config, D, E, clipPatches float64, B, H, W int) {
	pv := max(1, v.Patch)
	n := float64((H / pv) * (W / pv))
	Nv := 1 + n
	Dv, Mv, Lv := float64(v.Width), float64(v.MLP), float64(v.Layers)
	if Mv == 0 {
		Mv = 4 * Dv
	}
	fb := float64(B)
	heads := max(1, v.Heads)
	workers := float64(min(runtime.GOMAXPROCS(0), B*heads))
	// The VFM's stream, LN, q|k|v, context, MLP hidden; CLIP's values
	// resized to the VFM grid, the unit features, the proxy context and
	// output rows and the head; per worker a 64-row block of scores.
	act := fb*Nv*(6*Dv+Mv) + 3*D*n + n*Dv + fb*Nv*(3*D+E) + D*clipPatches
	b.ActivationBytes += sat(4 * act)
	att := workers * (64*n + 2*Nv*Dv/float64(heads) + 8192)
	if attn.Kernel() == "unfused" {
		att += workers * Nv * Nv
	}
	b.AttentionBytes += sat(4 * att)
	perBlock := 2*Nv*(4*Dv*Dv+2*Dv*Mv) + 4*Nv*Nv*Dv
	embed := 2 * n * 3 * float64(pv*pv) * Dv
	proxy := 2*n*n*Dv + 2*n*n*D + 2*n*D*D + 2*n*D*E // F·Fᵀ, softmax·V, out_proj, head
	b.GFLOPs += fb * (Lv*perBlock + embed + proxy) / 1e9
	if int(Nv) > b.Tokens {
		b.Tokens, b.Patch = int(Nv), pv
	}
}

// SegmentBudget is the cost of Segment on an imgW×imgH image with
// queries text queries in classes classes, computed from the shapes only.
func (e *Engine) SegmentBudget(imgW, imgH, queries, classes int, o Options) (Budget, error) {
	if imgW <= 0 || imgH <= 0 {
		return Budget{}, fmt.Errorf("empty image (%dx%d)", imgW, imgH)
	}
	b := Budget{Op: "segment", ImageW: imgW, ImageH: imgH}
	vfm := e.vfmFor(o.Method)
	w, h := inputSize(imgW, imgH, o.Resize)
	b.InputW, b.InputH = w, h
	p := max(1, e.Model.Vision.Patch)
	Q, C := float64(queries), float64(classes)
	in, out := float64(w)*float64(h), float64(imgW)*float64(imgH)
	maps := 3*in + in*3/4 // the normalised input and the resized RGB
	win := o.window()
	if win.Crop == 0 {
		b.PassW, b.PassH, b.Passes, b.Batch = w, h, 1, 1
		encoderCost(&b, e.Model, vfm, o.Method, 1, h, w)
		gh, gw := float64(h/p), float64(w/p)
		maps += 2*Q*gh*gw + Q*out // grid logits, upsampled logits
	} else {
		// seg.Windows' count and crop size, computed without listing the
		// windows (a 1-pixel stride on a large input would be billions).
		crop, stride := win.Crop, max(1, win.Stride)
		nwin := (max(h-crop+stride-1, 0)/stride + 1) * (max(w-crop+stride-1, 0)/stride + 1)
		ch, cw := min(crop, h), min(crop, w)
		if win.PadToPatch {
			mult := p
			if win.PadMultiple > 0 {
				mult = win.PadMultiple
			}
			ch, cw = (ch+mult-1)/mult*mult, (cw+mult-1)/mult*mult
		}
		batch := win.Batch
		if batch <= 0 {
			batch = 8
		}
		batch = min(batch, nwin)
		b.PassW, b.PassH, b.Passes, b.Batch = cw, ch, nwin, batch
		encoderCost(&b, e.Model, vfm, o.Method, batch, ch, cw)
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
func (e *Engine) ExplainBudget(imgW, imgH, texts int, o Options) (Budget, error) {
	if imgW <= 0 || imgH <= 0 {
		return Budget{}, fmt.Errorf("empty image (%dx%d)", imgW, imgH)
	}
	s := o.Resize.Size
	b := Budget{Op: "explain", ImageW: imgW, ImageH: imgH, InputW: s, InputH: s, PassW: s, PassH: s, Passes: 1, Batch: 1}
	encoderCost(&b, e.Model, e.vfmFor(o.Method), o.Method, 1, s, s)
	K, out := float64(texts+1), float64(imgW)*float64(imgH)
	N := float64(b.Tokens)
	b.MapBytes = sat(4 * (3*float64(s)*float64(s) + 3*N*K + 2*K*out))
	b.PeakBytes = b.ActivationBytes + b.AttentionBytes + b.MapBytes
	return b, nil
}

// FeaturesBudget is the cost of dense features of one H×W input
// (dense.Method.Features), as freeseg features computes them; vfm is the
// shapes of a proxy method's vision foundation model (nil: DefaultVFM's).
func FeaturesBudget(m *clip.Model, vfm *dino.Config, meth dense.Method, H, W int) Budget {
	b := Budget{Op: "features", ImageW: W, ImageH: H, InputW: W, InputH: H, PassW: W, PassH: H, Passes: 1, Batch: 1}
	if vfm == nil {
		c := defaultVFM
		vfm = &c
	}
	encoderCost(&b, m, vfm, meth, 1, H, W)
	b.PeakBytes = b.ActivationBytes + b.AttentionBytes
	return b
}

// vfmFor is the VFM shapes a method needs (nil for non-proxy methods).
func (e *Engine) vfmFor(m dense.Method) *dino.Config {
	if !m.Proxy {
		return nil
	}
	return e.vfmConfig()
}

// limits are the engine's limits with defaults filled in.
func (e *Engine) limits() Limits { return e.Limits.withDefaults() }

// AddTextCost sets b's text work for encoding names with the template set
// templates: the prompts of the names the classifier cache does not hold,
// each costed by its token count (template plus name, estimated from their
// separate encodings) through the text transformer.
func (e *Engine) AddTextCost(b *Budget, names []string, set prompts.TemplateSet) error {
	tpl, err := set.List()
	if err != nil {
		return err
	}
	m := e.Model
	missing := e.Cache.Uncached(m, names, string(set), tpl)
	b.TextSequences, b.TextGFLOPs = len(missing)*len(tpl), 0
	if len(missing) == 0 || m.Text == nil || m.Tokenizer == nil {
		return nil
	}
	D := float64(m.Text.Width)
	var M float64 // no blocks: no MLP (and no work)
	if len(m.Text.Blocks) != 0 {
		M = float64(m.Text.Blocks[0].FC.Out)
	}
	L, ctx := float64(len(m.Text.Blocks)), max(1, m.Text.Context)
	tplTokens := make([]int, len(tpl))
	for j, t := range tpl {
		tplTokens[j] = len(m.Tokenizer.Encode(strings.ReplaceAll(t, prompts.Placeholder, ""))) + 2 // start and end
	}
	var flops float64
	for _, n := range missing {
		nt := len(m.Tokenizer.Encode(n))
		for _, tt := range tplTokens {
			S := float64(min(ctx, tt+nt))
			flops += L * S * (2*(4*D*D+2*D*M) + 4*S*D)
		}
	}
	b.TextGFLOPs = flops / 1e9
	return nil
}
