package eval_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
)

// Two images worked out by hand (3 classes, 2 named):
//
//	image a (2x1) gt 0 1, pred 0 1
//	image b (2x1) gt 0 1, pred 1 1
//
// Class 0: I 1, U 2, IoU 50%, Acc 50%; class 1: I 2, U 3, IoU 66.67%,
// Acc 100%; class 2 absent. mIoU 58.33%, mAcc 75%, aAcc 3/4 = 75%; 6 s
// for 2 images is 3 s per image.
func TestBuildReportByHand(t *testing.T) {
	st, err := eval.NewState(eval.Settings{Dataset: "folder", Classes: 3, ShardCount: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]int32{{0, 1}, {1, 1}} {
		if err := st.Metric.Add(p, 2, 1, &eval.LabelMap{Name: "gt.png", W: 2, H: 1, Pix: []uint8{0, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Done, st.ShardImages, st.Seconds = []string{"a", "b"}, 2, 6
	st.ClassNames = []string{"bg", "cat"}
	r := eval.BuildReport(st, "test")
	approx := func(name string, got *float64, want float64) {
		if got == nil || math.Abs(*got-want) > 1e-9 {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	approx("mIoU", r.MIoU, 100*(0.5+2.0/3)/2)
	approx("mAcc", r.MAcc, 75)
	approx("aAcc", r.AAcc, 75)
	approx("IoU of class 0", r.Classes[0].IoU, 50)
	approx("IoU of class 1", r.Classes[1].IoU, 100*2.0/3)
	if r.SecondsPerImage != 3 {
		t.Errorf("seconds per image %v, want 3", r.SecondsPerImage)
	}
	if len(r.Classes) != 3 || r.Classes[0].Name != "bg" || r.Classes[1].Name != "cat" || r.Classes[2].Name != "" {
		t.Errorf("classes %+v, want bg, cat and an unnamed third", r.Classes)
	}

	// Nothing evaluated yet: no time per image (and report.json can be
	// written: JSON has no Inf or NaN).
	empty, err := eval.NewState(eval.Settings{Dataset: "folder", Classes: 3, ShardCount: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	empty.Seconds = 3
	r = eval.BuildReport(empty, "test")
	if r.SecondsPerImage != 0 {
		t.Errorf("no image evaluated: %v s per image, want 0", r.SecondsPerImage)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("report of no image: %v", err)
	}
}

// The optional parts of report.md appear exactly when they have something
// to say.
func TestWriteMarkdownOptionalParts(t *testing.T) {
	full := &eval.Report{
		Dataset: "folder", Shards: "1/4", ImagesInShards: 10, Evaluated: 2, Skipped: 1, Limit: 5,
		SkippedImages: []eval.Skip{{ID: "s1", Reason: "label not found"}},
		SplitFile:     "lists/val.txt", Overrides: []string{"--pamr=10"},
		ExifOriented: []string{"rot1"}, Overlays: []eval.Overlay{{Index: 0, ID: "o1", File: "overlays/o1.png"}},
	}
	bare := &eval.Report{Dataset: "folder", Shards: "all", ImagesInShards: 10, Evaluated: 4, SkippedImages: []eval.Skip{}}
	done := &eval.Report{Dataset: "folder", Shards: "all", ImagesInShards: 4, Evaluated: 4, Complete: true, SkippedImages: []eval.Skip{}}
	md := func(r *eval.Report) string {
		var b strings.Builder
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, c := range []struct {
		name      string
		r         *eval.Report
		has, lack []string
	}{
		{"full", full, []string{
			"**Partial result**: 3 of the 10 images", " (shards 1/4)", " (--limit 5)",
			"| split file | lists/val.txt |", "| overridden | --pamr=10 |", "| limit | first 5 images of the shard |",
			"## Skipped images (1)", "- `s1`: label not found",
			"## Images with an EXIF orientation (1)", "- `rot1`", "## Overlays", "overlays/o1.png",
		}, []string{"None."}},
		{"bare", bare, []string{"**Partial result**: 4 of the 10 images", "## Skipped images (0)\n\nNone.\n"}, []string{
			"(shards ", "--limit", "| split file", "| overridden", "| limit", "EXIF orientation", "## Overlays",
		}},
		{"complete", done, []string{"None."}, []string{"Partial result"}},
	} {
		s := md(c.r)
		for _, want := range c.has {
			if !strings.Contains(s, want) {
				t.Errorf("%s: report.md lacks %q:\n%s", c.name, want, s)
			}
		}
		for _, no := range c.lack {
			if strings.Contains(s, no) {
				t.Errorf("%s: report.md has %q:\n%s", c.name, no, s)
			}
		}
	}
}
