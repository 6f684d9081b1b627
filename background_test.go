package freeseg_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// A background list that does not parse is refused, naming the background
// (an empty name between commas; a name given twice).
func TestWithBackgroundBadList(t *testing.T) {
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}}}
	for _, bg := range []string{"sky,,wall", "sky; ;wall", "sky, sky"} {
		got, _, err := freeseg.WithBackground(v, bg)
		if err == nil || !strings.HasPrefix(err.Error(), "background: ") {
			t.Errorf("background %q: %v, %v; want a background error", bg, got, err)
		}
	}
	got, notes, err := freeseg.WithBackground(v, "sky; wall, Cat")
	if err != nil || !got.Background || len(got.Names) != 3 || strings.Join(got.Names[0], "|") != "sky|wall" || len(notes) != 1 {
		t.Errorf("sky; wall, Cat: %v %q %v", got, notes, err)
	}
}

// FitMaxSide returns the image itself when it fits (long side equal to the
// bound included) or the bound is 0, and scales the long side to the bound
// otherwise, keeping the aspect ratio (40×30 to 20×15; 40×30 to 7×5 rounds
// 5.25).
func TestFitMaxSide(t *testing.T) {
	img := &imageio.RGB{W: 40, H: 30, Pix: make([]uint8, 40*30*3)}
	for _, m := range []int{0, 40, 41} {
		if got := freeseg.FitMaxSide(img, m); got != img {
			t.Errorf("max side %d: a new %dx%d image, want the image itself", m, got.W, got.H)
		}
	}
	for _, c := range [][3]int{{20, 20, 15}, {7, 7, 5}, {39, 39, 29}} {
		if got := freeseg.FitMaxSide(img, c[0]); got.W != c[1] || got.H != c[2] || len(got.Pix) != c[1]*c[2]*3 {
			t.Errorf("max side %d: %dx%d, want %dx%d", c[0], got.W, got.H, c[1], c[2])
		}
	}
}

// An input of exactly one patch (16×16 for /16 patches) is segmented; one
// pixel less on either side is refused. A text too long to encode fails
// Explain with the encoder's error.
func TestOnePatchInputAndLongText(t *testing.T) {
	e := randomEngine(t)
	o := freeseg.DefaultOptions()
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone}
	o.Whole, o.PAMRSteps, o.Templates = true, 0, "single"
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}}}
	for _, c := range []struct {
		w, h int
		ok   bool
	}{{16, 16, true}, {15, 16, false}, {16, 15, false}} {
		img := &imageio.RGB{W: c.w, H: c.h, Pix: make([]uint8, c.w*c.h*3)}
		res, err := e.Segment(context.Background(), img, v, o)
		if c.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "smaller than one 16x16 patch")) || (err == nil && len(res.Labels) != c.w*c.h) {
			t.Errorf("%dx%d: %v", c.w, c.h, err)
		}
	}
	// A crop as large as one side and larger than the other is allowed (the
	// windows are cut to the input); larger than both sides it is refused.
	o.Whole, o.Window = false, seg.Window{Crop: 32, Stride: 16}
	for _, c := range []struct {
		w, h int
		ok   bool
	}{{16, 32, true}, {32, 16, true}, {16, 16, false}} {
		img := &imageio.RGB{W: c.w, H: c.h, Pix: make([]uint8, c.w*c.h*3)}
		_, err := e.Segment(context.Background(), img, v, o)
		if c.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "crop 32 is larger")) {
			t.Errorf("crop 32 on %dx%d: %v", c.w, c.h, err)
		}
	}
	img := &imageio.RGB{W: 32, H: 32, Pix: make([]uint8, 32*32*3)}
	x := freeseg.DefaultExplainOptions()
	x.Resize.Size, x.Templates = 32, "single"
	if _, err := e.Explain(context.Background(), img, []string{strings.Repeat("cat ", 100)}, x); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("a 100-word text: %v", err)
	}
}

// Explain's raw similarities are [texts, GH·GW] (2×2 patches of a 32×32
// input): without feature surgery the maps are exactly these, min-max
// normalised per text and upsampled.
func TestExplainSimilarityShape(t *testing.T) {
	e := randomEngine(t)
	img := &imageio.RGB{W: 40, H: 30, Pix: make([]uint8, 40*30*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	x := freeseg.DefaultExplainOptions()
	x.Resize.Size, x.Templates, x.FeatureSurgery = 32, "single", freeseg.SurgeryOff
	ex, err := e.Explain(context.Background(), img, []string{"cat", "dog"}, x)
	if err != nil {
		t.Fatal(err)
	}
	if ex.GH != 2 || ex.GW != 2 || len(ex.Similarity) != 2*4 {
		t.Fatalf("grid %dx%d, %d similarities; want 2x2 and 8", ex.GH, ex.GW, len(ex.Similarity))
	}
	want := seg.SimilarityMap(seg.Transpose(ex.Similarity, 2, 4), 2, 2, 2, 30, 40)
	numtest.AssertClose(t, "maps from the similarities", ex.Maps, want, 1e-6)
}

// A protocol without a long-side bound gets mmseg's 2048; one with a bound
// keeps it. A negative bound is refused for the short-side resize.
func TestProtocolMaxLongAndValidate(t *testing.T) {
	for _, c := range [][2]int{{0, 2048}, {1000, 1000}} {
		o, err := freeseg.ProtocolOptions(prompts.Protocol{Method: "sclip", Templates: "openai80", Short: 336, MaxLong: c[0], Crop: 224, Stride: 112})
		if err != nil || o.Resize.MaxLong != c[1] || o.Resize.Size != 336 || o.Window.Crop != 224 || o.Whole {
			t.Errorf("max long %d: %+v (%v); want %d", c[0], o.Resize, err, c[1])
		}
	}
	o := freeseg.DefaultOptions()
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeShort, Size: 336, MaxLong: -1}
	if err := o.Validate(12); err == nil || !strings.Contains(err.Error(), "long-side bound -1") {
		t.Errorf("short side with max long -1: %v", err)
	}
	o.Resize.MaxLong = 0
	if err := o.Validate(12); err != nil {
		t.Errorf("short side without a long-side bound: %v", err)
	}
}

// Validate's inclusive bounds: a logit scale of exactly MaxLogitScale,
// MaxPAMRSteps steps and dilations of 1 and 65,536 are accepted; one past
// each is refused.
func TestValidateInclusiveBounds(t *testing.T) {
	ok := func(f func(o *freeseg.Options)) error {
		o := freeseg.DefaultOptions()
		f(&o)
		return o.Validate(12)
	}
	for name, f := range map[string]func(o *freeseg.Options){
		"logit scale 1000":   func(o *freeseg.Options) { o.LogitScale = 1000 },
		"1000 PAMR steps":    func(o *freeseg.Options) { o.PAMRSteps = 1000 },
		"dilations 1, 65536": func(o *freeseg.Options) { o.PAMRDilations = []int{1, 65536} },
	} {
		if err := ok(f); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, f := range map[string]func(o *freeseg.Options){
		"logit scale 1000.5": func(o *freeseg.Options) { o.LogitScale = 1000.5 },
		"1001 PAMR steps":    func(o *freeseg.Options) { o.PAMRSteps = 1001 },
		"dilation 0":         func(o *freeseg.Options) { o.PAMRDilations = []int{0} },
		"dilation 65537":     func(o *freeseg.Options) { o.PAMRDilations = []int{65537} },
	} {
		if err := ok(f); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// The settings table: a value at a closed upper bound is accepted (logit
// scale 1000 of (0, 1000], 100 PAMR steps of [0, 100]); ranges are
// described for numbers only; square 0 leaves the resize as it was; the
// names of a use are those whose use includes it.
func TestSettingsTableEdges(t *testing.T) {
	for name, text := range map[string]string{"logit_scale": "1000", "pamr": "100"} {
		s, ok := freeseg.SettingByName(name)
		if !ok {
			t.Fatalf("no setting %s", name)
		}
		if _, err := s.Parse(text); err != nil {
			t.Errorf("%s %s: %v", name, text, err)
		}
	}
	ls, _ := freeseg.SettingByName("logit_scale")
	tp, _ := freeseg.SettingByName("templates")
	if ls.RangeText() != "(0, 1000]" || tp.RangeText() != "" {
		t.Errorf("range texts %q and %q; want (0, 1000] and none", ls.RangeText(), tp.RangeText())
	}
	sq, _ := freeseg.SettingByName("square")
	o := freeseg.DefaultOptions()
	if err := sq.Set(&o, "0"); err != nil || o.Resize.Mode != freeseg.ResizeShort || o.Resize.Size != 336 {
		t.Errorf("square 0: %+v (%v); want the short-side resize kept", o.Resize, err)
	}
	ex := strings.Join(freeseg.SettingNames(freeseg.ForExplain), " ")
	if !strings.Contains(ex, "feature_surgery") || strings.Contains(ex, "pamr") || strings.Contains(ex, "logit_scale") {
		t.Errorf("explain's settings: %s", ex)
	}
}

// The settings reported with a result are those that applied: short_side
// and max_long for the short-side resize, square for the square one.
func TestValuesRelevantResize(t *testing.T) {
	names := func(o freeseg.Options) string {
		var n []string
		for _, v := range freeseg.Values(&o, freeseg.ForSegment) {
			n = append(n, v.Name)
		}
		return " " + strings.Join(n, " ") + " "
	}
	o := freeseg.DefaultOptions()
	if n := names(o); !strings.Contains(n, " short_side ") || !strings.Contains(n, " max_long ") || strings.Contains(n, " square ") {
		t.Errorf("short-side resize reports %s", n)
	}
	o.Resize = freeseg.Resize{Mode: freeseg.ResizeSquare, Size: 224}
	if n := names(o); strings.Contains(n, " short_side ") || strings.Contains(n, " max_long ") || !strings.Contains(n, " square ") {
		t.Errorf("square resize reports %s", n)
	}
}

// Names of the first resize mode and feature-surgery choice; a summary
// lists classes by fraction, ties in class order, absent classes left out.
func TestNamesAndSummaryOrder(t *testing.T) {
	if freeseg.ResizeShort.String() != "short" || freeseg.SurgeryAuto.String() != "auto" || freeseg.ResizeMode(-1).String() != "ResizeMode(-1)" ||
		freeseg.ResizeMode(3).String() != "ResizeMode(3)" || freeseg.SurgeryOff.String() != "off" || freeseg.FeatureSurgery(4).String() != "FeatureSurgery(4)" {
		t.Errorf("%s %s %s %s %s %s", freeseg.ResizeShort, freeseg.SurgeryAuto, freeseg.ResizeMode(-1), freeseg.ResizeMode(3), freeseg.SurgeryOff, freeseg.FeatureSurgery(4))
	}
	r := &freeseg.Result{Width: 4, Height: 1, Classes: []string{"a", "b", "c", "d"}, Fractions: []float64{0.25, 0.25, 0, 0.5}}
	if s := freeseg.Summary(r, 1500*time.Millisecond); s != "4x1 in 1.50s: d 50.0%, a 25.0%, b 25.0%" {
		t.Errorf("summary %q", s)
	}
}

// Automatic feature surgery is redundant for one text and multi from two.
func TestSurgeryAutoFor(t *testing.T) {
	if a := freeseg.SurgeryAuto; a.For(1) != freeseg.SurgeryRedundant || a.For(2) != freeseg.SurgeryMulti || a.For(3) != freeseg.SurgeryMulti ||
		freeseg.SurgeryOff.For(2) != freeseg.SurgeryOff {
		t.Errorf("auto for 1, 2, 3: %v %v %v; off for 2: %v", a.For(1), a.For(2), a.For(3), freeseg.SurgeryOff.For(2))
	}
}

// Class probabilities stay finite at the largest logit scale (a softmax of
// 900 and 500 must subtract the maximum before exponentiating): a class
// scores as its best synonym, so 0.9 beats 0.5 by e^400.
func TestClassProbsLargeScale(t *testing.T) {
	p := freeseg.ClassProbs([]float64{0.9, 0.5, 0.7}, []int{0, 1, 0}, 2, 1000)
	want1 := math.Exp(-400) / (1 + math.Exp(-400))
	if len(p) != 2 || p[0] != 1 || math.Abs(p[1]-want1) > 1e-9*want1 {
		t.Errorf("probabilities %v, want [1 %g]", p, want1)
	}
}

// ZeroShot ranks by probability, ties in class order: an image embedding
// orthogonal to every class row has cosine 0 with each, so the three
// classes tie at 1/3 and come back as given.
func TestZeroShotTiesInClassOrder(t *testing.T) {
	e := randomEngine(t)
	names := []string{"cat", "dog", "bird"}
	G, err := e.Classifier(names, "single")
	if err != nil {
		t.Fatal(err)
	}
	E := e.Model.Config.EmbedDim
	// Gram-Schmidt: v = a fixed vector minus its projections on the rows.
	basis := [][]float64{}
	for c := range names {
		r := make([]float64, E)
		for i := range r {
			r[i] = float64(G[c*E+i])
		}
		removeProjections(r, basis)
		n := 0.0
		for _, x := range r {
			n += x * x
		}
		for i := range r {
			r[i] /= math.Sqrt(n)
		}
		basis = append(basis, r)
	}
	v := make([]float64, E)
	for i := range v {
		v[i] = float64(i%5) - 1.5
	}
	removeProjections(v, basis)
	img := make([]float32, E)
	for i := range img {
		img[i] = float32(v[i])
	}
	res, err := e.ZeroShot(img, 1, &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}, {"bird"}}}, "single", 0)
	if err != nil || len(res) != 1 || len(res[0]) != 3 {
		t.Fatalf("%v %v", res, err)
	}
	for k, cp := range res[0] {
		if cp.Class != names[k] || math.Abs(cp.Prob-1.0/3) > 1e-5 {
			t.Errorf("rank %d: %+v; want %s at 1/3", k, cp, names[k])
		}
	}
}

// removeProjections subtracts from v its projection on each unit vector of
// the orthonormal basis.
func removeProjections(v []float64, basis [][]float64) {
	for _, b := range basis {
		d := 0.0
		for i := range v {
			d += v[i] * b[i]
		}
		for i := range v {
			v[i] -= d * b[i]
		}
	}
}
