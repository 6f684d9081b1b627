package seg_test

// Hand-computed cases at the boundaries of the partial-label stage, the
// post-processing, the similarity maps and the window rules
// (docs/testing.md: the mutants of issue 15 that the other tests let live).

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/seg"
)

// The class softmax is taken relative to the best pooled score, so large
// logits (here 1000·cos) still give finite scores: pooled 500 and 499 give
// 1/(1+e⁻¹) and e⁻¹/(1+e⁻¹).
func TestPartialScoresLargeLogits(t *testing.T) {
	lg := &seg.Logits{Q: 2, H: 1, W: 1, Data: []float32{0, 0}, CLS: []float32{0.5, 0.499}}
	o := seg.PartialOptions{Enabled: true, Pool: seg.PoolCLS, Thd: 0}
	r := seg.PartialLabels(lg, []int{0, 1}, 2, 1000, false, o)
	// 1000·float32(0.499) is 499 to within 1e-5.
	want0 := 1 / (1 + math.Exp(-1))
	if !numtest.Near(r.Scores[0], want0, 1e-5) || !numtest.Near(r.Scores[1], 1-want0, 1e-5) {
		t.Fatalf("scores %v, want %g, %g", r.Scores, want0, 1-want0)
	}
}

// Thd removes classes whose score is below it: a score equal to it stays.
// Four tied classes score exactly 1/4 each.
func TestPartialThresholdInclusive(t *testing.T) {
	lg := &seg.Logits{Q: 4, H: 1, W: 1, Data: make([]float32, 4), CLS: []float32{0.3, 0.3, 0.3, 0.3}}
	for _, c := range []struct {
		thd  float64
		keep int
	}{
		{0.25, 4},
		{math.Nextafter(0.25, 1), 1}, // only the best class, which is always kept
	} {
		o := seg.PartialOptions{Enabled: true, Pool: seg.PoolCLS, Thd: c.thd}
		r := seg.PartialLabels(lg, []int{0, 1, 2, 3}, 4, 40, false, o)
		n := 0
		for _, k := range r.Keep {
			if k {
				n++
			}
		}
		if n != c.keep || !r.Keep[0] {
			t.Fatalf("thd %v, scores %v: keep %v, want %d classes kept (class 0 among them)", c.thd, r.Scores, r.Keep, c.keep)
		}
	}
}

// Mean pooling by hand: class 0 has logits {0, 0.2}, class 1 {0.1, 0.3};
// at scale 10 the means are 1 and 2, so the scores are 1/(1+e) and e/(1+e).
func TestPartialMeanPool(t *testing.T) {
	lg := &seg.Logits{Q: 2, H: 1, W: 2, Data: []float32{0, 0.2, 0.1, 0.3}, CLS: []float32{0, 0}}
	o := seg.PartialOptions{Enabled: true, Pool: seg.PoolMean, Thd: 0}
	r := seg.PartialLabels(lg, []int{0, 1}, 2, 10, false, o)
	want0 := 1 / (1 + math.E)
	if !numtest.Near(r.Scores[0], want0, 1e-6) || !numtest.Near(r.Scores[1], 1-want0, 1e-6) {
		t.Fatalf("scores %v, want %g, %g", r.Scores, want0, 1-want0)
	}
}

// Probabilities works through the pixels in chunks of 1024: every pixel of
// an image whose size is not a multiple of that gets its softmax. Logits 0
// and ln 3 at scale 1 give 1/4 and 3/4.
func TestProbabilitiesAnyPixelCount(t *testing.T) {
	for _, HW := range []int{1, 1023, 1024, 1025, 2047, 2048} {
		logits := make([]float32, 2*HW)
		for i := 0; i < HW; i++ {
			logits[HW+i] = float32(math.Log(3))
		}
		p, C, err := seg.Probabilities(logits, 2, HW, []int{0, 1}, 1, nil)
		if err != nil || C != 2 || len(p) != 2*HW {
			t.Fatalf("%d pixels: %d classes, %d values, %v", HW, C, len(p), err)
		}
		for i := 0; i < HW; i++ {
			if !numtest.Near(float64(p[i]), 0.25, 1e-6) || !numtest.Near(float64(p[HW+i]), 0.75, 1e-6) {
				t.Fatalf("%d pixels: pixel %d probabilities %g, %g, want 0.25, 0.75", HW, i, p[i], p[HW+i])
			}
		}
	}
}

// At CLIP's own logit scale 100 the scaled logits pass exp's float32 range
// (e^88.7): the softmax must be taken relative to the largest one. Cosines
// 31/32 and 15/16 scale to 96.875 and 93.75 exactly, 3.125 apart.
func TestProbabilitiesLogitScale100(t *testing.T) {
	logits := []float32{31.0 / 32, 15.0 / 16, -0.5}
	p, _, err := seg.Probabilities(logits, 3, 1, []int{0, 1, 2}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := 1 + math.Exp(-3.125) + math.Exp(-(96.875 + 50))
	want := []float64{1 / d, math.Exp(-3.125) / d, 0}
	for c := range want {
		if !numtest.Near(float64(p[c]), want[c], 1e-6) {
			t.Fatalf("probabilities %v, want %v", p, want)
		}
	}
}

// AreaThd drops a foreground class whose argmax area is not above
// thd × the foreground area: 1 pixel of 4 at thd 1/4 is exactly on it.
func TestAreaFilterAtThreshold(t *testing.T) {
	// 5 pixels, 3 classes: background wins pixel 0, class 1 pixels 1-3,
	// class 2 pixel 4. Foreground area 4: class 2 has 1 = 0.25·4.
	const C, HW = 3, 5
	p := []float32{
		0.8, 0.1, 0.1, 0.1, 0.1,
		0.1, 0.8, 0.8, 0.8, 0.1,
		0.1, 0.1, 0.1, 0.1, 0.8,
	}
	keep := seg.AreaFilter(p, C, HW, 0.25)
	if !slices.Equal(keep, []bool{true, true, false}) {
		t.Fatalf("keep %v, want class 2 (area 1 = 0.25×4) removed", keep)
	}
	if slices.ContainsFunc(p[2*HW:], func(v float32) bool { return v != 0 }) {
		t.Fatalf("removed class 2 keeps probabilities %v", p[2*HW:])
	}
}

// Labels: ties go to the lower class (torch.argmax's first maximum) and a
// best probability equal to ProbThd keeps its class (only below is class 0).
func TestLabelsTiesAndThreshold(t *testing.T) {
	const C, HW = 3, 3
	p := []float32{
		0.25, 0.125, 0.5,
		0.375, 0.25, 0.25,
		0.375, 0.625, 0.25,
	}
	got := seg.Labels(p, C, HW, 0.375)
	// pixel 0: classes 1 and 2 tie at 0.375 = thd → 1; pixel 1: class 2
	// at 0.625; pixel 2: best 0.5 (class 0) anyway.
	if want := []int32{1, 2, 0}; !slices.Equal(got, want) {
		t.Fatalf("labels %v, want %v", got, want)
	}
	// With a threshold above 0.375 (thresholds are float32), pixel 0 falls to class 0.
	if got := seg.Labels(p, C, HW, 0.376); got[0] != 0 {
		t.Fatalf("pixel 0 with best 0.375 below the threshold: label %d, want 0", got[0])
	}
	// The area filter counts ties for the lower class too: class 2 has no
	// argmax pixel with ties resolved downwards, class 1 has pixels 0 and 1.
	q := []float32{0, 0, 1, 1, 1, 0}
	if keep := seg.AreaFilter(q, 3, 2, 0.4); !slices.Equal(keep, []bool{true, true, false}) {
		t.Fatalf("area filter with tied classes 1 and 2 at pixel 0: keep %v, want [true true false]", keep)
	}
}

// A constant class column has no range: it becomes zeros, not 0/0.
// A column 1, 2, 3 becomes 0, 0.5, 1.
func TestMinMaxPerClassConstantColumn(t *testing.T) {
	s := []float32{
		1, 0.7,
		2, 0.7,
		3, 0.7,
	}
	seg.MinMaxPerClass(s, 3, 2)
	if want := []float32{0, 0, 0.5, 0, 1, 0}; !slices.Equal(s, want) {
		t.Fatalf("rescaled %v, want %v", s, want)
	}
}

// The class weights are a softmax of 2·(CLS score) taken relative to the
// largest score, finite for any scores (here logit-scaled ones, 300 and
// 299): p = (1, e⁻²)/(1+e⁻²), w = 2p. Token 1 has scores (1, 0), so
// S' = (w₀, 0) and S = (w₀/2, −w₀/2).
func TestFeatureSurgeryLargeScores(t *testing.T) {
	cos := []float32{300, 299, 1, 0}
	got := seg.FeatureSurgeryMulti(cos, 2, 2)
	w0 := 2 / (1 + math.Exp(-2))
	w1 := 2 - w0
	s0 := (300*w0 - 299*w1) / 2
	want := []float64{s0, -s0, w0 / 2, -w0 / 2}
	for i := range want {
		if !numtest.Near(float64(got[i]), want[i], 1e-4) { // float32 values near 228
			t.Fatalf("surgery %v, want %v", got, want)
		}
	}
}

func TestWindowValidateBoundaries(t *testing.T) {
	for _, c := range []struct {
		w   seg.Window
		err string // "" when valid
	}{
		{seg.Window{}, ""},
		{seg.Window{Crop: 0, Stride: 224}, ""}, // whole image: the stride is not used
		{seg.Window{Crop: 100, Stride: 100}, ""},
		{seg.Window{Crop: 100, Stride: 101}, "stride 101 larger than the crop 100"},
		{seg.Window{Crop: 100, Stride: 50, PadMultiple: 1024}, ""},
		{seg.Window{Crop: 100, Stride: 50, PadMultiple: 1025}, "pad multiple 1025"},
	} {
		err := c.w.Validate()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%+v: %v", c.w, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%+v: error %v, want one saying %q", c.w, err, c.err)
		}
	}
}

// Windows per axis: a 4×10 image with crop 4 and stride 2 has one row of
// windows at x = 0, 2, 4, 6 (the last ends at the border); its transpose
// one column at y = 0, 2, 4, 6.
func TestWindowsPerAxis(t *testing.T) {
	want := []seg.Rect{{0, 0, 4, 4}, {0, 2, 4, 6}, {0, 4, 4, 8}, {0, 6, 4, 10}}
	if got := seg.Windows(4, 10, 4, 2); !slices.Equal(got, want) {
		t.Fatalf("4x10 windows %v, want %v", got, want)
	}
	for i, r := range want {
		want[i] = seg.Rect{Y0: r.X0, X0: r.Y0, Y1: r.X1, X1: r.Y1}
	}
	if got := seg.Windows(10, 4, 4, 2); !slices.Equal(got, want) {
		t.Fatalf("10x4 windows %v, want %v", got, want)
	}
}

// fakeEncoder returns, for every crop, one patch per 4×4 pixels with
// feature (3, 4) and a CLS token alternating (1, 0), (0, 1) crop by crop;
// it records the batch sizes it saw.
func fakeEncoder(batches *[]int) seg.EncodeFunc {
	crops := 0
	return func(imgs []float32, B, H, W int) (*dense.Features, error) {
		*batches = append(*batches, B)
		gh, gw := H/4, W/4
		n := 1 + gh*gw
		f := &dense.Features{B: B, GH: gh, GW: gw, E: 2, Data: make([]float32, B*n*2)}
		for b := 0; b < B; b++ {
			img := f.Data[b*n*2 : (b+1)*n*2]
			img[crops%2] = 1
			crops++
			for t := 1; t < n; t++ {
				img[2*t], img[2*t+1] = 3, 4
			}
		}
		return f, nil
	}
}

// An 8×8 input with 4×4 windows and stride 4 has 4 windows: with batch 2
// the encoder gets two batches of 2 (never an empty one); the CLS
// similarity is the mean over the windows of cos(CLS, (1,0)) = 1, 0, 1, 0;
// every logit is cos((3,4), (1,0)) = 0.6, also after resizing the output
// along one axis only.
func TestInferBatchesCLSAndOutputSize(t *testing.T) {
	img := make([]float32, 3*8*8)
	for _, out := range [][2]int{{8, 8}, {8, 12}, {12, 8}, {4, 8}} {
		var batches []int
		lg, err := seg.Infer(seg.Job{Encode: fakeEncoder(&batches), Input: img, H: 8, W: 8,
			Classifier: []float32{1, 0}, Q: 1, E: 2, Window: seg.Window{Crop: 4, Stride: 4, Batch: 2},
			Patch: 4, OutH: out[0], OutW: out[1]})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(batches, []int{2, 2}) {
			t.Fatalf("encoder batches %v, want [2 2]", batches)
		}
		if !numtest.Near(float64(lg.CLS[0]), 0.5, 1e-6) {
			t.Fatalf("CLS similarity %g, want the mean 0.5 of 1, 0, 1, 0", lg.CLS[0])
		}
		if lg.H != out[0] || lg.W != out[1] || len(lg.Data) != out[0]*out[1] {
			t.Fatalf("output %dx%d: logits %dx%d with %d values", out[0], out[1], lg.H, lg.W, len(lg.Data))
		}
		for i, v := range lg.Data {
			if !numtest.Near(float64(v), 0.6, 1e-6) {
				t.Fatalf("output %dx%d: logit %d is %g, want 0.6", out[0], out[1], i, v)
			}
		}
	}
}
