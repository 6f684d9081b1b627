package eval

import (
	"encoding/json"
	"fmt"
	"math"
)

// Metric accumulates MMSeg's IoUMetric statistics over a dataset as a
// confusion matrix of pixel counts: Confusion[g*Classes+p] is the number of
// pixels whose ground truth is g and whose prediction is p. Pixels whose
// ground truth is [Ignore] are left out (of the prediction areas too, as
// MMSeg drops them before its histograms). The per-class intersection,
// union, prediction and label areas MMSeg sums are read off the matrix, so
// the dataset-level sums, and not per-image means, define every score.
//
// Metrics of disjoint image sets add up exactly (Merge), and a Metric
// marshals to JSON for resuming and sharding.
type Metric struct {
	Classes   int     `json:"classes"`
	Images    int64   `json:"images"`
	Confusion []int64 `json:"confusion"` // [Classes·Classes], row = ground truth
}

// NewMetric returns an empty accumulator for classes classes (1..255: the
// label value 255 is the ignore index).
func NewMetric(classes int) (*Metric, error) {
	if classes < 1 || classes > Ignore {
		return nil, fmt.Errorf("eval: %d classes; a label map holds 1..%d", classes, Ignore)
	}
	return &Metric{Classes: classes, Confusion: make([]int64, classes*classes)}, nil
}

// Add counts one image: pred is the w×h prediction (class indices,
// row-major) and gt its ground truth, which must have the same size.
// Nothing is counted when an error is returned: a size mismatch, a label
// value that is neither a class nor [Ignore] (the error names the file and
// the value), or a prediction outside [0, Classes).
func (m *Metric) Add(pred []int32, w, h int, gt *LabelMap) error {
	C := m.Classes
	if len(pred) != w*h {
		return fmt.Errorf("eval: prediction of %d values for %dx%d", len(pred), w, h)
	}
	if gt.W != w || gt.H != h || len(gt.Pix) != w*h {
		return fmt.Errorf("%s: ground truth is %dx%d but the prediction is %dx%d (predictions are scored at the ground truth's size)", gt.Name, gt.W, gt.H, w, h)
	}
	if err := gt.Check(C); err != nil {
		return err
	}
	for i, p := range pred {
		if p < 0 || int(p) >= C {
			return fmt.Errorf("%s: prediction %d at pixel (%d,%d) is outside the %d classes", gt.Name, p, i%w, i/w, C)
		}
	}
	for i, g := range gt.Pix {
		if g == Ignore {
			continue
		}
		m.Confusion[int(g)*C+int(pred[i])]++
	}
	m.Images++
	return nil
}

// Merge adds the counts of o (images of another shard) to m.
func (m *Metric) Merge(o *Metric) error {
	if o.Classes != m.Classes || len(o.Confusion) != len(m.Confusion) {
		return fmt.Errorf("eval: cannot merge a %d-class metric into a %d-class one", o.Classes, m.Classes)
	}
	for i, v := range o.Confusion {
		m.Confusion[i] += v
	}
	m.Images += o.Images
	return nil
}

// UnmarshalJSON checks the matrix size.
func (m *Metric) UnmarshalJSON(b []byte) error {
	type plain Metric
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if p.Classes < 1 || p.Classes > Ignore || len(p.Confusion) != p.Classes*p.Classes {
		return fmt.Errorf("eval: metric of %d classes with a confusion matrix of %d values", p.Classes, len(p.Confusion))
	}
	for _, v := range p.Confusion {
		if v < 0 {
			return fmt.Errorf("eval: negative count %d in the confusion matrix", v)
		}
	}
	*m = Metric(p)
	return nil
}

// Scores are MMSeg IoUMetric results. Fractions in [0,1]; a NaN IoU (a
// class with union 0: neither in the ground truth nor predicted) or Acc (a
// class absent from the ground truth) is skipped by the means, as numpy's
// nanmean does.
type Scores struct {
	MIoU float64 // nanmean of IoU
	MAcc float64 // nanmean of Acc
	AAcc float64 // ΣI / Σlabel: pixel accuracy

	IoU []float64 // I_c / U_c
	Acc []float64 // I_c / label_c

	Intersection []int64 // pixels with prediction = ground truth = c
	Union        []int64 // PredArea + LabelArea − Intersection
	PredArea     []int64 // pixels predicted c (ground truth not ignored)
	LabelArea    []int64 // pixels whose ground truth is c
}

// Scores computes the scores from the accumulated counts.
func (m *Metric) Scores() Scores {
	C := m.Classes
	s := Scores{
		IoU: make([]float64, C), Acc: make([]float64, C),
		Intersection: make([]int64, C), Union: make([]int64, C),
		PredArea: make([]int64, C), LabelArea: make([]int64, C),
	}
	var sumI, sumL int64
	for g := 0; g < C; g++ {
		for p := 0; p < C; p++ {
			v := m.Confusion[g*C+p]
			s.LabelArea[g] += v
			s.PredArea[p] += v
		}
		s.Intersection[g] = m.Confusion[g*C+g]
	}
	for c := 0; c < C; c++ {
		s.Union[c] = s.PredArea[c] + s.LabelArea[c] - s.Intersection[c]
		s.IoU[c] = ratio(s.Intersection[c], s.Union[c])
		s.Acc[c] = ratio(s.Intersection[c], s.LabelArea[c])
		sumI += s.Intersection[c]
		sumL += s.LabelArea[c]
	}
	s.MIoU, s.MAcc = nanmean(s.IoU), nanmean(s.Acc)
	s.AAcc = ratio(sumI, sumL)
	return s
}

// ratio is a/b, NaN when b is 0 (numpy's 0/0).
func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// nanmean is the mean of the non-NaN values, NaN when there are none.
func nanmean(x []float64) float64 {
	var s float64
	n := 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}
