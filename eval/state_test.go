package eval_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
)

func testSettings() eval.Settings {
	return eval.Settings{Dataset: "voc21", Classes: 3, ListImages: 4, ListDigest: "abc", Protocol: "sclip",
		Vocabulary: "v", Pipeline: map[string]string{"pamr": "off", "method": "sclip"}, Model: "ViT-B/16", ModelDigest: "d", ShardCount: 2}
}

func shardState(t *testing.T, shard int, ids []string, preds [][]int32, gts [][]uint8) *eval.State {
	t.Helper()
	st, err := eval.NewState(testSettings(), shard)
	if err != nil {
		t.Fatal(err)
	}
	st.ClassNames = []string{"background", "cat", "dog"}
	st.ShardImages = len(ids)
	for i, id := range ids {
		add(t, st.Metric, len(preds[i]), 1, preds[i], gts[i])
		st.Done = append(st.Done, id)
		st.Seconds += 0.5
	}
	return st
}

func TestSettingsDiff(t *testing.T) {
	a := testSettings()
	if d := a.Diff(testSettings()); len(d) != 0 {
		t.Fatalf("equal settings differ: %v", d)
	}
	b := testSettings()
	b.Pipeline = map[string]string{"pamr": "10 steps", "method": "sclip", "extra": "x"}
	b.ModelDigest = "e"
	d := strings.Join(a.Diff(b), "\n")
	for _, s := range []string{"pamr: off vs 10 steps", "extra: (unset) vs x", "model digest: d vs e"} {
		if !strings.Contains(d, s) {
			t.Errorf("diff %q lacks %q", d, s)
		}
	}
	if strings.Contains(d, "method") {
		t.Errorf("diff names an equal setting: %q", d)
	}
}

func TestStateSaveLoadAndMerge(t *testing.T) {
	dir := t.TempDir()
	a := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
	a.Skipped = []eval.Skip{{ID: "i4", Reason: "label not found"}}
	a.Overlays = []eval.Overlay{{Index: 2, ID: "i2", File: "overlays/2.png"}, {Index: 0, ID: "i0", File: "overlays/0.png"}}
	b := shardState(t, 1, []string{"i1", "i3"}, [][]int32{{1, 1}, {0, 0}}, [][]uint8{{1, 0}, {0, 255}})
	b.Oriented = []string{"i3"}
	pa := filepath.Join(dir, "a.json")
	if err := a.Save(pa); err != nil {
		t.Fatal(err)
	}
	la, err := eval.LoadState(pa)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(la.Metric.Confusion, a.Metric.Confusion) || !slices.Equal(la.Done, a.Done) || la.Skipped[0] != a.Skipped[0] {
		t.Fatalf("round trip changed the state")
	}
	m, err := eval.Merge([]*eval.State{b, la}, []string{"B", "A"})
	if err != nil {
		t.Fatal(err)
	}
	all := shardState(t, 0, []string{"i0", "i1", "i2", "i3"}, [][]int32{{0, 1}, {1, 1}, {2, 2}, {0, 0}}, [][]uint8{{0, 1}, {1, 0}, {2, 255}, {0, 255}})
	if !slices.Equal(m.Metric.Confusion, all.Metric.Confusion) || m.Metric.Images != 4 || len(m.Done) != 4 {
		t.Errorf("merged %v, want %v", m.Metric.Confusion, all.Metric.Confusion)
	}
	if !slices.Equal(m.Shards, []int{0, 1}) || m.ShardLabel() != "0,1/2" || m.Seconds != 2 || m.ShardImages != 4 {
		t.Errorf("merged shards %v %q seconds %v images %d", m.Shards, m.ShardLabel(), m.Seconds, m.ShardImages)
	}
	if len(m.Skipped) != 1 || !slices.Equal(m.Oriented, []string{"i3"}) || m.Overlays[0].Index != 0 {
		t.Errorf("merged skips %v oriented %v overlays %v", m.Skipped, m.Oriented, m.Overlays)
	}
	rep := eval.BuildReport(m, "test")
	if !rep.Complete || rep.Evaluated != 4 || rep.Skipped != 1 {
		t.Errorf("report of the merge: complete %v evaluated %d skipped %d", rep.Complete, rep.Evaluated, rep.Skipped)
	}

	// Refusals.
	if _, err := eval.Merge([]*eval.State{a, a}, []string{"A", "A2"}); err == nil || !strings.Contains(err.Error(), "shard 0/2") {
		t.Errorf("same shard twice: %v", err)
	}
	c := shardState(t, 1, []string{"i2"}, [][]int32{{0}}, [][]uint8{{0}})
	if _, err := eval.Merge([]*eval.State{a, c}, []string{"A", "C"}); err == nil || !strings.Contains(err.Error(), "i2") {
		t.Errorf("image in two shards: %v", err)
	}
	d := shardState(t, 1, []string{"i1"}, [][]int32{{0}}, [][]uint8{{0}})
	d.Settings.Pipeline = map[string]string{"pamr": "10 steps", "method": "sclip"}
	if _, err := eval.Merge([]*eval.State{a, d}, []string{"A", "D"}); err == nil || !strings.Contains(err.Error(), "pamr") || !strings.Contains(err.Error(), "D") {
		t.Errorf("other settings: %v", err)
	}
}

func TestLoadStateRefusesInconsistentFiles(t *testing.T) {
	dir := t.TempDir()
	st := shardState(t, 1, []string{"x"}, [][]int32{{0}}, [][]uint8{{0}})
	bad := []func(s *eval.State){
		func(s *eval.State) { s.Version = 99 },
		func(s *eval.State) { s.Done = append(s.Done, "y") },
		func(s *eval.State) { s.Shards = []int{5} },
		func(s *eval.State) { s.Settings.Classes = 4 },
	}
	for i, f := range bad {
		c := *st
		c.Settings.Pipeline = st.Settings.Pipeline
		c.Done = slices.Clone(st.Done)
		f(&c)
		p := filepath.Join(dir, "s.json")
		if err := c.Save(p); err != nil {
			t.Fatal(err)
		}
		if _, err := eval.LoadState(p); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := eval.LoadState(filepath.Join(dir, "none.json")); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestReport(t *testing.T) {
	st := shardState(t, 0, []string{"i0"}, [][]int32{{0, 1, 1, 0}}, [][]uint8{{0, 1, 255, 0}})
	st.Settings.ShardCount = 1
	st.ShardImages = 2
	st.Skipped = []eval.Skip{{ID: "i1", Reason: "label labels/i1.png not found"}}
	st.Overlays = []eval.Overlay{{Index: 0, ID: "i0", File: "overlays/00000-i0.png"}}
	r := eval.BuildReport(st, "0.1.0")
	// Classes: 0 I 2 U 2; 1 I 1 U 1; 2 absent (NaN).
	if r.MIoU == nil || *r.MIoU != 100 || r.Classes[2].IoU != nil || r.Classes[2].Acc != nil {
		t.Fatalf("mIoU %v, class 2 %+v", r.MIoU, r.Classes[2])
	}
	if !r.Complete || r.SecondsPerImage != 0.5 || r.Confusion[0][0] != 2 || r.Confusion[1][1] != 1 {
		t.Errorf("%+v", r)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"iou":null`)) || !bytes.Contains(data, []byte(`"confusion":[[2,0,0],[0,1,0],[0,0,0]]`)) {
		t.Errorf("JSON: %s", data)
	}
	var md bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| **mIoU** | **100.00** |", "| 2 | dog | n/a | n/a | 0 | 0 |", "`i1`: label labels/i1.png not found",
		"1 evaluated, 1 skipped", "sha256 d", "| pamr | off |", "overlays/00000-i0.png", "0.500 s"} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("report.md lacks %q:\n%s", s, md.String())
		}
	}
	if strings.Contains(md.String(), "Partial result") {
		t.Errorf("complete run reported as partial")
	}
	st.ShardImages = 5
	r = eval.BuildReport(st, "0.1.0")
	md.Reset()
	r.WriteMarkdown(&md)
	if r.Complete || !strings.Contains(md.String(), "Partial result") {
		t.Errorf("2 of 5 images reported as complete")
	}
}
