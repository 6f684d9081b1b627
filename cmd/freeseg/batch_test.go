package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/bomb"
	"github.com/freeseg/freeseg/internal/golden"
)

// writeTestImage writes a w×h image with a colour gradient (PNG, or JPEG
// for a .jpg name).
func writeTestImage(t *testing.T, path string, w, h int) {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255})
		}
	}
	var b bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".jpg") {
		err = jpeg.Encode(&b, m, nil)
	} else {
		err = png.Encode(&b, m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fast are segment flags that keep the tiny model's runs short.
var fast = []string{"--no-cache", "--templates", "single", "--background", "none", "--pamr", "0", "--whole", "--short-side", "64"}

func segmentArgs(model string, extra ...string) []string {
	return append(append([]string{"segment", "--model", model, "--classes", "cat; dog"}, fast...), extra...)
}

func readReport(t *testing.T, path string) export.SegmentReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r export.SegmentReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// Issue 9 finding 4: image bombs are refused from their header, before the
// model is loaded or a pixel decoded, naming the file; memory stays
// bounded (the process's own allocation count).
func TestSegmentRefusesImageBombs(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.png")    // 44 KB, 19000x19000
	medium := filepath.Join(dir, "med.png") // 6 KB, 7000x7000
	os.WriteFile(big, bomb.PNG1Bit(19000, 19000), 0o644)
	os.WriteFile(medium, bomb.PNG1Bit(7000, 7000), 0o644)
	out := filepath.Join(dir, "out")
	for _, p := range []string{big, medium} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// A model path that does not exist: the refusal must come first.
		code, _, errs := run(t, "segment", "--model", filepath.Join(dir, "no-model"), "--classes", "cat; dog", "--max-memory-mb", "4096", "--out", out, p)
		runtime.ReadMemStats(&after)
		if code != 1 || !strings.Contains(errs, p) || !strings.Contains(errs, "more than the limit of 4.0 GiB") || !strings.Contains(errs, "--max-side") {
			t.Fatalf("%s: code %d, %q", p, code, errs)
		}
		if strings.Contains(errs, "no-model") {
			t.Fatalf("%s: the model was opened before the image was checked: %q", p, errs)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
			t.Fatalf("%s: refusing allocated %d MB", p, got>>20)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatalf("output folder left behind: %v", err)
		}
	}
}

// With --max-side the bomb is scaled down first and segmented.
func TestSegmentMaxSide(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	p := filepath.Join(dir, "med.png")
	os.WriteFile(p, bomb.PNG1Bit(7000, 7000), 0o644)
	out := filepath.Join(dir, "out")
	code, _, errs := run(t, segmentArgs(model, "--max-side", "128", "--max-memory-mb", "1024", "--out", out, p)...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	if r := readReport(t, filepath.Join(out, "med.json")); r.Width != 128 || r.Height != 128 {
		t.Fatalf("output %dx%d, want 128x128", r.Width, r.Height)
	}
}

// Issue 11 item 2 and 3, issue 9 finding 6: a folder with a bad file goes
// on and lists the failure; a.png, a.jpg and a-2.png keep three sets of
// outputs; --recursive mirrors the tree; with --out equal to the input
// folder a rerun does not take the outputs as inputs.
func TestSegmentBatch(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeTestImage(t, filepath.Join(in, "a.png"), 96, 64)
	writeTestImage(t, filepath.Join(in, "a.jpg"), 80, 64)
	writeTestImage(t, filepath.Join(in, "a-2.png"), 72, 64)
	writeTestImage(t, filepath.Join(in, "sub", "b.png"), 64, 96)
	os.WriteFile(filepath.Join(in, "bad.png"), []byte("not an image at all"), 0o644)

	// --strict stops at the first failure, before any work.
	code, _, errs := run(t, segmentArgs(model, "--strict", "--recursive", "--out", in, in)...)
	if code != 1 || !strings.Contains(errs, "bad.png") {
		t.Fatalf("--strict: code %d, %q", code, errs)
	}
	if got := listFiles(t, in); len(got) != 5 {
		t.Fatalf("--strict wrote %v", got)
	}

	check := func(run int) {
		code, _, errs := runMainT(t, segmentArgs(model, "--recursive", "--out", in, in)...)
		if code != 1 || !strings.Contains(errs, "1 of 5 images failed") || !strings.Contains(errs, filepath.Join(in, "bad.png")) {
			t.Fatalf("run %d: code %d, %q", run, code, errs)
		}
		if run == 2 && !strings.Contains(errs, "skipped 8 of freeseg's own outputs") {
			t.Fatalf("run 2 did not skip the outputs: %q", errs)
		}
		// Every input's result is kept under its own name, pointing back to it.
		for base, src := range map[string]string{
			"a.png": "a.png", "a.jpg": "a.jpg", "a-2": "a-2.png", filepath.Join("sub", "b"): filepath.Join("sub", "b.png"),
		} {
			r := readReport(t, filepath.Join(in, base+".json"))
			if r.Image != filepath.Join(in, src) || r.Generator == "" {
				t.Fatalf("run %d: %s.json is for %q", run, base, r.Image)
			}
			if txt, _ := imageio.PNGTextFile(filepath.Join(in, base+".labels.png")); txt[batch.MarkerKey] != "labels" {
				t.Fatalf("run %d: %s.labels.png has no marker: %v", run, base, txt)
			}
		}
		for _, f := range listFiles(t, in) {
			if strings.Contains(f, ".labels.labels") || strings.Contains(f, ".overlay.labels") || strings.Contains(f, ".tmp") {
				t.Fatalf("run %d: %s", run, f)
			}
		}
		if n := len(listFiles(t, in)); n != 5+12 {
			t.Fatalf("run %d: %d files: %v", run, n, listFiles(t, in))
		}
	}
	check(1)
	check(2)
}

func runMainT(t *testing.T, args ...string) (int, string, string) { return run(t, args...) }

// Issue 9 finding 6: an output folder that is a link to the input folder,
// holding a user's file named like an output, never loses it.
func TestSegmentSymlinkedOutNeverOverwritesInputs(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeTestImage(t, filepath.Join(in, "a.png"), 96, 64)
	writeTestImage(t, filepath.Join(in, "a.labels.png"), 64, 64) // the user's, no marker
	link := filepath.Join(dir, "link")
	if err := os.Symlink(in, link); err != nil {
		t.Skip("no symbolic links:", err)
	}
	before, _ := os.ReadFile(filepath.Join(in, "a.labels.png"))
	// Both given explicitly, through the link; --out is the folder itself.
	code, _, errs := run(t, segmentArgs(model, "--out", in, filepath.Join(link, "a.png"), filepath.Join(link, "a.labels.png"))...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	after, _ := os.ReadFile(filepath.Join(in, "a.labels.png"))
	if !bytes.Equal(before, after) {
		t.Fatal("the input a.labels.png was overwritten")
	}
	if r := readReport(t, filepath.Join(in, "a.png.json")); r.Image != filepath.Join(link, "a.png") {
		t.Fatalf("a.png's outputs: %+v", r)
	}
	if r := readReport(t, filepath.Join(in, "a.labels.json")); r.Image != filepath.Join(link, "a.labels.png") {
		t.Fatalf("a.labels.png's outputs: %+v", r)
	}
	// The same folder scanned: the unmarked a.labels.png is skipped as an
	// input by its name, and still never written over.
	os.Remove(filepath.Join(in, "a.png.json"))
	code, _, errs = run(t, segmentArgs(model, "--out", link, in)...)
	if code != 0 {
		t.Fatalf("folder run: code %d: %s", code, errs)
	}
	after, _ = os.ReadFile(filepath.Join(in, "a.labels.png"))
	if !bytes.Equal(before, after) {
		t.Fatal("the input a.labels.png was overwritten by the folder run")
	}
}

// Issue 9 finding 9: a write killed with kill -9 leaves .NAME.tmp* behind;
// the next run of the same output removes it (and nothing else).
func TestSegmentRemovesStaleTemps(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 96, 64)
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	stale := filepath.Join(out, ".p.labels.png.tmp123456789")
	other := filepath.Join(out, ".q.labels.png.tmp42")
	os.WriteFile(stale, []byte("half a png"), 0o644)
	os.WriteFile(other, []byte("someone else's"), 0o644)
	code, _, errs := run(t, segmentArgs(model, "--out", out, img)...)
	if code != 0 || !strings.Contains(errs, "removed 1 temporary") {
		t.Fatalf("code %d: %s", code, errs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temporary kept")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("another output's temporary removed")
	}
}

// Issue 11 item 4: over 256 classes the label map is a 16-bit grey PNG,
// whose values agree with the JSON's fractions; building the classifier
// shows progress.
func TestSegmentManyClasses(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 96, 64)
	var cls []string
	for i := 0; i < 300; i++ {
		cls = append(cls, "thing"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	out := filepath.Join(dir, "out")
	defer func(d time.Duration) { classifierProgressAfter = d }(classifierProgressAfter)
	classifierProgressAfter = 0
	args := append([]string{"segment", "--model", model, "--classes", strings.Join(cls, "; ")}, fast...)
	code, _, errs := run(t, append(args, "--out", out, img)...)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	if !strings.Contains(errs, "text classifier: ") {
		t.Fatalf("no classifier progress: %q", errs)
	}
	rep := readReport(t, filepath.Join(out, "p.json"))
	if rep.LabelsFormat != "gray16" || len(rep.Classes) != 300 {
		t.Fatalf("labels_format %q, %d classes", rep.LabelsFormat, len(rep.Classes))
	}
	f, _ := os.Open(filepath.Join(out, "p.labels.png"))
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	g, ok := m.(*image.Gray16)
	if !ok {
		t.Fatalf("labels decoded as %T", m)
	}
	count := make([]int, 300)
	for i := 0; i < len(g.Pix); i += 2 {
		v := int(g.Pix[i])<<8 | int(g.Pix[i+1])
		if v >= 300 {
			t.Fatalf("label %d of 300 classes", v)
		}
		count[v]++
	}
	for c, n := range count {
		if f := float64(n) / float64(96*64); f-rep.Classes[c].Fraction > 1e-6 || rep.Classes[c].Fraction-f > 1e-6 {
			t.Fatalf("class %d: %d pixels, JSON fraction %g", c, n, rep.Classes[c].Fraction)
		}
	}
	// More classes than any label map holds: refused before any work.
	many := make([]string, maxLabelClasses+1)
	for i := range many {
		many[i] = "c" + strings.Repeat("a", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + string(rune('a'+i/17576))
	}
	code, _, errs = run(t, "segment", "--model", filepath.Join(dir, "none"), "--classes", strings.Join(many, "; "), "--background", "none", "--out", out, img)
	if code != 2 || !strings.Contains(errs, "at most 65536") {
		t.Fatalf("65537 classes: code %d, %.200s", code, errs)
	}
}

// Issue 11 item 5: a panorama whose short side the long-side cap shrinks
// is reported with the --max-long that avoids it; one that would lose a
// whole side is refused.
func TestPlanSegmentAspect(t *testing.T) {
	dir := t.TempDir()
	pano := filepath.Join(dir, "pano.png")
	os.WriteFile(pano, bomb.PNG1Bit(2000, 60), 0o644)
	o := freeseg.DefaultOptions()
	in := batch.Input{Path: pano}
	warn, err := batch.PlanSegment(&in, 30, 4, o, 0, false, false, 1<<40, "test")
	// 2000x60 to short side 336 would be 11200x336; the 2048 cap gives 2048x61.
	if err != nil || !strings.Contains(warn, "2048x61") || !strings.Contains(warn, "224 crop") || !strings.Contains(warn, "--max-long 11200") {
		t.Fatalf("warning %q, %v", warn, err)
	}
	o.Resize.MaxLong = 11200
	if warn, err := batch.PlanSegment(&in, 30, 4, o, 0, false, false, 1<<40, "test"); err != nil || warn != "" {
		t.Fatalf("with --max-long 11200: %q %v", warn, err)
	}
	// 19999x1 keeps no usable side at any --short-side under the 2048 cap:
	// refused with the file named and the --max-long it needs, before any
	// inference (whether the resize rounds the short side to 0 or 1).
	model := golden.Path(t, "tiny-clip")
	thin := filepath.Join(dir, "thin.png")
	os.WriteFile(thin, bomb.PNG1Bit(19999, 1), 0o644)
	out := filepath.Join(dir, "out")
	code, _, errs := run(t, segmentArgs(model, "--out", out, thin)...)
	if code != 1 || !strings.Contains(errs, "thin.png") || !strings.Contains(errs, "--max-long") {
		t.Fatalf("19999x1: code %d, %q", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("output folder made for a refused image")
	}
}

// Issue 9 finding 9 and issue 11 item 10: numbers are checked before
// anything is written, the --partial-labels error lists off, and a failed
// run leaves no empty output folder.
func TestSegmentValidatesFirst(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 96, 64)
	out := filepath.Join(dir, "out", "deeper")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--logit-scale", "Inf"}, `logit_scale: "Inf" is not a finite number`},
		{[]string{"--prob-thd", "NaN"}, `prob_thd: "NaN" is not a finite number`},
		{[]string{"--partial-labels", "median"}, "off, smoothmin, max, mean, lse, cls"},
		{[]string{"--max-side", "-1"}, "max_side: -1 is outside"},
		{[]string{"--max-long", "-5"}, "max_long: -5 is outside"},
	} {
		code, _, errs := run(t, append(segmentArgs(model, "--out", out, img), c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Fatalf("%v: code %d, %q", c.args, code, errs)
		}
	}
	// A truncated PNG passes the header check and fails to decode: the
	// run fails and the folders it would have made are not left behind.
	full, _ := os.ReadFile(img)
	cut := filepath.Join(dir, "cut.png")
	os.WriteFile(cut, full[:len(full)/2], 0o644)
	code, _, errs := run(t, segmentArgs(model, "--out", out, cut)...)
	if code != 1 || !strings.Contains(errs, "cut.png") {
		t.Fatalf("truncated: code %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Fatalf("empty output folder left: %v", err)
	}
}

// Issue 11 item 10: eval leaves no empty report folder when it fails
// before writing (here: a model that does not exist).
func TestEvalNoEmptyReportFolder(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "images"), 0o755)
	os.MkdirAll(filepath.Join(root, "labels"), 0o755)
	writeTestImage(t, filepath.Join(root, "images", "a.png"), 40, 32)
	writeTestImage(t, filepath.Join(root, "labels", "a.png"), 40, 32)
	os.WriteFile(filepath.Join(root, "classes.txt"), []byte("cat\ndog\n"), 0o644)
	rep := filepath.Join(t.TempDir(), "r", "deep")
	code, _, errs := run(t, "eval", "--model", filepath.Join(root, "no-model"), "--dataset", "folder", "--root", root, "--report", rep)
	if code == 0 || !strings.Contains(errs, "no-model") {
		t.Fatalf("eval with a missing model: code %d, %s", code, errs)
	}
	if _, err := os.Stat(filepath.Dir(rep)); !os.IsNotExist(err) {
		t.Fatalf("report folder left behind (%v); stderr %q", err, errs)
	}
}

// eval removes the temporaries a killed save left in its report folder.
func TestEvalRemovesStaleTemps(t *testing.T) {
	root := t.TempDir()
	writeTestImage(t, filepath.Join(root, "images", "a.png"), 40, 32)
	writeTestImage(t, filepath.Join(root, "labels", "a.png"), 40, 32)
	os.WriteFile(filepath.Join(root, "classes.txt"), []byte("cat\ndog\n"), 0o644)
	rep := t.TempDir()
	stale := filepath.Join(rep, ".state.json.tmp3141592")
	os.WriteFile(stale, []byte(`{"half":`), 0o644)
	code, _, errs := run(t, "eval", "--model", filepath.Join(root, "no-model"), "--dataset", "folder", "--root", root, "--report", rep)
	if code == 0 || !strings.Contains(errs, "removed 1 temporary") {
		t.Fatalf("code %d, %q", code, errs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temporary kept")
	}
}

// An input smaller than a patch fails with the file named, the other
// images of the batch are still segmented.
func TestSegmentPatchCheck(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	writeTestImage(t, filepath.Join(dir, "in", "ok.png"), 96, 64)
	writeTestImage(t, filepath.Join(dir, "in", "strip.png"), 400, 10)
	out := filepath.Join(dir, "out")
	// Short side 32 with the long side capped at 512: the 400x10 strip
	// becomes 512x13 (factor min(512/400, 32/10) = 1.28), below the tiny
	// model's 16-pixel patch; 96x64 becomes 48x32.
	args := append([]string{"segment", "--model", model, "--classes", "cat; dog"}, fast...)
	code, _, errs := run(t, append(args, "--short-side", "32", "--max-long", "512", "--out", out, filepath.Join(dir, "in"))...)
	if code != 1 || !strings.Contains(errs, "strip.png: the 512x13 network input is smaller than one 16x16 patch") || !strings.Contains(errs, "1 of 2 images failed") {
		t.Fatalf("code %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(out, "ok.labels.png")); err != nil {
		t.Fatal("the good image was not segmented:", err)
	}
}
