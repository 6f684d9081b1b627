package pipeline

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/eval"
)

// Output names follow freeseg segment: the stem when unique, else the
// file name, then "-2", ...; an input in the output folder keeps its name.
func TestTasksNames(t *testing.T) {
	got := Tasks([]string{"a/cat.png", "b/cat.jpg", "s3://bkt/in/cat.v2.png", "s3://bkt/x/cat", "c/cat.webp", "d/CAT.webp", "out/x.labels.png", "p/x.png"}, "out")
	want := []string{"cat.png", "cat.jpg", "cat.v2", "cat", "cat.webp", "CAT.webp-2", "x.labels", "x.png"}
	for i, tk := range got {
		if tk.Name != want[i] {
			t.Errorf("task %d (%s): name %q, want %q", i, tk.Image, tk.Name, want[i])
		}
	}
}

// The settings given are applied by name over freeseg.DefaultOptions.
func TestSegmentConfigOptions(t *testing.T) {
	c := SegmentConfig{}
	o, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	d := freeseg.DefaultOptions()
	if o.PAMRSteps != d.PAMRSteps || o.Window != d.Window || o.Templates != d.Templates {
		t.Errorf("no settings: %+v, want the defaults %+v", o, d)
	}
	c.Settings = map[string]string{"pamr": "3", "templates": "single"}
	if o, err = c.Options(); err != nil || o.PAMRSteps != 3 || o.Templates != "single" {
		t.Errorf("pamr 3, templates single: %+v %v", o, err)
	}
	c.Settings = map[string]string{"method": "nope"}
	if _, err := c.Options(); err == nil {
		t.Error("unknown method accepted")
	}
}

// Any split of the images into accumulators, merged in any order, gives
// the matrix of adding the images one by one; StateOf lists them in
// dataset order.
func TestConfusionCombineAndState(t *testing.T) {
	const C = 3
	f := &confusionFn{Classes: C}
	imgs := []ImageResult{
		{K: 4, ID: "e", Confusion: []int64{1, 0, 0, 0, 2, 0, 0, 0, 3}, Seconds: 1},
		{K: 0, ID: "a", Confusion: []int64{0, 5, 0, 0, 0, 0, 7, 0, 0}, Seconds: 2, Oriented: true, Overlay: "overlays/00000-a.png"},
		{K: 2, ID: "c", Skip: "label c.png not found"},
		{K: 1, ID: "b", Confusion: []int64{9, 0, 0, 0, 0, 1, 0, 0, 0}, Seconds: 3},
	}
	var seq []int64 = make([]int64, C*C)
	for _, r := range imgs {
		for i, v := range r.Confusion {
			seq[i] += v
		}
	}
	a := f.AddInput(f.AddInput(f.CreateAccumulator(), imgs[0]), imgs[1])
	b := f.AddInput(f.AddInput(f.CreateAccumulator(), imgs[2]), imgs[3])
	for _, acc := range []EvalAcc{f.MergeAccumulators(a, b), f.MergeAccumulators(b, a)} {
		out := f.ExtractOutput(acc)
		if !slices.Equal(out.Confusion, seq) || out.Images != 3 {
			t.Fatalf("combined %v (%d images), want %v (3)", out.Confusion, out.Images, seq)
		}
		st, _ := eval.NewState(eval.Settings{Classes: C, ShardCount: 1}, 0)
		tmpl, _ := json.Marshal(st)
		s, err := StateOf(string(tmpl), out)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Done, []string{"a", "b", "e"}) || len(s.Skipped) != 1 || s.Skipped[0].ID != "c" ||
			s.Seconds != 6 || !slices.Equal(s.Oriented, []string{"a"}) || len(s.Overlays) != 1 || s.Overlays[0].Index != 0 ||
			!slices.Equal(s.Metric.Confusion, seq) {
			t.Errorf("state %+v", s)
		}
	}
	// A matrix of the wrong size is refused, not truncated.
	st, _ := eval.NewState(eval.Settings{Classes: 2, ShardCount: 1}, 0)
	tmpl, _ := json.Marshal(st)
	if _, err := StateOf(string(tmpl), f.MergeAccumulators(a, b)); err == nil || !strings.Contains(err.Error(), "cells") {
		t.Errorf("3-class matrix into a 2-class state: %v", err)
	}
}
