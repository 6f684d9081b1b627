package freeseg_test

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/seg"
	"github.com/freeseg/freeseg/tensor/attn"
)

// handModel is a shape-only ViT whose numbers are easy to follow by hand:
// width 64, 4 heads (head size 16), an MLP of 100 (not 4×64, so the MLP
// width is read from the blocks), 2 blocks, /16 patches, embedding 8.
func handModel() *clip.Model {
	const D = 64
	v := &clip.Vision{Width: D, Heads: 4, Patch: 16, Grid: 2, Proj: clip.Linear{In: D, Out: 8}}
	for range 2 {
		v.Blocks = append(v.Blocks, clip.Block{Heads: 4, FC: clip.Linear{In: D, Out: 100}})
	}
	return &clip.Model{Config: clip.Config{VisionWidth: D, VisionLayers: 2, VisionHeads: 4, Patch: 16, Grid: 2, EmbedDim: 8}, Vision: v}
}

// The encoder's cost of a 32×48 input (2×3 patches, N = 7 tokens), worked
// out by hand from what the encoder holds and multiplies:
//
//   - activations, in floats: the crop 3·32·48 = 4,608; the patches
//     6·3·16² = 4,608; per token x, ln, q|k|v (3·64), ctx, MLP hidden (100),
//     the changed path's stream and the head's ln (64 each) and output (8):
//     7·620 = 4,340; the positional table 7·64 = 448: 14,004 floats,
//     56,016 bytes;
//   - attention with two workers (GOMAXPROCS 2, four heads): the fused
//     kernel's packed keys and values 2·7·16 plus 8,192 of tiles per worker,
//     (2·(224 + 8,192))·4 = 67,328 bytes; the unfused one a 7×7 logits
//     matrix per worker, 2·49·4 = 392 bytes; NACLIP adds its 7×7 bias table
//     (196 bytes);
//   - work, in multiply-adds ×2: per block q|k|v and out projections
//     2·7·4·64², the MLP 2·7·2·64·100, the two attention products 4·7²·64:
//     421,120, two blocks 842,240; the patch embedding 2·6·768·64 = 589,824
//     and the head 2·7·64·8 = 7,168. The changed last block of SCLIP and
//     NACLIP runs one more attention and out projection (2·7·64² + 4·7²·64 =
//     69,888), SCLIP's q-q plus k-k one more attention product (12,544).
func TestBudgetHandCase(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	m := handModel()
	fused, unfused := int64(67328), int64(392)
	for _, c := range []struct {
		meth  dense.Method
		bias  int64
		flops float64
	}{
		{dense.Method{Name: "vanilla"}, 0, 1439232},
		{dense.SCLIP, 0, 1439232 + 69888 + 12544},
		{dense.NACLIP, 196, 1439232 + 69888},
	} {
		b := freeseg.FeaturesBudget(m, nil, c.meth, 32, 48)
		att := fused
		if attn.Kernel() == "unfused" {
			att = unfused
		}
		att += c.bias
		if b.Tokens != 7 || b.Patch != 16 || b.ActivationBytes != 56016 || b.AttentionBytes != att ||
			b.PeakBytes != 56016+att || math.Abs(b.GFLOPs*1e9-c.flops) > 1e-3 {
			t.Errorf("%s: tokens %d patch %d activations %d attention %d peak %d, %.0f FLOPs; want 7, 16, 56016, %d, %d, %.0f",
				c.meth.Name, b.Tokens, b.Patch, b.ActivationBytes, b.AttentionBytes, b.PeakBytes, b.GFLOPs*1e9, att, 56016+att, c.flops)
		}
	}
}

// The largest square under a token limit, by hand: 100 tokens allow 9×9
// patches (82 tokens; 10×10 would be 101). The budget's own patch wins
// over the argument; without a limit on tokens there is no largest square.
func TestBudgetMaxSquare(t *testing.T) {
	l := freeseg.Limits{MaxTokens: 100}
	for _, c := range []struct{ own, arg, want int }{{0, 16, 144}, {8, 16, 72}, {0, 1, 9}, {0, 0, 0}} {
		b := freeseg.Budget{Patch: c.own}
		if err := b.Check(l, c.arg); err != nil || b.MaxSquare != c.want {
			t.Errorf("patch %d, argument %d: max square %d (%v), want %d", c.own, c.arg, b.MaxSquare, err, c.want)
		}
	}
	b := freeseg.Budget{Patch: 16}
	if err := b.Check(freeseg.Limits{MaxTokens: math.MaxInt}, 16); err != nil || b.MaxSquare != 0 {
		t.Errorf("no token limit: max square %d (%v), want 0", b.MaxSquare, err)
	}
}

// The memory message's sizes at their unit boundaries: 1 GiB is "1.0
// GiB", 1 MiB "1 MiB", a byte more than a KiB rounds up to 2 KiB, a byte
// under 1 MiB is 1024 KiB.
func TestBudgetMemoryMessageUnits(t *testing.T) {
	b := freeseg.Budget{Op: "segment", PeakBytes: 1 << 30, ActivationBytes: 1 << 20, AttentionBytes: 1, MapBytes: 1025}
	err := b.Check(freeseg.Limits{MaxBytes: 1<<20 - 1}, 16)
	var be *freeseg.BudgetError
	if err == nil {
		t.Fatal("over the memory limit, no error")
	}
	be, _ = err.(*freeseg.BudgetError)
	msg := err.Error()
	for _, want := range []string{"about 1.0 GiB", "activations 1 MiB", "attention 1 KiB", "maps 2 KiB", "limit of 1024 KiB"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if be == nil || be.What != "memory" {
		t.Errorf("%#v", err)
	}
}

// Segment's and Explain's budgets on the hand model, worked out by hand.
// Two windows of 32×32 on a 48×32 image (crop 32, stride 16: one row, two
// columns), batched together (B = 2, N = 5):
//
//   - activations 3·2·1,024 + 4·3·256 + 2·5·620 + 5·64 = 15,736 floats;
//     attention (two workers) 2·(2·5·16 + 8,192) floats fused, 2·25 unfused;
//   - maps: the normalised input and the resized RGB 3·1,536 + 1,536·¾,
//     the accumulated logits, counts and one upsampled window
//     3·1,536 + 1,536 + 3·1,024, probabilities and labels 2·1,536 + 1,536:
//     19,584 floats;
//   - work: the encoder on the batch 2·(2·298,240 + 393,216 + 5,120) =
//     1,989,632; each window's cosines, upsampling and accumulation
//     2·(3·10 + 3)·1,024 = 67,584; upsampling, softmax and labels
//     (3·8 + 2·4)·1,536 = 49,152.
//
// The whole image squared to 32×32 (B = 1) with PAMR (10 steps, two
// dilations: 16 neighbours):
//
//   - activations 3·1,024 + 4·3·256 + 5·620 + 5·64 = 9,564 floats;
//   - maps 3·1,024 + 1,024·¾; grid and upsampled logits 2·3·4 + 3·1,536;
//     PAMR's guide, neighbours and affinities and next 3·1,536 +
//     2·16·1,536 + 3·1,536; probabilities and labels: 71,448 floats;
//   - work 994,816 + PAMR (10·2·16·3 + 30·16)·1,536 = 2,211,840 + 49,152.
//
// Explain of two texts (three maps with the redundant one) on the same
// square input: maps 3·1,024 + 3·5·3 + 2·3·1,536 = 12,333 floats.
func TestSegmentExplainBudgetHandCase(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	e := &freeseg.Engine{Model: handModel()}
	unfused := attn.Kernel() == "unfused"
	attBytes := func(N int64) int64 {
		if unfused {
			return 4 * 2 * N * N
		}
		return 4 * 2 * (2*N*16 + 8192)
	}
	o := freeseg.DefaultOptions()
	o.Method = dense.Method{Name: "vanilla"}
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
	o.Window = seg.Window{Crop: 32, Stride: 16}
	o.PAMRSteps = 0
	type want struct {
		passes, batch  int
		act, att, maps int64
		flops          float64
	}
	check := func(name string, b freeseg.Budget, err error, w want) {
		t.Helper()
		if err != nil || b.Passes != w.passes || b.Batch != w.batch || b.Tokens != 5 || b.ActivationBytes != w.act ||
			b.AttentionBytes != w.att || b.MapBytes != w.maps || b.PeakBytes != w.act+w.att+w.maps || math.Abs(b.GFLOPs*1e9-w.flops) > 1e-3 {
			t.Errorf("%s: %+v (%v);\nwant passes %d batch %d activations %d attention %d maps %d, %.0f FLOPs", name, b, err,
				w.passes, w.batch, w.act, w.att, w.maps, w.flops)
		}
	}
	b, err := e.SegmentBudget(48, 32, 3, 2, o)
	check("windows", b, err, want{2, 2, 4 * 15736, attBytes(5), 4 * 19584, 1989632 + 67584 + 49152})

	// One window on the image squared to 32×32: the maps add the logits
	// upsampled to the 48×32 image: the input copies 3·1,024 + 1,024·¾,
	// the window maps 3·1,024 + 1,024 + 3·1,024, the upsampled logits
	// 3·1,536, probabilities and labels 3·1,536: 20,224 floats; work 994,816 +
	// 33·1,024 + 49,152.
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeSquare, Size: 32}
	b, err = e.SegmentBudget(48, 32, 3, 2, o)
	check("one window, resized", b, err, want{1, 1, 4 * 9564, attBytes(5), 4 * 20224, 994816 + 33792 + 49152})

	o.Whole = true
	o.PAMRSteps, o.PAMRDilations = 10, []int{8, 16}
	b, err = e.SegmentBudget(48, 32, 3, 2, o)
	check("whole with PAMR", b, err, want{1, 1, 4 * 9564, attBytes(5), 4 * 71448, 994816 + 2211840 + 49152})

	x := freeseg.DefaultExplainOptions()
	x.Method = dense.Method{Name: "vanilla"}
	x.Resize = freeseg.Resize{Mode: freeseg.ResizeSquare, Size: 32}
	b, err = e.ExplainBudget(48, 32, 2, x)
	check("explain", b, err, want{1, 1, 4 * 9564, attBytes(5), 4 * 12333, 994816})
}

// ProxyCLIP on the hand model with a small VFM (width 32, one block, two
// heads, /8 patches, MLP width left 0: 4·32 = 128) on 32×48: the VFM has
// 4×6 = 24 patches, Nv = 25 tokens, which set Tokens and Patch. Added to
// CLIP's part (that of TestBudgetHandCase with one changed block, whose
// extra attention and out projection are 69,888 FLOPs):
//
//   - activations 25·(6·32 + 128) + 3·64·24 + 24·32 + 25·(3·64 + 8) + 64·6
//     = 18,760 floats: the VFM's stream, LN, q|k|v, context and MLP, CLIP's
//     values on the VFM grid, unit features, proxy context and output rows,
//     and CLIP's values on its own grid;
//   - attention per worker (two): a 64-row block of scores 64·24, packed
//     keys and values 2·25·16, 8,192 of tiles; unfused also 25² logits;
//   - work: the VFM block 2·25·(4·32² + 2·32·128) + 4·25²·32 = 694,400, its
//     patch embedding 2·24·192·32 = 294,912, the proxy attention's F·Fᵀ
//     2·24²·32, softmax·V 2·24²·64, out projection 2·24·64² and head
//     2·24·64·8: 331,776.
func TestProxyBudgetHandCase(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	vfm := &dino.Config{Width: 32, Layers: 1, Heads: 2, Patch: 8}
	b := freeseg.FeaturesBudget(handModel(), vfm, dense.ProxyCLIP, 32, 48)
	att := int64(67328 + 4*2*(64*24+2*25*16+8192))
	if attn.Kernel() == "unfused" {
		att = 392 + 4*2*(64*24+2*25*16+8192+625)
	}
	act := int64(56016 + 4*18760)
	flops := float64(1439232 + 69888 + 694400 + 294912 + 331776)
	if b.Tokens != 25 || b.Patch != 8 || b.ActivationBytes != act || b.AttentionBytes != att || b.PeakBytes != act+att ||
		math.Abs(b.GFLOPs*1e9-flops) > 1e-3 {
		t.Errorf("%+v;\nwant tokens 25, patch 8, activations %d, attention %d, %.0f FLOPs", b, act, att, flops)
	}
}

// Edge cases of the budget's shapes: a VFM pass with as many tokens as
// CLIP's (14-pixel patches on 16×96: 1×6, like CLIP's /16) leaves CLIP's
// patch for the hints; ClearCLIP pads a 40-pixel crop to 48 (its patch
// multiple); an empty image is refused by both budgets.
func TestBudgetEdgeCases(t *testing.T) {
	vfm := &dino.Config{Width: 32, Layers: 1, Heads: 2, Patch: 14}
	b := freeseg.FeaturesBudget(handModel(), vfm, dense.ProxyCLIP, 16, 96)
	if b.Tokens != 7 || b.Patch != 16 {
		t.Errorf("equal token counts: tokens %d, patch %d; want 7 and CLIP's 16", b.Tokens, b.Patch)
	}
	e := &freeseg.Engine{Model: handModel()}
	o := freeseg.DefaultOptions()
	o.Method = dense.ClearCLIP
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
	o.Window = seg.Window{Crop: 40, Stride: 20}
	b, err := e.SegmentBudget(40, 40, 2, 2, o)
	if err != nil || b.PassW != 48 || b.PassH != 48 || b.Passes != 1 || b.Tokens != 10 {
		t.Errorf("ClearCLIP crop 40: %+v (%v); want one 48×48 pass of 10 tokens", b, err)
	}
	for _, wh := range [][2]int{{0, 10}, {10, 0}} {
		if _, err := e.SegmentBudget(wh[0], wh[1], 2, 2, o); err == nil || !strings.Contains(err.Error(), "empty image") {
			t.Errorf("segment budget of %dx%d: %v", wh[0], wh[1], err)
		}
		if _, err := e.ExplainBudget(wh[0], wh[1], 2, freeseg.DefaultExplainOptions()); err == nil || !strings.Contains(err.Error(), "empty image") {
			t.Errorf("explain budget of %dx%d: %v", wh[0], wh[1], err)
		}
	}
}

// The text encoder's work by hand on the random engine's text transformer
// (width 32, one block, MLP 128, context 77), template set single ("a
// photo of a {}.": 5 tokens without the name, 7 with start and end):
// "aardvark" is 3 tokens, a sequence of 10, 10·(2·(4·32² + 2·32·128) +
// 4·10·32) = 258,560 FLOPs; "zebra crossing" 2 tokens, 9·25,728 =
// 231,552; a name of 80 tokens is cut at the context, 77·34,432 =
// 2,651,264.
func TestTextBudgetHandCase(t *testing.T) {
	for _, c := range []struct {
		names []string
		flops float64
	}{
		{[]string{"aardvark"}, 258560},
		{[]string{"aardvark", "zebra crossing"}, 258560 + 231552},
		{[]string{strings.Repeat("cat ", 80)}, 2651264},
	} {
		e := freeseg.NewEngine(randomEngine(t).Model) // its own, empty cache
		var b freeseg.Budget
		if err := e.AddTextCost(&b, c.names, "single"); err != nil || b.TextSequences != len(c.names) || math.Abs(b.TextGFLOPs*1e9-c.flops) > 1e-3 {
			t.Errorf("%.20q: %d prompts, %.0f FLOPs (%v); want %d, %.0f", c.names, b.TextSequences, b.TextGFLOPs*1e9, err, len(c.names), c.flops)
		}
	}
}
