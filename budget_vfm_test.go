package freeseg_test

import (
	"errors"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/seg"
)

// proxyclip's budget counts the VFM: DINO ViT-B/8 on a 336 window is 1,765
// tokens and about 0.42 TFLOP (hand count: per block 24·N·D² + 4·N²·D with
// N = 1765, D = 768, twelve blocks), on top of CLIP's, and a large whole
// image is refused for its VFM tokens before any work.
func TestProxyCLIPBudget(t *testing.T) {
	c, err := clip.Arch("ViT-B/16")
	if err != nil {
		t.Fatal(err)
	}
	c.VisionLayers, c.TextLayers = 12, 1 // the text tower plays no part in the budget
	m, err := clip.Random(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := freeseg.NewEngine(m)
	o := freeseg.DefaultOptions()
	o.Window = seg.Window{Crop: 336, Stride: 112}
	o.PAMRSteps = 0
	o.Method = dense.SCLIP
	sc, err := e.SegmentBudget(336, 336, 2, 2, o)
	if err != nil {
		t.Fatal(err)
	}
	o.Method = dense.ProxyCLIP
	px, err := e.SegmentBudget(336, 336, 2, 2, o)
	if err != nil {
		t.Fatal(err)
	}
	const N, D = 1765.0, 768.0
	dinoGF := 12 * (24*N*D*D + 4*N*N*D) / 1e9
	if px.Tokens != 1765 || px.GFLOPs-sc.GFLOPs < dinoGF || px.GFLOPs-sc.GFLOPs > 1.2*dinoGF {
		t.Fatalf("proxyclip %d tokens, %.0f GFLOPs; sclip %.0f; DINO alone %.0f", px.Tokens, px.GFLOPs, sc.GFLOPs, dinoGF)
	}
	if px.PeakBytes <= sc.PeakBytes {
		t.Fatalf("proxyclip peak %d not above sclip's %d", px.PeakBytes, sc.PeakBytes)
	}
	// A 320 crop is padded to 336 as the engine does.
	o.Window = seg.Window{Crop: 320, Stride: 112}
	pad, _ := e.SegmentBudget(400, 320, 2, 2, o)
	if pad.PassW != 336 || pad.PassH != 336 {
		t.Fatalf("padded pass %dx%d, want 336x336", pad.PassW, pad.PassH)
	}
	// Whole image of 1536x1536: CLIP's 9,217 tokens pass, DINO's 36,865 do not.
	o.Window = seg.Window{}
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
	b, _ := e.SegmentBudget(1536, 1536, 2, 2, o)
	var be *freeseg.BudgetError
	if err := b.Check(freeseg.DefaultLimits(), 16); !errors.As(err, &be) || be.What != "tokens" || b.Tokens != 36865 {
		t.Fatalf("whole 1536 image: %d tokens, %v", b.Tokens, err)
	}
}
