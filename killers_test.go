package freeseg_test

// Tests that kill the bugs planted by the audit of issue 15, each with an
// expectation that does not come from the code under test: a reference
// output, a hand-computed case, or a property the wrong code violates (the
// table in docs/testing.md says which test kills which bug).

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/interp"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

var (
	rndOnce sync.Once
	rndM    [2]*clip.Model
	rndErr  error
)

// randomModels are two small random CLIPs (different seeds, 6 vision
// blocks so every method runs): no files, no golden data.
func randomModels(t *testing.T) [2]*clip.Model {
	t.Helper()
	rndOnce.Do(func() {
		c := clip.Config{VisionWidth: 32, VisionLayers: 6, VisionHeads: 2, Patch: 16, Grid: 4, EmbedDim: 16,
			TextWidth: 32, TextLayers: 1, TextHeads: 2, ContextLength: 77, VocabSize: 49408}
		for i := range rndM {
			if rndM[i], rndErr = clip.Random(c, uint64(i+1)); rndErr != nil {
				return
			}
		}
	})
	if rndErr != nil {
		t.Fatal(rndErr)
	}
	return rndM
}

// synthPhoto is a w×h photo with smooth gradients and a bright block.
func synthPhoto(w, h int) *imageio.RGB {
	img := imageio.NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := img.Pix[3*(y*w+x):]
			p[0], p[1], p[2] = uint8(20+200*x/w), uint8(230-180*y/h), uint8((x*y)%97+60)
			if x > w/2 && y > h/3 {
				p[0], p[1], p[2] = 240, 210, 30
			}
		}
	}
	return img
}

// A hand composition of the pipeline's first stages: the network input as
// mmseg makes it, the method's features, patch cosines, and a bilinear
// upsampling with PyTorch's align_corners=False (NACLIP's forward_feature
// for the whole image and its PAMR guide; mmseg's resize).
func wholeLogitsByHand(t *testing.T, m *clip.Model, meth dense.Method, img *imageio.RGB, short int, G []float32, Q int) ([]float32, []float32, int, int) {
	t.Helper()
	x, w, h := imageio.PreprocessMMSeg(img, short)
	f, err := meth.Features(context.Background(), m, x, 1, h, w)
	if err != nil {
		t.Fatal(err)
	}
	T, E := f.GH*f.GW, f.E
	grid := seg.Transpose(seg.Cosine(f.Patches(0), T, E, G, Q), T, Q)
	return grid, x, w, h
}

// Whole-image inference upsamples the patch-grid logits to the image with
// align_corners=False; the other choice gives other logits.
func TestWholeImageUpsamplingAlignCorners(t *testing.T) {
	m := randomModels(t)[0]
	e := freeseg.NewEngine(m)
	img := synthPhoto(70, 50)
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}, {"sky"}}}
	o := freeseg.Options{Method: dense.NACLIP, Templates: "single", Resize: freeseg.Resize{Mode: freeseg.ResizeShort, Size: 64, MaxLong: 2048},
		LogitScale: 40, Partial: seg.PartialOptions{}}
	res, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	G, err := e.Classifier([]string{"cat", "dog", "sky"}, "single")
	if err != nil {
		t.Fatal(err)
	}
	grid, _, w, h := wholeLogitsByHand(t, m, dense.NACLIP, img, 64, G, 3)
	gh, gw := h/16, w/16
	want := interp.ResizeBilinearTorch(grid, 3, gh, gw, img.H, img.W, false)
	numtest.AssertClose(t, "whole-image logits vs align_corners=False", res.Logits, want, 1e-6)
	other := interp.ResizeBilinearTorch(grid, 3, gh, gw, img.H, img.W, true)
	if _, p := numtest.Problem(other, want, 1e-4); p == "" {
		t.Fatal("align_corners=True gives the same logits here: the test cannot tell the two apart")
	}
}

// PAMR's guide is the normalised network input resized to the image with
// align_corners=False (NACLIP's pamr call).
func TestPAMRGuideAlignCorners(t *testing.T) {
	m := randomModels(t)[0]
	e := freeseg.NewEngine(m)
	img := synthPhoto(70, 50)
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}, {"sky"}}}
	o := freeseg.Options{Method: dense.NACLIP, Templates: "single", Resize: freeseg.Resize{Mode: freeseg.ResizeShort, Size: 64, MaxLong: 2048},
		LogitScale: 40, PAMRSteps: 3, PAMRDilations: []int{8, 16}}
	res, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	G, err := e.Classifier([]string{"cat", "dog", "sky"}, "single")
	if err != nil {
		t.Fatal(err)
	}
	grid, x, w, h := wholeLogitsByHand(t, m, dense.NACLIP, img, 64, G, 3)
	pamr := func(align bool) []float32 {
		lg := interp.ResizeBilinearTorch(grid, 3, h/16, w/16, img.H, img.W, false)
		guide := interp.ResizeBilinearTorch(x, 3, h, w, img.H, img.W, align)
		if err := seg.PAMR(guide, lg, 3, img.H, img.W, 3, []int{8, 16}); err != nil {
			t.Fatal(err)
		}
		return lg
	}
	want := pamr(false)
	numtest.AssertClose(t, "PAMR logits vs guide with align_corners=False", res.Logits, want, 1e-6)
	if _, p := numtest.Problem(pamr(true), want, 1e-5); p == "" {
		t.Fatal("a guide resized with align_corners=True gives the same logits: the test cannot tell the two apart")
	}
}

// The logit scale reaches the probabilities: at every pixel they are the
// softmax over all queries of scale × logits, maximised over each class's
// synonyms (SCLIP's post-processing), computed here in float64.
func TestLogitScaleIsUsed(t *testing.T) {
	m := randomModels(t)[0]
	e := freeseg.NewEngine(m)
	img := synthPhoto(40, 36)
	v := &prompts.Vocabulary{Names: [][]string{{"sky", "wall"}, {"cat"}, {"dog", "puppy"}}}
	classOf := []int{0, 0, 1, 2, 2}
	var probs [][]float32
	for _, scale := range []float64{7, 40} {
		o := freeseg.Options{Method: dense.SCLIP, Templates: "single", Resize: freeseg.Resize{Mode: freeseg.ResizeNone},
			Window: seg.Window{Crop: 32, Stride: 16}, LogitScale: scale}
		res, err := e.Segment(context.Background(), img, v, o)
		if err != nil {
			t.Fatal(err)
		}
		HW := img.W * img.H
		want := make([]float32, 3*HW)
		for i := 0; i < HW; i++ {
			mx := math.Inf(-1)
			for q := range classOf {
				mx = math.Max(mx, scale*float64(res.Logits[q*HW+i]))
			}
			var s float64
			ex := make([]float64, len(classOf))
			for q := range classOf {
				ex[q] = math.Exp(scale*float64(res.Logits[q*HW+i]) - mx)
				s += ex[q]
			}
			for q, c := range classOf {
				want[c*HW+i] = float32(math.Max(float64(want[c*HW+i]), ex[q]/s))
			}
		}
		numtest.AssertClose(t, "probabilities at logit scale", res.Probs, want, 1e-5)
		probs = append(probs, res.Probs)
	}
	if _, p := numtest.Problem(probs[0], probs[1], 1e-3); p == "" {
		t.Fatal("logit scales 7 and 40 give the same probabilities: the test cannot see the scale")
	}
}

// Explain's three feature-surgery modes against CLIP Surgery's reference
// maps of chelsea (golden itsm/*): "multi" is the demo's map, "off" on
// vanilla features its plain-cosine map, and "redundant" the similarity map
// of the reference's redundant-feature surgery.
func TestExplainModesGolden(t *testing.T) {
	m := testmodel.Tiny(t)
	e := freeseg.NewEngine(m)
	img, _, err := imageio.Open(golden.Path(t, "cases", "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"cat", "person", "sky", "coffee cup", "rocket"}
	K, HW := len(texts), img.W*img.H
	// golden maps are [1,H,W,K]; Explain's [K,H,W].
	planar := func(hwk []float32) []float32 {
		out := make([]float32, len(hwk))
		for i := 0; i < HW; i++ {
			for k := 0; k < K; k++ {
				out[k*HW+i] = hwk[i*K+k]
			}
		}
		return out
	}
	run := func(meth dense.Method, mode string) []float32 {
		o := freeseg.DefaultExplainOptions()
		o.Method = meth
		fsm, err := freeseg.ParseFeatureSurgery(mode)
		if err != nil {
			t.Fatal(err)
		}
		o.FeatureSurgery = fsm
		ex, err := e.Explain(context.Background(), img, texts, o)
		if err != nil {
			t.Fatal(err)
		}
		return ex.Maps
	}
	multi := run(dense.Surgery, "multi")
	golden.AssertClose(t, "explain multi vs itsm/surgery_map_multi", multi, planar(golden.Tensor(t, "itsm/surgery_map_multi").F32), 1e-4)
	golden.AssertClose(t, "explain off (vanilla) vs itsm/vanilla_map", run(dense.Vanilla, "off"), planar(golden.Tensor(t, "itsm/vanilla_map").F32), 1e-4)

	red := golden.Tensor(t, "itsm/surgery_featsurgery_redundant") // [1,197,K], CLS row first
	wantRed := seg.SimilarityMap(red.F32[K:], 14, 14, K, img.H, img.W)
	golden.AssertClose(t, "explain redundant vs map of itsm/surgery_featsurgery_redundant", run(dense.Surgery, "redundant"), wantRed, 1e-4)
	if _, p := numtest.Problem(run(dense.Surgery, "off"), multi, 1e-2); p == "" {
		t.Fatal("plain cosine maps equal the multi maps: the test cannot tell the modes apart")
	}
}

// The classifier cache returns, for every key, what the model computes
// without it: the template list, the model (by digest) and the name all
// select the row, in memory and on disk.
func TestClassifierCacheKey(t *testing.T) {
	ms := randomModels(t)
	dir := t.TempDir()
	names := []string{"cat", "dog"}
	tplA := []string{"a photo of a {}."}
	tplB := []string{"a drawing of a {}.", "a {} in the wild."}
	fresh := func(m *clip.Model, names, tpl []string) []float32 {
		t.Helper()
		g, err := m.Classifier(names, tpl)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	get := func(c *freeseg.ClassifierCache, m *clip.Model, names []string, set string, tpl []string) []float32 {
		t.Helper()
		g, err := c.Get(m, names, set, tpl)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	same := func(what string, got, want []float32) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: the cache returned other rows than the model computes", what)
		}
	}
	if slices.Equal(fresh(ms[0], names, tplA), fresh(ms[0], names, tplB)) || slices.Equal(fresh(ms[0], names, tplA), fresh(ms[1], names, tplA)) {
		t.Fatal("templates or models do not change the classifier: the test cannot see the key")
	}

	// One cache in memory and on disk: fill it with template list A.
	c := freeseg.NewClassifierCache(dir)
	same("first fill", get(c, ms[0], names, "set", tplA), fresh(ms[0], names, tplA))
	if h, miss, _ := c.Stats(); h != 0 || miss != 2 {
		t.Fatalf("first fill: %d hits %d misses", h, miss)
	}
	same("memory hit", get(c, ms[0], names, "set", tplA), fresh(ms[0], names, tplA))
	if h, _, _ := c.Stats(); h != 2 {
		t.Fatalf("second call: %d hits, want 2", h)
	}
	// Same set name and names, other template list: not the cached rows.
	same("other templates, same set name (memory)", get(c, ms[0], names, "set", tplB), fresh(ms[0], names, tplB))
	// Other model, same templates and names.
	same("other model (memory)", get(c, ms[1], names, "set", tplA), fresh(ms[1], names, tplA))
	// Reordered and new names: each row is its own name's.
	same("names reordered", get(c, ms[0], []string{"dog", "cat", "bird"}, "set", tplA), fresh(ms[0], []string{"dog", "cat", "bird"}, tplA))

	// A new cache on the same folder reads the disk (memory is empty), and
	// the disk keys separate templates and models too.
	d := freeseg.NewClassifierCache(dir)
	same("disk hit", get(d, ms[0], names, "set", tplA), fresh(ms[0], names, tplA))
	if h, miss, _ := d.Stats(); h != 2 || miss != 0 {
		t.Fatalf("disk: %d hits %d misses, want 2 0", h, miss)
	}
	same("other templates (disk)", get(freeseg.NewClassifierCache(dir), ms[0], names, "set", tplB), fresh(ms[0], names, tplB))
	same("other model (disk)", get(freeseg.NewClassifierCache(dir), ms[1], names, "set", tplA), fresh(ms[1], names, tplA))
	same("other name (disk)", get(freeseg.NewClassifierCache(dir), ms[0], []string{"dog"}, "set", tplA), fresh(ms[0], []string{"dog"}, tplA))
	// Only template list B under a new folder, then A from disk: A's rows.
	dir2 := t.TempDir()
	get(freeseg.NewClassifierCache(dir2), ms[0], names, "set", tplB)
	same("templates after another list on disk", get(freeseg.NewClassifierCache(dir2), ms[0], names, "set", tplA), fresh(ms[0], names, tplA))
	dir3 := t.TempDir()
	get(freeseg.NewClassifierCache(dir3), ms[1], names, "set", tplA)
	same("model after another model on disk", get(freeseg.NewClassifierCache(dir3), ms[0], names, "set", tplA), fresh(ms[0], names, tplA))
}

// Class colours are the PASCAL VOC palette: with a background class, class
// c gets VOC colour c (background black) and background pixels show the
// photo; without one, class c gets VOC colour c+1, so none is black.
func TestOverlayColours(t *testing.T) {
	voc := [][3]uint8{{0, 0, 0}, {128, 0, 0}, {0, 128, 0}, {128, 128, 0}}
	if got := freeseg.ClassColors(3, true); !slices.Equal(got, voc[:3]) {
		t.Errorf("colours with background %v, want %v", got, voc[:3])
	}
	if got := freeseg.ClassColors(3, false); !slices.Equal(got, voc[1:4]) {
		t.Errorf("colours without background %v, want %v", got, voc[1:4])
	}
	// A grey 2x1 photo, pixel 0 labelled 0 and pixel 1 labelled 1; the
	// blend is half photo, half colour, truncated: 100/2 + 128/2 = 114.
	img := imageio.NewRGB(2, 1)
	for i := range img.Pix {
		img.Pix[i] = 100
	}
	r := &freeseg.Result{Width: 2, Height: 1, Labels: []int32{0, 1}, Fractions: []float64{0.5, 0.5, 0}, Classes: []string{"a", "b", "c"}}
	for _, c := range []struct {
		bg   bool
		want [6]uint8
	}{
		{true, [6]uint8{100, 100, 100, 114, 50, 50}},
		{false, [6]uint8{114, 50, 50, 50, 114, 50}},
	} {
		r.Image, r.Background = img, c.bg
		out := freeseg.Overlay(r)
		if out.H < 1 || out.W < 2 {
			t.Fatalf("overlay %dx%d", out.W, out.H)
		}
		// The photo is at the top left (the legend is added on the right).
		var got [6]uint8
		copy(got[:3], out.Pix[0:3])
		copy(got[3:], out.Pix[3:6])
		if got != c.want {
			t.Errorf("background %v: pixels %v, want %v", c.bg, got, c.want)
		}
	}
}
