package eval_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
)

func newMetric(t *testing.T, c int) *eval.Metric {
	t.Helper()
	m, err := eval.NewMetric(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func add(t *testing.T, m *eval.Metric, w, h int, pred []int32, gt []uint8) {
	t.Helper()
	if err := m.Add(pred, w, h, &eval.LabelMap{Name: "gt.png", W: w, H: h, Pix: gt}); err != nil {
		t.Fatal(err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// Two images worked out by hand (3 classes):
//
//	image 1 (3x2) gt 0 0 1 / 1 255 2, pred 0 1 1 / 1 2 0
//	image 2 (2x1) gt 0 255,           pred 2 2
//
// The 255 pixels are dropped with their predictions (class 2 predicted
// there does not count). Confusion (row gt, column pred):
//
//	gt 0: 1 1 1    label 3, pred 2, I 1, U 4, IoU 1/4, Acc 1/3
//	gt 1: 0 2 0    label 2, pred 3, I 2, U 3, IoU 2/3, Acc 1
//	gt 2: 1 0 0    label 1, pred 1, I 0, U 2, IoU 0,   Acc 0
//
// mIoU (1/4+2/3+0)/3, mAcc (1/3+1+0)/3, aAcc 3/6.
func TestMetricByHand(t *testing.T) {
	m := newMetric(t, 3)
	add(t, m, 3, 2, []int32{0, 1, 1, 1, 2, 0}, []uint8{0, 0, 1, 1, 255, 2})
	add(t, m, 2, 1, []int32{2, 2}, []uint8{0, 255})
	if want := []int64{1, 1, 1, 0, 2, 0, 1, 0, 0}; !slices.Equal(m.Confusion, want) {
		t.Fatalf("confusion %v, want %v", m.Confusion, want)
	}
	s := m.Scores()
	check := func(name string, got, want []int64) {
		if !slices.Equal(got, want) {
			t.Errorf("%s %v, want %v", name, got, want)
		}
	}
	check("intersection", s.Intersection, []int64{1, 2, 0})
	check("union", s.Union, []int64{4, 3, 2})
	check("pred area", s.PredArea, []int64{2, 3, 1})
	check("label area", s.LabelArea, []int64{3, 2, 1})
	wantIoU := []float64{0.25, 2.0 / 3, 0}
	wantAcc := []float64{1.0 / 3, 1, 0}
	for c := range 3 {
		if !near(s.IoU[c], wantIoU[c]) || !near(s.Acc[c], wantAcc[c]) {
			t.Errorf("class %d: IoU %v Acc %v, want %v %v", c, s.IoU[c], s.Acc[c], wantIoU[c], wantAcc[c])
		}
	}
	if !near(s.MIoU, (0.25+2.0/3)/3) || !near(s.MAcc, (1.0/3+1)/3) || !near(s.AAcc, 0.5) {
		t.Errorf("mIoU %v mAcc %v aAcc %v", s.MIoU, s.MAcc, s.AAcc)
	}
	if m.Images != 2 {
		t.Errorf("images %d", m.Images)
	}
}

// A class neither present nor predicted has union 0: NaN, skipped by the
// means. A class predicted but absent from the ground truth has IoU 0
// (its union is its predicted area) and counts in mIoU; its Acc is NaN.
func TestMetricAbsentAndFalsePositiveClasses(t *testing.T) {
	m := newMetric(t, 4)
	// gt holds classes 0 and 1; class 2 is predicted on 2 pixels; class 3 never appears.
	add(t, m, 4, 1, []int32{0, 2, 1, 2}, []uint8{0, 0, 1, 1})
	s := m.Scores()
	if !math.IsNaN(s.IoU[3]) || !math.IsNaN(s.Acc[3]) {
		t.Errorf("absent class: IoU %v Acc %v, want NaN", s.IoU[3], s.Acc[3])
	}
	if s.IoU[2] != 0 || s.Union[2] != 2 || !math.IsNaN(s.Acc[2]) {
		t.Errorf("false positive class: IoU %v union %d Acc %v, want 0, 2, NaN", s.IoU[2], s.Union[2], s.Acc[2])
	}
	// IoU: class 0 1/2, class 1 1/2, class 2 0 -> mIoU 1/3 over three classes.
	if !near(s.MIoU, 1.0/3) {
		t.Errorf("mIoU %v, want 1/3", s.MIoU)
	}
	// Acc: 1/2, 1/2 (class 2 and 3 NaN) -> 1/2.
	if !near(s.MAcc, 0.5) || !near(s.AAcc, 0.5) {
		t.Errorf("mAcc %v aAcc %v, want 0.5 0.5", s.MAcc, s.AAcc)
	}
	// Only ignored pixels: every score undefined.
	e := newMetric(t, 2)
	add(t, e, 2, 1, []int32{0, 1}, []uint8{255, 255})
	if s := e.Scores(); !math.IsNaN(s.MIoU) || !math.IsNaN(s.AAcc) {
		t.Errorf("all ignored: %+v", s)
	}
}

// mmsegScores recomputes the scores as MMSeg's IoUMetric does: per image,
// drop the ignored pixels, histogram the intersection, prediction and
// label, and sum the histograms over the images.
func mmsegScores(C int, preds [][]int32, gts [][]uint8) (iou []float64, aacc float64) {
	I, P, L := make([]int64, C), make([]int64, C), make([]int64, C)
	for k := range preds {
		for i, g := range gts[k] {
			if g == 255 {
				continue
			}
			p := preds[k][i]
			if int(p) == int(g) {
				I[g]++
			}
			P[p]++
			L[g]++
		}
	}
	var si, sl int64
	for c := range C {
		u := P[c] + L[c] - I[c]
		if u == 0 {
			iou = append(iou, math.NaN())
		} else {
			iou = append(iou, float64(I[c])/float64(u))
		}
		si += I[c]
		sl += L[c]
	}
	return iou, float64(si) / float64(sl)
}

func TestMetricMatchesMMSegAndMerges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const C = 7
	var preds [][]int32
	var gts [][]uint8
	all := newMetric(t, C)
	a, b := newMetric(t, C), newMetric(t, C)
	for k := range 9 {
		w, h := 3+r.IntN(9), 2+r.IntN(7)
		pred := make([]int32, w*h)
		gt := make([]uint8, w*h)
		for i := range pred {
			pred[i] = int32(r.IntN(C - 1)) // class 6 is never predicted
			if r.IntN(5) == 0 {
				gt[i] = 255
			} else {
				gt[i] = uint8(r.IntN(C - 2)) // classes 5 and 6 never in the gt
			}
		}
		preds, gts = append(preds, pred), append(gts, gt)
		add(t, all, w, h, pred, gt)
		if k%3 == 0 {
			add(t, a, w, h, pred, gt)
		} else {
			add(t, b, w, h, pred, gt)
		}
	}
	iou, aacc := mmsegScores(C, preds, gts)
	s := all.Scores()
	for c := range C {
		if !(near(s.IoU[c], iou[c]) || math.IsNaN(s.IoU[c]) && math.IsNaN(iou[c])) {
			t.Errorf("class %d: IoU %v, MMSeg %v", c, s.IoU[c], iou[c])
		}
	}
	if !math.IsNaN(s.IoU[6]) || s.IoU[5] != 0 {
		t.Errorf("class 5 (predicted, absent) IoU %v, class 6 (neither) %v", s.IoU[5], s.IoU[6])
	}
	if !near(s.AAcc, aacc) {
		t.Errorf("aAcc %v, MMSeg %v", s.AAcc, aacc)
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Confusion, all.Confusion) || a.Images != all.Images {
		t.Errorf("merged shards differ from one pass")
	}
	// JSON round trip.
	data, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	var back eval.Metric
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Confusion, all.Confusion) || back.Images != all.Images || back.Classes != C {
		t.Errorf("JSON round trip changed the metric")
	}
	if err := json.Unmarshal([]byte(`{"classes":3,"confusion":[1,2]}`), &back); err == nil {
		t.Errorf("a 2-value matrix for 3 classes was accepted")
	}
	if err := a.Merge(newMetric(t, 3)); err == nil {
		t.Errorf("merging a 3-class metric into a 7-class one was accepted")
	}
}

func TestMetricErrorsCountNothing(t *testing.T) {
	m := newMetric(t, 3)
	gt := &eval.LabelMap{Name: "labels/x.png", W: 2, H: 2, Pix: []uint8{0, 1, 2, 255}}
	cases := []struct {
		name string
		pred []int32
		w, h int
		gt   *eval.LabelMap
		want []string
	}{
		{"prediction of another size", []int32{0, 0, 0, 0, 0, 0}, 3, 2, gt, []string{"labels/x.png", "2x2", "3x2"}},
		{"short prediction", []int32{0}, 2, 2, gt, []string{"1 values"}},
		{"label out of range", []int32{0, 0, 0, 0}, 2, 2, &eval.LabelMap{Name: "labels/y.png", W: 2, H: 2, Pix: []uint8{0, 7, 1, 255}}, []string{"labels/y.png", "value 7"}},
		{"prediction out of range", []int32{0, 3, 0, 0}, 2, 2, gt, []string{"prediction 3"}},
		{"negative prediction", []int32{0, -1, 0, 0}, 2, 2, gt, []string{"prediction -1"}},
	}
	for _, c := range cases {
		err := m.Add(c.pred, c.w, c.h, c.gt)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, s := range c.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q lacks %q", c.name, err, s)
			}
		}
	}
	if m.Images != 0 || slices.Max(m.Confusion) != 0 {
		t.Errorf("a failed Add counted pixels: %+v", m)
	}
	for _, c := range []int{0, 256} {
		if _, err := eval.NewMetric(c); err == nil {
			t.Errorf("NewMetric(%d) accepted", c)
		}
	}
}

// The class count bounds are inclusive: 1 class and 255 classes (the most
// a label PNG can hold beside the ignore value 255) are accepted, by
// NewMetric and when a saved metric is read back; 0 and 256 are not.
func TestMetricClassBoundsInclusive(t *testing.T) {
	for _, c := range []int{1, 255} {
		m, err := eval.NewMetric(c)
		if err != nil {
			t.Errorf("NewMetric(%d): %v", c, err)
			continue
		}
		if len(m.Confusion) != c*c {
			t.Errorf("NewMetric(%d): %d counts, want %d", c, len(m.Confusion), c*c)
		}
		conf, _ := json.Marshal(make([]int64, c*c))
		var back eval.Metric
		if err := json.Unmarshal([]byte(`{"classes":`+strconv.Itoa(c)+`,"images":0,"confusion":`+string(conf)+`}`), &back); err != nil || back.Classes != c {
			t.Errorf("reading a %d-class metric: %v", c, err)
		}
	}
	for _, c := range []int{0, 256} {
		var back eval.Metric
		conf, _ := json.Marshal(make([]int64, c*c))
		if err := json.Unmarshal([]byte(`{"classes":`+strconv.Itoa(c)+`,"images":0,"confusion":`+string(conf)+`}`), &back); err == nil {
			t.Errorf("a %d-class metric was read back", c)
		}
	}
}

// A prediction outside the classes is reported at its pixel (x,y): in a
// 3x2 image, value index 5 is pixel (2,1).
func TestMetricPredictionErrorNamesPixel(t *testing.T) {
	m := newMetric(t, 3)
	gt := &eval.LabelMap{Name: "p.png", W: 3, H: 2, Pix: []uint8{0, 1, 2, 0, 1, 2}}
	err := m.Add([]int32{0, 1, 2, 0, 1, 9}, 3, 2, gt)
	if err == nil || !strings.Contains(err.Error(), "prediction 9 at pixel (2,1)") {
		t.Fatalf("got %v, want prediction 9 at pixel (2,1)", err)
	}
}
