package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
	"github.com/freeseg/freeseg/evaljob"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/prompts"
)

// evalCLI runs freeseg with args and returns the exit code and streams.
func evalCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(args, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")})
	return code, out.String(), errb.String()
}

func evalOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := evalCLI(t, args...)
	if code != 0 {
		t.Fatalf("freeseg %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return errs
}

func evalFail(t *testing.T, wantCode int, want []string, args ...string) string {
	t.Helper()
	code, out, errs := evalCLI(t, args...)
	if code != wantCode {
		t.Fatalf("freeseg %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, wantCode, out, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("freeseg %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, errs)
		}
	}
	return errs
}

func TestEvalPresetsAndOverrides(t *testing.T) {
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	cfg := func(args ...string) *evaljob.Job {
		t.Helper()
		c, err := parseEvalConfig(e, append([]string{"--report", "r"}, args...))
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return &c.job
	}
	// SCLIP's VOC21 config (the default protocol).
	c := cfg("--dataset", "voc21")
	o := c.Options
	if o.Method.Name != "sclip" || o.LogitScale != 65 || o.ProbThd != 0.1 || o.AreaThd != 0.1 ||
		o.Window.Crop != 224 || o.Window.Stride != 112 || o.Resize.Size != 336 || o.Resize.MaxLong != 2048 ||
		o.PAMRSteps != 0 || o.Partial.Enabled || o.Templates != "openai80" || len(c.Overrides) != 0 {
		t.Errorf("sclip voc21: %+v %v", o, c.Overrides)
	}
	// NACLIP on VOC21 is whole-image; with PAMR 10 steps.
	o = cfg("--protocol", "naclip", "--dataset", "voc21").Options
	if o.Method.Name != "naclip" || !o.Whole || o.PAMRSteps != 0 || o.LogitScale != 40 {
		t.Errorf("naclip voc21: %+v", o)
	}
	// Turning the whole-image mode off slides the default 224/112 window;
	// a crop alone does too.
	if o = cfg("--protocol", "naclip", "--dataset", "voc21", "--whole=false").Options; o.Whole || o.Window.Crop != 224 || o.Window.Stride != 112 {
		t.Errorf("naclip voc21 --whole=false: %+v", o)
	}
	if o = cfg("--protocol", "naclip", "--dataset", "voc21", "--crop", "336").Options; o.Whole || o.Window.Crop != 336 || o.Window.Stride != 112 {
		t.Errorf("naclip voc21 --crop 336: %+v", o)
	}
	if o = cfg("--dataset", "voc21", "--protocol", "naclip+pamr").Options; o.PAMRSteps != 10 || len(o.PAMRDilations) != 2 {
		t.Errorf("naclip+pamr voc21: %+v", o)
	}
	// An explicit window replaces the whole-image preset.
	c = cfg("--protocol", "naclip", "--dataset", "voc21", "--crop", "224", "--stride", "112")
	if c.Options.Window.Crop != 224 || c.Options.Window.Stride != 112 || !slices.Equal(c.Overrides, []string{"--crop=224", "--stride=112"}) {
		t.Errorf("naclip voc21 with a window: %+v %v", c.Options.Window, c.Overrides)
	}
	// ClearCLIP pads crops; Cityscapes uses crop 224, stride 224.
	o = cfg("--dataset", "cityscapes", "--protocol", "clearclip").Options
	if !o.Method.PadWindowsToPatch || o.Window.Crop != 224 || o.Window.Stride != 224 || o.Resize.Size != 448 || o.LogitScale != 50 {
		t.Errorf("clearclip cityscapes: %+v", o)
	}
	// Ablation flags switch the FreeSeg stages on; everything else stays the preset.
	c = cfg("--dataset", "voc20", "--pamr", "10", "--partial-labels", "smoothmin", "--templates", "single")
	o = c.Options
	if o.PAMRSteps != 10 || !o.Partial.Enabled || o.Partial.Pool.String() != "smoothmin" || o.Templates != "single" ||
		o.LogitScale != 40 || o.ProbThd != 0 || o.Window.Crop != 224 {
		t.Errorf("voc20 ablation: %+v", o)
	}
	if !slices.Equal(c.Overrides, []string{"--templates=single", "--pamr=10", "--partial-labels=smoothmin"}) {
		t.Errorf("overrides %v", c.Overrides)
	}
	// Setting a flag to the preset's own value is an override too, and harmless.
	if o = cfg("--dataset", "voc21", "--logit-scale", "65").Options; o.LogitScale != 65 || o.AreaThd != 0.1 {
		t.Errorf("explicit preset value: %+v", o)
	}
	// Folder datasets borrow a benchmark's protocol.
	o = cfg("--dataset", "folder", "--with-background").Options
	if o.ProbThd != 0.1 || o.LogitScale != 50 {
		t.Errorf("folder with background (context60): %+v", o)
	}
	if o = cfg("--dataset", "folder", "--like", "voc21").Options; o.AreaThd != 0 || o.LogitScale != 65 {
		t.Errorf("folder like voc21 without background: %+v", o)
	}
	// Shards and errors.
	if c = cfg("--dataset", "ade", "--shard", "2/3"); c.Shard != 2 || c.Shards != 3 {
		t.Errorf("shard %d/%d", c.Shard, c.Shards)
	}
	for _, bad := range [][]string{
		{"--dataset", "voc21", "--shard", "3/3"},
		{"--dataset", "voc21", "--shard", "x"},
		{"--dataset", "voc21", "--protocol", "nope"},
		{"--dataset", "nope"},
		{"--dataset", "voc21", "--limit", "-1"},
		{"--dataset", "voc21", "stray"},
		{"--dataset", "voc21", "--protocol", "naclip", "--stride", "0"},
		{},
	} {
		_, err := parseEvalConfig(e, append([]string{"--report", "r"}, bad...))
		if !errors.Is(err, freeseg.ErrUsage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

func TestEvalHelpShowsThePreset(t *testing.T) {
	_, out, _ := evalCLI(t, "eval", "--protocol", "naclip", "--dataset", "voc21", "--help")
	for _, s := range []string{"usage: freeseg eval", "eval merge", `(default naclip)`, "-whole\n", "(default true)"} {
		if !strings.Contains(out, s) {
			t.Errorf("help lacks %q:\n%s", s, out)
		}
	}
	_, out, _ = evalCLI(t, "help", "eval")
	if !strings.Contains(out, `(default sclip)`) || !strings.Contains(out, "(default 65)") {
		t.Errorf("plain help does not show SCLIP's VOC21 preset:\n%s", out)
	}
	_, out, _ = evalCLI(t, "eval", "merge", "--help")
	if !strings.Contains(out, "usage: freeseg eval merge") {
		t.Errorf("merge help:\n%s", out)
	}
}

// Dataset errors come before the model is loaded: no golden data needed.
func TestEvalDatasetErrors(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "JPEGImages"), 0o755)
	rep := filepath.Join(t.TempDir(), "rep")
	evalFail(t, 1, []string{filepath.Join(root, "ImageSets", "Segmentation", "val.txt"), "not found"},
		"eval", "--model", "m", "--dataset", "voc21", "--root", root, "--report", rep)
	evaltest.WriteFile(t, filepath.Join(root, "ImageSets/Segmentation/val.txt"), nil)
	evalFail(t, 1, []string{"empty dataset", "val.txt"}, "eval", "--model", "m", "--dataset", "voc21", "--root", root, "--report", rep)
	city := t.TempDir()
	os.MkdirAll(filepath.Join(city, "leftImg8bit", "val", "aachen"), 0o755)
	evalFail(t, 1, []string{"empty dataset", filepath.Join(city, "leftImg8bit", "val")},
		"eval", "--model", "m", "--dataset", "cityscapes", "--root", city, "--report", rep)
	evalFail(t, 1, []string{"image folder", "not found", "one subfolder per city"},
		"eval", "--model", "m", "--dataset", "cityscapes", "--root", t.TempDir(), "--report", rep)
	evalFail(t, 2, []string{"--report"}, "eval", "--dataset", "voc21", "--root", root)
	evalFail(t, 2, []string{"--root is required"}, "eval", "--dataset", "voc21", "--report", rep)
	evalFail(t, 2, []string{"for --dataset folder"}, "eval", "--dataset", "voc21", "--root", root, "--report", rep, "--with-background")
	evalFail(t, 2, []string{"--dataset folder needs"}, "eval", "--dataset", "folder", "--report", rep)
}

// The tiny golden model with a fast window: tiny images take milliseconds.
func evalFastArgs(t *testing.T) []string {
	return []string{"--model", golden.Path(t, "tiny-clip"), "--no-cache", "--templates", "single",
		"--short-side", "48", "--crop", "32", "--stride", "16", "--save-every", "0"}
}

func readEvalReport(t *testing.T, dir string) *eval.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r eval.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func sameEvalCounts(t *testing.T, what string, got, want *eval.Report) {
	t.Helper()
	if got.Evaluated != want.Evaluated || got.Skipped != want.Skipped {
		t.Errorf("%s: %d evaluated %d skipped, want %d %d", what, got.Evaluated, got.Skipped, want.Evaluated, want.Skipped)
	}
	for g := range want.Confusion {
		if !slices.Equal(got.Confusion[g], want.Confusion[g]) {
			t.Fatalf("%s: confusion row %d is %v, want %v", what, g, got.Confusion[g], want.Confusion[g])
		}
	}
	if *got.MIoU != *want.MIoU || *got.AAcc != *want.AAcc {
		t.Errorf("%s: mIoU %v aAcc %v, want %v %v", what, *got.MIoU, *got.AAcc, *want.MIoU, *want.AAcc)
	}
}

func TestEvalEndToEnd(t *testing.T) {
	fast := evalFastArgs(t)
	root := t.TempDir()
	const n, w, h = 7, 64, 48
	evaltest.Benchmark(t, evalSpec(t, "voc21"), root, n, w, h)
	tmp := t.TempDir()
	run := func(report string, extra ...string) string {
		t.Helper()
		args := append([]string{"eval", "--dataset", "voc21", "--root", root, "--report", filepath.Join(tmp, report)}, fast...)
		return evalOK(t, append(args, extra...)...)
	}

	// A straight run.
	errs := run("all")
	full := readEvalReport(t, filepath.Join(tmp, "all"))
	if full.Evaluated != n || full.Skipped != 0 || !full.Complete || full.MIoU == nil {
		t.Fatalf("straight run: %+v", full)
	}
	var pixels int64
	for _, row := range full.Confusion {
		for _, v := range row {
			pixels += v
		}
	}
	if want := int64(n * (w - 2) * (h - 2)); pixels != want { // the 1-pixel 255 border is ignored
		t.Errorf("%d pixels counted, want %d", pixels, want)
	}
	if !strings.Contains(errs, "ETA") || !strings.Contains(errs, "mIoU") {
		t.Errorf("no progress or summary on stderr:\n%s", errs)
	}
	md, _ := os.ReadFile(filepath.Join(tmp, "all", "report.md"))
	for _, s := range []string{"**mIoU**", "| 0 | background |", "7 evaluated, 0 skipped, of 7", "time per image", "--templates=single", "model digest"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	if len(full.Overlays) != 3 {
		t.Errorf("%d overlays, want 3", len(full.Overlays))
	}
	for _, o := range full.Overlays {
		if _, err := os.Stat(filepath.Join(tmp, "all", o.File)); err != nil {
			t.Error(err)
		}
	}
	if full.ModelDigest == "" || full.Protocol != "sclip" || full.Pipeline["crop"] != "32" || full.Pipeline["stride"] != "16" || full.Pipeline["whole"] != "false" {
		t.Errorf("settings: %q %q %v", full.ModelDigest, full.Protocol, full.Pipeline)
	}

	// Two shards and their merge equal the straight run exactly.
	run("s0", "--shard", "0/2")
	run("s1", "--shard", "1/2")
	s0 := readEvalReport(t, filepath.Join(tmp, "s0"))
	if s0.Evaluated != 4 || s0.Complete {
		t.Errorf("shard 0/2: %d evaluated, complete %v", s0.Evaluated, s0.Complete)
	}
	evalOK(t, "eval", "merge", "--report", filepath.Join(tmp, "merged"), filepath.Join(tmp, "s0"), filepath.Join(tmp, "s1"))
	merged := readEvalReport(t, filepath.Join(tmp, "merged"))
	sameEvalCounts(t, "merge of 0/2 and 1/2", merged, full)
	if !merged.Complete || merged.Shards != "0,1/2" || len(merged.Overlays) != 3 || merged.Overlays[1].Index != 1 {
		t.Errorf("merged: complete %v shards %q overlays %v", merged.Complete, merged.Shards, merged.Overlays)
	}
	for _, o := range merged.Overlays {
		if _, err := os.Stat(filepath.Join(tmp, "merged", o.File)); err != nil {
			t.Error(err)
		}
	}

	// An interrupted run (--limit 2 stands for the kill) resumed without the limit.
	run("resumed", "--limit", "2")
	part := readEvalReport(t, filepath.Join(tmp, "resumed"))
	if part.Evaluated != 2 || part.Complete {
		t.Fatalf("limited run: %+v", part)
	}
	run("resumed", "--resume")
	sameEvalCounts(t, "resumed run", readEvalReport(t, filepath.Join(tmp, "resumed")), full)
	st, err := eval.LoadState(filepath.Join(tmp, "resumed", eval.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Done) != n || st.Done[0] != "2008_000000" || st.Done[2] != "2008_000002" {
		t.Errorf("done list %v", st.Done)
	}
	// Resuming a finished run counts nothing twice.
	run("resumed", "--resume")
	sameEvalCounts(t, "resumed twice", readEvalReport(t, filepath.Join(tmp, "resumed")), full)

	// Refusals.
	base := append([]string{"eval", "--dataset", "voc21", "--root", root}, fast...)
	evalFail(t, 1, []string{"--resume"}, append(base, "--report", filepath.Join(tmp, "all"))...)
	evalFail(t, 1, []string{"other settings", "pamr: 0 vs 1"}, append(base, "--report", filepath.Join(tmp, "all"), "--resume", "--pamr", "1")...)
	evalFail(t, 1, []string{"shard count: 1 vs 2"}, append(base, "--report", filepath.Join(tmp, "all"), "--resume", "--shard", "1/2")...)
	evalFail(t, 1, []string{"holds shard 0/2, not 1/2"}, append(base, "--report", filepath.Join(tmp, "s0"), "--resume", "--shard", "1/2")...)
	evalFail(t, 1, []string{"both hold shard 0/2"}, "eval", "merge", "--report", filepath.Join(tmp, "m2"), filepath.Join(tmp, "s0"), filepath.Join(tmp, "merged"))
	evalFail(t, 1, []string{"different settings", "shard count"}, "eval", "merge", "--report", filepath.Join(tmp, "m3"), filepath.Join(tmp, "all"), filepath.Join(tmp, "s1"))
	evalFail(t, 1, []string{"one of the inputs"}, "eval", "merge", "--report", filepath.Join(tmp, "s0"), filepath.Join(tmp, "s0"), filepath.Join(tmp, "s1"))
	run("s1-pamr", "--shard", "1/2", "--pamr", "1")
	evalFail(t, 1, []string{"different settings", "pamr"}, "eval", "merge", "--report", filepath.Join(tmp, "m4"), filepath.Join(tmp, "s0"), filepath.Join(tmp, "s1-pamr"))
}

func evalSpec(t *testing.T, name string) eval.Spec {
	t.Helper()
	s, err := eval.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reduce_zero_label runs through the command: the ignored pixels are the
// border and every raw 0.
func TestEvalReduceZeroLabel(t *testing.T) {
	fast := evalFastArgs(t)
	for _, name := range []string{"voc20", "ade20k"} {
		root := t.TempDir()
		s := evalSpec(t, name)
		evaltest.Benchmark(t, s, root, 2, 40, 24)
		rep := filepath.Join(t.TempDir(), "rep")
		evalOK(t, append([]string{"eval", "--dataset", name, "--root", root, "--report", rep, "--quiet"}, fast...)...)
		r := readEvalReport(t, rep)
		var want, got int64
		for i := range 2 {
			for _, v := range evaltest.Label(40, 24, i, evaltest.RawValues(s)) {
				if v != 0 && v != 255 {
					want++
				}
			}
		}
		for _, c := range r.Classes {
			got += c.LabelArea
		}
		if got != want || len(r.Classes) != s.Classes || r.Evaluated != 2 {
			t.Errorf("%s: %d labelled pixels, want %d; %d classes", name, got, want, len(r.Classes))
		}
	}
}

func TestEvalSkipsAndErrors(t *testing.T) {
	fast := evalFastArgs(t)
	root := t.TempDir()
	s := evalSpec(t, "voc21")
	ids := evaltest.Benchmark(t, s, root, 4, 32, 24)
	os.Remove(filepath.Join(root, s.LabelDir, ids[1]+s.LabelSuffix))
	evaltest.WriteFile(t, filepath.Join(root, s.ImageDir, ids[2]+s.ImageSuffix), []byte("not a jpeg"))
	base := append([]string{"eval", "--dataset", "voc21", "--root", root}, fast...)
	rep := filepath.Join(t.TempDir(), "rep")
	evalOK(t, append(base, "--report", rep)...)
	r := readEvalReport(t, rep)
	if r.Evaluated != 2 || r.Skipped != 2 || !r.Complete || r.SkippedImages[0].ID != ids[1] || r.SkippedImages[1].ID != ids[2] {
		t.Fatalf("skips: %+v", r.SkippedImages)
	}
	md, _ := os.ReadFile(filepath.Join(rep, "report.md"))
	if !strings.Contains(string(md), "Skipped images (2)") || !strings.Contains(string(md), ids[1]) {
		t.Errorf("report.md does not list the skips:\n%s", md)
	}
	evalFail(t, 1, []string{ids[1], "not found", "--strict"}, append(base, "--report", filepath.Join(t.TempDir(), "r"), "--strict")...)

	// A resumed run retries the skipped images: here the label is back.
	evaltest.WriteFile(t, filepath.Join(root, s.LabelDir, ids[1]+s.LabelSuffix), evaltest.PalettePNG(t, 32, 24, evaltest.Label(32, 24, 1, evaltest.RawValues(s))))
	evalOK(t, append(base, "--report", rep, "--resume")...)
	if r = readEvalReport(t, rep); r.Evaluated != 3 || r.Skipped != 1 || r.SkippedImages[0].ID != ids[2] {
		t.Errorf("after the label came back: %d evaluated, skips %v", r.Evaluated, r.SkippedImages)
	}

	// A label of another size, and an out-of-range value, stop the run.
	evaltest.WriteImage(t, filepath.Join(root, s.ImageDir, ids[2]+s.ImageSuffix), 32, 24, 2)
	evaltest.WriteFile(t, filepath.Join(root, s.LabelDir, ids[2]+s.LabelSuffix), evaltest.PalettePNG(t, 30, 24, make([]uint8, 30*24)))
	evalFail(t, 1, []string{ids[2], "30x24", "32x24"}, append(base, "--report", filepath.Join(t.TempDir(), "r"))...)
	bad := evaltest.Label(32, 24, 0, []uint8{0, 21})
	lp := filepath.Join(root, s.LabelDir, ids[2]+s.LabelSuffix)
	evaltest.WriteFile(t, lp, evaltest.PalettePNG(t, 32, 24, bad))
	r2 := filepath.Join(t.TempDir(), "r")
	evalFail(t, 1, []string{lp, "label value 21", "0..20"}, append(base, "--report", r2)...)
	// The images counted before the error are saved for --resume.
	st, err := eval.LoadState(filepath.Join(r2, eval.StateFile))
	if err != nil || len(st.Done) != 2 {
		t.Errorf("state after the error: %v %v", st, err)
	}
}

func TestEvalFolderDataset(t *testing.T) {
	fast := evalFastArgs(t)
	root := t.TempDir()
	for i, name := range []string{"a", "b", "c"} {
		evaltest.WriteImage(t, filepath.Join(root, "images", name+".png"), 40, 32, i)
		evaltest.WriteFile(t, filepath.Join(root, "labels", name+".png"), evaltest.GreyPNG(t, 40, 32, evaltest.Label(40, 32, i, []uint8{0, 1, 2})))
	}
	evaltest.WriteFile(t, filepath.Join(root, "classes.txt"), []byte("sky, wall\ncat, kitten\ndog\n"))
	rep := filepath.Join(t.TempDir(), "rep")
	evalOK(t, append([]string{"eval", "--dataset", "folder", "--root", root, "--with-background", "--report", rep}, fast...)...)
	r := readEvalReport(t, rep)
	if r.Evaluated != 3 || len(r.Classes) != 3 || r.Classes[0].Name != "background" || r.Classes[2].Name != "dog" ||
		r.Pipeline["background"] != "true" || !strings.Contains(r.Protocol, "context60") {
		t.Errorf("folder report: %+v", r)
	}
}

// freeseg.ProtocolOptions maps every field of every published preset; its
// background rule (prob_thd > 0) agrees with the benchmarks' background.
func TestProtocolOptionsCoverEveryPreset(t *testing.T) {
	for _, m := range prompts.ProtocolMethods() {
		for _, s := range eval.Benchmarks() {
			p, err := prompts.Protocols(m, s.Name)
			if err != nil {
				t.Fatal(err)
			}
			o, err := freeseg.ProtocolOptions(p)
			if err != nil {
				t.Fatal(err)
			}
			if o.Method.Name != p.Method || o.Templates != p.Templates || o.Resize.Mode != freeseg.ResizeShort || o.Resize.Size != p.Short ||
				o.Resize.MaxLong != p.MaxLong || o.Whole != (p.Crop == 0) || (!o.Whole && (o.Window.Crop != p.Crop || o.Window.Stride != p.Stride)) ||
				o.Method.PadWindowsToPatch != (p.Method == "clearclip") || o.LogitScale != p.LogitScale || o.ProbThd != p.ProbThd ||
				o.AreaThd != p.AreaThd || o.PAMRSteps != p.PAMRSteps || o.Partial.Enabled {
				t.Errorf("%s on %s: protocol %+v, options %+v", m, s.Name, p, o)
			}
			if err := o.Validate(12); err != nil {
				t.Errorf("%s on %s: %v", m, s.Name, err)
			}
			if v, err := p.Vocabulary(); err == nil && v.Len() != s.Classes {
				t.Errorf("%s on %s: %d classes in the class file, the dataset has %d", m, s.Name, v.Len(), s.Classes)
			}
		}
	}
}

// The report names the preset asked for (naclip+pamr is not naclip) and
// describes the method in words.
func TestEvalReportProtocolLabel(t *testing.T) {
	fast := evalFastArgs(t)
	root := t.TempDir()
	evaltest.Benchmark(t, evalSpec(t, "voc20"), root, 2, 48, 40)
	for _, c := range []struct{ protocol, want string }{
		{"naclip+pamr", "naclip+pamr"}, {"naclip_pamr", "naclip+pamr"}, {"naclip", "naclip"}, {"sclip", "sclip"},
	} {
		rep := filepath.Join(t.TempDir(), "r")
		errs := evalOK(t, append([]string{"eval", "--dataset", "voc20", "--root", root, "--protocol", c.protocol, "--report", rep, "--pamr", "1"}, fast...)...)
		r := readEvalReport(t, rep)
		if r.Protocol != c.want {
			t.Errorf("--protocol %s: report.json protocol %q, want %q", c.protocol, r.Protocol, c.want)
		}
		md, _ := os.ReadFile(filepath.Join(rep, "report.md"))
		if !strings.Contains(string(md), "| protocol | "+c.want+" |") {
			t.Errorf("--protocol %s: report.md lacks the protocol row %q", c.protocol, c.want)
		}
		if !strings.Contains(errs, ", "+c.want+": mIoU") {
			t.Errorf("--protocol %s: summary line lacks %q:\n%s", c.protocol, c.want, errs)
		}
		if mp := r.Pipeline["method_params"]; strings.ContainsAny(mp, "{}") || !strings.Contains(mp, "attention") {
			t.Errorf("--protocol %s: method_params %q", c.protocol, mp)
		}
	}
	if got := dense.Method.Describe(dense.NACLIP); got != "last 1 block(s) changed, attention kk, Gaussian neighbourhood sigma 5, without residual, without FFN, positions resized bicubically by scale factor" {
		t.Errorf("NACLIP described as %q", got)
	}
}
