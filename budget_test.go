package freeseg_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

var (
	randOnce sync.Once
	randEng  *freeseg.Engine
)

// randomEngine is a tiny random-weight CLIP with /16 patches (no files).
func randomEngine(t testing.TB) *freeseg.Engine {
	t.Helper()
	randOnce.Do(func() {
		m, err := clip.Random(clip.Config{
			VisionWidth: 32, VisionLayers: 6, VisionHeads: 2, Patch: 16, Grid: 4, EmbedDim: 16,
			TextWidth: 32, TextLayers: 1, TextHeads: 2, ContextLength: 77, VocabSize: 49408,
		}, 1)
		if err != nil {
			t.Fatal(err)
		}
		randEng = freeseg.NewEngine(m)
	})
	if randEng == nil {
		t.Fatal("no engine")
	}
	return randEng
}

// shapeOnly is a ViT-B/16 without weights: the budget reads shapes only.
func shapeOnly() *clip.Model {
	const D, L = 768, 12
	v := &clip.Vision{Width: D, Heads: 12, Patch: 16, Grid: 14, Proj: clip.Linear{In: D, Out: 512}}
	for range L {
		v.Blocks = append(v.Blocks, clip.Block{Heads: 12, FC: clip.Linear{In: D, Out: 4 * D}})
	}
	return &clip.Model{Config: clip.Config{VisionWidth: D, VisionLayers: L, VisionHeads: 12, Patch: 16, Grid: 14, EmbedDim: 512}, Vision: v}
}

// The token counts of the two requests, by hand: a 4096×4096
// input of /16 patches is 256² + 1 = 65,537 tokens; both are refused
// before any work, with a message naming the largest square that fits.
func TestBudgetRefusesHugeInputs(t *testing.T) {
	e := randomEngine(t)
	img := &imageio.RGB{W: 17, H: 8, Pix: make([]uint8, 17*8*3)} // like the 155-byte PNG: tiny
	eo := freeseg.DefaultExplainOptions()
	eo.Resize.Size = 4096
	_, err := e.Explain(context.Background(), img, []string{"cat", "dog"}, eo)
	var be *freeseg.BudgetError
	if !errors.As(err, &be) || be.What != "tokens" || be.Budget.Tokens != 65537 {
		t.Fatalf("explain size 4096: %v", err)
	}
	// DefaultLimits allow 16,385 tokens: floor(sqrt(16384))·16 = 2048.
	if be.Budget.MaxSquare != 2048 || !strings.Contains(err.Error(), "at most 2048 pixels") {
		t.Errorf("hint: %v", err)
	}
	o := freeseg.DefaultOptions()
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeSquare, Size: 4096}
	o.Window = seg.Window{}
	o.PAMRSteps = 0
	v, _ := prompts.ParseClassList("cat; dog")
	_, err = e.Segment(context.Background(), img, v, o)
	if !errors.As(err, &be) || be.Budget.Tokens != 65537 || be.Budget.Passes != 1 {
		t.Fatalf("segment square 4096 whole: %v", err)
	}
	// The same with sliding windows of 224 by 112 is (4096−224+111)//112 + 1
	// = 36 windows per axis of 14² + 1 = 197 tokens: accepted by tokens.
	o.Window = seg.Window{Crop: 224, Stride: 112}
	b, err := e.SegmentBudget(17, 8, 2, 2, o)
	if err != nil || b.Tokens != 197 || b.Passes != 36*36 {
		t.Fatalf("windows: %+v %v", b, err)
	}
}

// The window count is seg.Windows' for odd sizes, crops larger than the
// input and strides that do not divide it; and a 1-pixel stride on a
// large input is counted, not listed (16 million windows here).
func TestBudgetWindowCount(t *testing.T) {
	e := randomEngine(t)
	for _, c := range [][4]int{{336, 448, 224, 112}, {333, 500, 224, 100}, {100, 90, 224, 112}, {1000, 37, 64, 63}, {64, 64, 64, 1}} {
		o := freeseg.DefaultOptions()
		o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
		o.Window = seg.Window{Crop: c[2], Stride: c[3]}
		b, err := e.SegmentBudget(c[1], c[0], 2, 2, o)
		rects := seg.Windows(c[0], c[1], c[2], c[3])
		if err != nil || b.Passes != len(rects) || b.PassH != rects[0].Y1-rects[0].Y0 || b.PassW != rects[0].X1-rects[0].X0 {
			t.Errorf("%v: %+v, want %d windows of %v", c, b, len(rects), rects[0])
		}
	}
	o := freeseg.DefaultOptions()
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
	o.Window = seg.Window{Crop: 16, Stride: 1}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b, _ := e.SegmentBudget(4015, 4015, 2, 2, o)
	runtime.ReadMemStats(&m1)
	if b.Passes != 4000*4000 || m1.TotalAlloc-m0.TotalAlloc > 1<<20 {
		t.Errorf("%d passes, %d bytes allocated", b.Passes, m1.TotalAlloc-m0.TotalAlloc)
	}
	// Even for the tiny model (2 tokens a window) the per-window work of
	// the maps counts: over the service's 4,000 GFLOPs.
	if err := b.Check(freeseg.Limits{MaxGFLOPs: 4000}, 16); err == nil {
		t.Errorf("16 million windows accepted: %.0f GFLOPs", b.GFLOPs)
	}
}

// The windows of the default pipeline on a 500×375 photo, by hand: short
// side 336 gives 448×336; crops of 224 by 112 give 2 rows × 3 columns.
func TestBudgetWindows(t *testing.T) {
	e := randomEngine(t)
	b, err := e.SegmentBudget(500, 375, 27, 3, freeseg.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if b.InputW != 448 || b.InputH != 336 || b.Passes != 6 || b.Tokens != 197 || b.PassW != 224 {
		t.Fatalf("%+v", b)
	}
	if err := b.Check(freeseg.Limits{}, 16); err != nil {
		t.Fatal(err)
	}
}

// The encoder's work for ViT-B/16 at 224 is the published 17.6 G
// multiply-adds (timm's vit_base_patch16_224: 17.58 GMACs), 35.2 GFLOPs.
func TestBudgetGFLOPsViTB16(t *testing.T) {
	e := &freeseg.Engine{Model: shapeOnly()}
	vanilla := dense.Method{Name: "vanilla"}
	b := freeseg.FeaturesBudget(e.Model, nil, vanilla, 224, 224)
	if b.Tokens != 197 || math.Abs(b.GFLOPs-35.16)/35.16 > 0.03 {
		t.Fatalf("tokens %d, %.2f GFLOPs; want 197 and 35.2 ±3%%", b.Tokens, b.GFLOPs)
	}
	// Attention grows with the square of the tokens: 2048 whole is far
	// more than 64× the work of 256 (linear layers alone would be 64×).
	small := freeseg.FeaturesBudget(e.Model, nil, vanilla, 256, 256)
	big := freeseg.FeaturesBudget(e.Model, nil, vanilla, 2048, 2048)
	if r := big.GFLOPs / small.GFLOPs; r < 100 {
		t.Errorf("2048/256 work ratio %.0f, want > 100 (quadratic attention)", r)
	}
}

// The memory estimate against the allocator's own count: NACLIP on a
// 1024×1024 whole input builds a 4097² float32 bias (64 MiB), which
// dominates what the tiny model allocates. With the collector off, the
// bytes allocated during the call bound its peak from above, and the
// estimate must be of the same size (not off by a factor).
func TestBudgetMemoryMatchesAllocation(t *testing.T) {
	e := randomEngine(t)
	b := freeseg.FeaturesBudget(e.Model, nil, dense.NACLIP, 1024, 1024)
	if b.Tokens != 4097 || b.AttentionBytes < 4097*4097*4 {
		t.Fatalf("%+v", b)
	}
	x := make([]float32, 3*1024*1024)
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f, err := dense.NACLIP.Features(context.Background(), e.Model, x, 1, 1024, 1024)
	runtime.ReadMemStats(&m1)
	if err != nil || f.Tokens() != b.Tokens {
		t.Fatal(err)
	}
	got := float64(m1.TotalAlloc - m0.TotalAlloc)
	t.Logf("naclip 1024x1024 whole: estimate %d bytes (attention %d), allocated %.0f", b.PeakBytes, b.AttentionBytes, got)
	if r := float64(b.PeakBytes) / got; r < 0.7 || r > 2 {
		t.Errorf("estimate %d bytes, allocated %.0f (ratio %.2f)", b.PeakBytes, got, r)
	}
}

// Every number of the options is finite and in range before any work:
// Inf and NaN are refused by name (the logit_scale=Inf gave NaN
// probabilities and a JSON error after the outputs were written).
func TestValidateFinite(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for _, c := range []struct {
		name string
		set  func(*freeseg.Options)
	}{
		{"logit scale", func(o *freeseg.Options) { o.LogitScale = inf }},
		{"logit scale", func(o *freeseg.Options) { o.LogitScale = nan }},
		{"logit scale", func(o *freeseg.Options) { o.LogitScale = 1e6 }},
		{"probability threshold", func(o *freeseg.Options) { o.ProbThd = nan }},
		{"area threshold", func(o *freeseg.Options) { o.AreaThd = nan }},
		{"partial-label tau", func(o *freeseg.Options) { o.Partial.Tau = inf }},
		{"partial-label top-q", func(o *freeseg.Options) { o.Partial.TopQ = nan }},
		{"partial-label threshold", func(o *freeseg.Options) { o.Partial.Thd = nan }},
		{"PAMR steps", func(o *freeseg.Options) { o.PAMRSteps = 1 << 30 }},
		{"PAMR dilation", func(o *freeseg.Options) { o.PAMRDilations = []int{0} }},
	} {
		o := freeseg.DefaultOptions()
		c.set(&o)
		err := o.Validate(12)
		if err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := freeseg.DefaultOptions().Validate(12); err != nil {
		t.Fatal(err)
	}
}

// The text work counts only the names the cache does not hold, once each,
// for every template of the set.
func TestBudgetTextCost(t *testing.T) {
	e := freeseg.NewEngine(randomEngine(t).Model) // its own, empty cache
	names := []string{"zebra crossing", "aardvark", "zebra crossing"}
	var single, all freeseg.Budget
	if err := e.AddTextCost(&single, names, "single"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddTextCost(&all, names, "openai80"); err != nil {
		t.Fatal(err)
	}
	if single.TextSequences != 2 || all.TextSequences != 160 || !(single.TextGFLOPs > 0) || all.TextGFLOPs < 40*single.TextGFLOPs {
		t.Fatalf("single %d prompts %.4f GFLOPs; openai80 %d prompts %.4f GFLOPs", single.TextSequences, single.TextGFLOPs, all.TextSequences, all.TextGFLOPs)
	}
	if _, err := e.Classifier([]string{"aardvark"}, "single"); err != nil {
		t.Fatal(err)
	}
	var after freeseg.Budget
	e.AddTextCost(&after, names, "single")
	if after.TextSequences != 1 {
		t.Errorf("after caching one name: %d prompts", after.TextSequences)
	}
	l := freeseg.Limits{MaxTextGFLOPs: single.TextGFLOPs / 2}
	var be *freeseg.BudgetError
	if err := all.Check(l, 16); !errors.As(err, &be) || be.What != "text" || !strings.Contains(err.Error(), "single") {
		t.Errorf("%v", err)
	}
	// The engine's own limits do not bound text work.
	if err := all.Check(freeseg.Limits{}, 16); err != nil {
		t.Error(err)
	}
}

// ProxyCLIP's vision foundation model (DINO ViT-B/8 until one is loaded)
// runs on a grid twice as fine: its tokens set the pass's size, by hand
// 1 + (336/8)² = 1,765 for a 336 window (padded to a multiple of 56), and
// a whole 1024² input is 1 + 128² = 16,385, refused with a hint in
// /8 patches.
func TestBudgetProxy(t *testing.T) {
	e := freeseg.NewEngine(randomEngine(t).Model)
	o := freeseg.DefaultOptions()
	o.Method = dense.ProxyCLIP
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
	o.Window = seg.Window{Crop: 336, Stride: 112}
	b, err := e.SegmentBudget(600, 400, 2, 2, o)
	if err != nil || b.Tokens != 1765 || b.PassW != 336 || b.Patch != 8 {
		t.Fatalf("%+v %v", b, err)
	}
	o.Window = seg.Window{Crop: 300, Stride: 112} // padded to 336
	if b, _ := e.SegmentBudget(600, 400, 2, 2, o); b.PassW != 336 || b.Tokens != 1765 {
		t.Errorf("padded window: %+v", b)
	}
	plain := o
	plain.Method = dense.SCLIP
	pb, _ := e.SegmentBudget(600, 400, 2, 2, plain)
	if b, _ := e.SegmentBudget(600, 400, 2, 2, o); !(b.GFLOPs > pb.GFLOPs) || !(b.PeakBytes > pb.PeakBytes) {
		t.Errorf("the VFM adds no cost: %+v vs %+v", b, pb)
	}
	o.Window = seg.Window{}
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeSquare, Size: 1024}
	b, _ = e.SegmentBudget(600, 400, 2, 2, o)
	var be *freeseg.BudgetError
	if err := b.Check(freeseg.Limits{MaxTokens: 4097}, 16); !errors.As(err, &be) || be.Budget.Tokens != 16385 || be.Budget.MaxSquare != 512 {
		t.Errorf("%v", err)
	}
}
