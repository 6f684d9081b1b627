package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/beam/pipeline"
	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
)

func evalFast(t *testing.T) []string {
	return append(fastArgs(t), "--dataset", "voc21")
}

func loadState(t *testing.T, dir string) *eval.State {
	t.Helper()
	st, err := eval.LoadState(filepath.Join(dir, eval.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func loadReport(t *testing.T, dir string) *eval.Report {
	t.Helper()
	var r eval.Report
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "report.json")), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// The pipeline's confusion matrix, lists and scores are freeseg eval's
// on a synthetic VOC set with a missing label and a corrupt image.
func TestEvalMatchesCLI(t *testing.T) {
	s, err := eval.Lookup("voc21")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ids := evaltest.Benchmark(t, s, root, 6, 40, 32)
	os.Remove(filepath.Join(root, s.LabelDir, ids[1]+s.LabelSuffix))
	evaltest.WriteFile(t, filepath.Join(root, s.ImageDir, ids[3]+s.ImageSuffix), []byte("not a jpeg"))
	args := append([]string{"eval", "--root", root, "--overlays", "3"}, evalFast(t)...)

	want := filepath.Join(t.TempDir(), "cli")
	runCLI(t, append(args, "--report", want, "--quiet", "--save-every", "0")...)
	got := filepath.Join(t.TempDir(), "beam")
	out := beamOK(t, append(args, "--report", got)...)
	if !strings.Contains(out, "4 images evaluated, 2 skipped") || !strings.Contains(out, "skipped "+ids[1]) {
		t.Errorf("summary:\n%s", out)
	}

	gs, ws := loadState(t, got), loadState(t, want)
	if gs.Metric.Images != 4 || !slices.Equal(gs.Metric.Confusion, ws.Metric.Confusion) {
		t.Fatalf("confusion matrix differs from freeseg eval's:\n%v\n%v", gs.Metric.Confusion, ws.Metric.Confusion)
	}
	var pixels int64
	for _, v := range gs.Metric.Confusion {
		pixels += v
	}
	if pixels != 4*(40-2)*(32-2) { // the 1-pixel 255 border is ignored
		t.Errorf("%d pixels counted", pixels)
	}
	if !slices.Equal(gs.Done, ws.Done) || !reflect.DeepEqual(gs.Skipped, ws.Skipped) || !reflect.DeepEqual(gs.Overlays, ws.Overlays) ||
		!reflect.DeepEqual(gs.Settings, ws.Settings) || !slices.Equal(gs.Overrides, ws.Overrides) || gs.ShardImages != ws.ShardImages {
		t.Errorf("state differs:\n%+v\n%+v", gs, ws)
	}
	gr, wr := loadReport(t, got), loadReport(t, want)
	if !reflect.DeepEqual(gr.Confusion, wr.Confusion) || !reflect.DeepEqual(gr.Classes, wr.Classes) || *gr.MIoU != *wr.MIoU ||
		*gr.AAcc != *wr.AAcc || gr.Version != wr.Version || !gr.Complete || !reflect.DeepEqual(gr.SkippedImages, wr.SkippedImages) {
		t.Errorf("report.json differs:\n%+v\n%+v", gr, wr)
	}
	for _, o := range ws.Overlays {
		if !bytes.Equal(readFile(t, filepath.Join(got, o.File)), readFile(t, filepath.Join(want, o.File))) {
			t.Errorf("overlay %s differs", o.File)
		}
	}
	md := string(readFile(t, filepath.Join(got, "report.md")))
	if !strings.Contains(md, "**mIoU**") || !strings.Contains(md, "Skipped images (2)") {
		t.Errorf("report.md:\n%s", md)
	}

	// A job that fails part-way leaves no report; run again, it ends as a
	// clean run.
	again := filepath.Join(t.TempDir(), "again")
	t.Setenv(pipeline.FailHook, ids[4])
	code, msg := runBeam(t, append(args, "--report", again)...)
	if code == 0 || !strings.Contains(msg, "failure injected") {
		t.Fatalf("eval with an injected failure: exit %d\n%s", code, msg)
	}
	if _, err := os.Stat(filepath.Join(again, eval.StateFile)); err == nil {
		t.Fatalf("a failed job wrote %s", eval.StateFile)
	}
	os.Unsetenv(pipeline.FailHook)
	beamOK(t, append(args, "--report", again)...)
	if as := loadState(t, again); !slices.Equal(as.Metric.Confusion, ws.Metric.Confusion) || !slices.Equal(as.Done, ws.Done) ||
		!reflect.DeepEqual(as.Skipped, ws.Skipped) {
		t.Errorf("rerun after a failure differs from freeseg eval:\n%+v", as)
	}

	// A finished report is not overwritten.
	code, msg = runBeam(t, append(args, "--report", got)...)
	if code == 0 || !strings.Contains(msg, "already holds a run") {
		t.Errorf("second run into the same report: exit %d\n%s", code, msg)
	}
	// --strict names the first file it cannot use.
	code, msg = runBeam(t, append(args, "--report", filepath.Join(t.TempDir(), "strict"), "--strict")...)
	if code == 0 || !strings.Contains(msg, "--strict") || !(strings.Contains(msg, ids[1]) || strings.Contains(msg, ids[3])) {
		t.Errorf("--strict: exit %d\n%s", code, msg)
	}
}

// Protocol presets and overrides are freeseg eval's: a folder dataset
// with background, NACLIP's whole-image preset replaced by a window.
func TestEvalFolderOverridesMatchCLI(t *testing.T) {
	root := t.TempDir()
	for i, name := range []string{"a", "b", "c"} {
		evaltest.WriteImage(t, filepath.Join(root, "images", name+".png"), 40, 32, i)
		evaltest.WriteFile(t, filepath.Join(root, "labels", name+".png"), evaltest.GreyPNG(t, 40, 32, evaltest.Label(40, 32, i, []uint8{0, 1, 2})))
	}
	evaltest.WriteFile(t, filepath.Join(root, "classes.txt"), []byte("sky, wall\ncat, kitten\ndog\n"))
	fa := fastArgs(t)
	args := []string{"eval", "--dataset", "folder", "--root", root, "--with-background", "--protocol", "naclip", "--model", fa[1], "--no-cache",
		"--templates", "single", "--short-side", "48", "--crop", "32", "--stride", "16", "--limit", "2"}
	want := filepath.Join(t.TempDir(), "cli")
	runCLI(t, append(args, "--report", want, "--quiet")...)
	got := filepath.Join(t.TempDir(), "beam")
	beamOK(t, append(args, "--report", got)...)
	gs, ws := loadState(t, got), loadState(t, want)
	if !slices.Equal(gs.Metric.Confusion, ws.Metric.Confusion) || !reflect.DeepEqual(gs.Settings, ws.Settings) ||
		!slices.Equal(gs.Overrides, ws.Overrides) || gs.Limit != 2 || len(gs.Done) != 2 {
		t.Errorf("folder eval differs:\n%+v\n%+v", gs, ws)
	}
	if p := gs.Settings.Pipeline; p["whole"] != "false" || p["crop"] != "32" || p["method"] != "naclip" || p["background"] != "true" {
		t.Errorf("pipeline settings %v", gs.Settings.Pipeline)
	}
}
