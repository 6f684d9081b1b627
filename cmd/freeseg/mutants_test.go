package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/hub/hubtest"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// The eval progress bar, line by line, when not on a terminal: the first
// step prints, steps within two seconds of the last line are skipped but
// the last one always prints; seconds per image average the evaluated
// images only; the ETA is that average times the images left.
func TestEvalBar(t *testing.T) {
	var buf bytes.Buffer
	b := newEvalBar(&buf, 4, false)
	b.step("a.png", true, 2)
	b.step("b.png", false, 0)
	b.step("c.png", true, 1)
	b.step("d.png", true, 3)
	b.finish()
	want := "[#######.......................] 1/4  25.0% 2.00 s/img ETA 6s  a.png\n" +
		"[##############################] 4/4 100.0% 2.00 s/img ETA 0s  d.png\n"
	if buf.String() != want {
		t.Errorf("got\n%q\nwant\n%q", buf.String(), want)
	}

	// On a terminal every step rewrites the line, and finish ends it.
	buf.Reset()
	b = newEvalBar(&buf, 3, false)
	b.term = true
	b.finish()
	if buf.Len() != 0 {
		t.Errorf("finish before any step wrote %q", buf.String())
	}
	b.step("a.png", false, 0)
	b.step("b.png", true, 4)
	b.finish()
	want = "\r\033[K[##########....................] 1/3  33.3% 0.00 s/img ETA 0s  a.png" +
		"\r\033[K[####################..........] 2/3  66.7% 4.00 s/img ETA 4s  b.png\n"
	if buf.String() != want {
		t.Errorf("terminal: got\n%q\nwant\n%q", buf.String(), want)
	}

	buf.Reset()
	b = newEvalBar(&buf, 2, true)
	b.step("a.png", true, 1)
	b.step("b.png", true, 1)
	b.finish()
	if buf.Len() != 0 {
		t.Errorf("quiet bar wrote %q", buf.String())
	}
}

// embed with images and no text, and classify with images from --image and
// positional arguments together.
func TestEmbedImagesOnlyClassifyBothImageForms(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	a, b := golden.Path(t, "cases", "coffee.png"), golden.Path(t, "cases", "astronaut.png")
	code, out, errs := run(t, "embed", "--model", model, a)
	var em struct {
		Images []string    `json:"images"`
		Cosine [][]float64 `json:"cosine"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &em) != nil || len(em.Images) != 1 || em.Images[0] != a || len(em.Cosine) != 1 {
		t.Errorf("embed of one image: code %d, %q, %q", code, out, errs)
	}
	code, out, errs = run(t, "classify", "--model", model, "--no-cache", "--templates", "single", "--quiet", "--classes", "cup; table", "--image", a, b)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], a) || !strings.Contains(lines[1], b) {
		t.Errorf("classify --image a b: code %d, %q, %q", code, out, errs)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// A result that cannot be written is an error, not a silent success.
func TestClassifyStdoutError(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	a := golden.Path(t, "cases", "coffee.png")
	var errb bytes.Buffer
	code := runMain([]string{"classify", "--model", model, "--no-cache", "--templates", "single", "--quiet", "--classes", "cup; table", a},
		&env{stdout: failWriter{}, stderr: &errb, stdin: strings.NewReader("")})
	if code != 1 || !strings.Contains(errb.String(), "disk full") {
		t.Errorf("code %d, %q", code, errb.String())
	}
}

// explain's checks and notes: --size (the older name of --square) gets a
// deprecation note and --square none; multi feature surgery needs two
// texts; an interrupted run's temporary heat map is removed with a note; a
// model that cannot be opened is an error (not a crash); an input over the
// service's budget runs with a warning.
func TestExplainChecksAndNotes(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 40, 30)
	out := filepath.Join(dir, "o")
	args := func(extra ...string) []string {
		return append([]string{"explain", "--model", model, "--no-cache", "--templates", "single", "--out", out}, extra...)
	}
	code, _, errs := run(t, args("--size", "32", "--text", "cat", img)...)
	if code != 0 || !strings.Contains(errs, "note: --size is deprecated") {
		t.Errorf("--size: code %d, %q", code, errs)
	}
	os.RemoveAll(out)
	code, _, errs = run(t, args("--square", "32", "--text", "cat", img)...)
	if code != 0 || strings.Contains(errs, "deprecated") || strings.Contains(errs, "warning") || strings.Contains(errs, "removed") {
		t.Errorf("--square: code %d, %q", code, errs)
	}
	os.RemoveAll(out)
	code, _, errs = run(t, args("--square", "32", "--feature-surgery", "multi", "--text", "cat", img)...)
	if code != 2 || !strings.Contains(errs, "multi needs two or more texts") {
		t.Errorf("multi with one text: code %d, %q", code, errs)
	}
	os.MkdirAll(out, 0o755)
	stale := filepath.Join(out, ".p.heat.cat.png.tmp123456789")
	os.WriteFile(stale, []byte("half a png"), 0o644)
	code, _, errs = run(t, args("--square", "32", "--feature-surgery", "multi", "--text", "cat", "--text", "dog", img)...)
	if _, err := os.Stat(stale); code != 0 || !strings.Contains(errs, "removed 1 temporary") || !os.IsNotExist(err) {
		t.Errorf("multi with two texts and a stale temporary: code %d, %q, %v", code, errs, err)
	}
	os.RemoveAll(out)
	code, _, errs = run(t, "explain", "--model", filepath.Join(dir, "missing.safetensors"), "--no-cache", "--out", out, "--text", "cat", img)
	if code != 1 || !strings.Contains(errs, "missing.safetensors") {
		t.Errorf("missing model: code %d, %q", code, errs)
	}
	os.RemoveAll(out)
	code, _, errs = run(t, args("--square", "1040", "--text", "cat", img)...)
	if code != 0 || !strings.Contains(errs, "warning: "+img+": large explain") {
		t.Errorf("large input: code %d, %q", code, errs)
	}
}

// explain's memory check before any work: astronaut.png is 512×512; one
// text costs 3 + 8·2 + 10 = 29 bytes a pixel of maps, 7.6 MB, over a 6 MiB
// limit (a smaller count per pixel would pass).
func TestExplainMemoryPerPixel(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "astronaut.png")
	out := filepath.Join(t.TempDir(), "o")
	code, _, errs := run(t, "explain", "--model", model, "--no-cache", "--templates", "single", "--square", "32", "--max-memory-mb", "6", "--out", out, "--text", "cat", img)
	if code == 0 || !strings.Contains(errs, "at the maps stage") {
		t.Errorf("code %d, %q", code, errs)
	}
	code, _, errs = run(t, "explain", "--model", model, "--no-cache", "--templates", "single", "--square", "32", "--max-memory-mb", "8", "--out", out, "--text", "cat", img)
	if code != 0 {
		t.Errorf("8 MiB: code %d, %q", code, errs)
	}
}

// eval's --save-every defaults to five seconds; eval without arguments is a
// usage error, not a crash.
func TestEvalDefaultsAndNoArguments(t *testing.T) {
	code, out, errs := run(t, "eval", "--help")
	i := strings.Index(out, "-save-every")
	if code != 0 || i < 0 || !strings.Contains(out[i:min(len(out), i+200)], "(default 5s)") {
		t.Errorf("eval --help: code %d, %q", code, out+errs)
	}
	if code, _, errs := run(t, "eval"); code != 2 || errs == "" {
		t.Errorf("eval: code %d, %q", code, errs)
	}
}

// After a lone "--" everything is positional, even what looks like a flag.
func TestDoubleDashEndsFlags(t *testing.T) {
	code, out, errs := run(t, "tokenize", "--", "cat", "-dog")
	if code != 0 || !strings.Contains(out, `"cat"`) || !strings.Contains(out, `"-dog"`) {
		t.Errorf("code %d, %q, %q", code, out, errs)
	}
}

// The per-image progress lines: one image gets its name and summary only;
// several get the count, the time so far and the ETA (time per image so
// far times the images left: 10 s for 2 images, 3 left, is 15 s).
func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	newProgress(&buf, 1, false).done(0, "a.png", "3 classes")
	p := newProgress(&buf, 5, false)
	p.start = time.Now().Add(-10 * time.Second)
	p.done(1, "b.png", "2 classes")
	newProgress(&buf, 5, true).done(0, "c.png", "quiet")
	want := "a.png: 3 classes\n[2/5 10s, ETA 15s] b.png: 2 classes\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// bf16's note goes to the model log only when bf16 is asked for and runs
// emulated, without an empty line otherwise. The emulated case runs in a
// child test process with FREESEG_BF16=emulated (the kernel is chosen at
// start-up).
func TestApplyPrecisionNote(t *testing.T) {
	m, err := clip.Random(clip.Config{VisionWidth: 16, VisionLayers: 1, VisionHeads: 2, Patch: 16, Grid: 2, EmbedDim: 8,
		TextWidth: 16, TextLayers: 1, TextHeads: 2, ContextLength: 77, VocabSize: 49408}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var notes strings.Builder
	oldLog, oldPrec := modelLog, modelPrecision
	t.Cleanup(func() { modelLog, modelPrecision = oldLog, oldPrec })
	modelLog = &notes
	for _, p := range []clip.Precision{clip.FP32, clip.BF16} {
		notes.Reset()
		modelPrecision = p
		if _, err := applyPrecision(m); err != nil {
			t.Fatal(err)
		}
		want := ""
		if p == clip.BF16 && clip.BF16Note() != "" {
			want = clip.BF16Note() + "\n"
		}
		if notes.String() != want {
			t.Errorf("%v on kernel %s: notes %q, want %q", p, gemm.BF16Kernel(), notes.String(), want)
		}
	}
	if os.Getenv("FREESEG_BF16") == "emulated" {
		if gemm.BF16Kernel() != "emulated" || clip.BF16Note() == "" {
			t.Fatalf("FREESEG_BF16=emulated: kernel %s, note %q", gemm.BF16Kernel(), clip.BF16Note())
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestApplyPrecisionNote$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FREESEG_BF16=emulated")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("with FREESEG_BF16=emulated: %v\n%s", err, out)
	}
}

// The text classifier's progress: nothing before classifierProgressAfter
// or when quiet; then names done, time (to 0.1 s) and ETA (time per name
// so far times the names left: 3 s for 2 names, 6 left, is 9 s); at the
// end the count and the template set.
func TestClassifierProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := classifierProgress(&buf, 8, "openai80", false)
	p(1, classifierProgressAfter/2)
	p(2, 3*time.Second+40*time.Millisecond)
	p(8, 12*time.Second+260*time.Millisecond)
	classifierProgress(&buf, 8, "openai80", true)(2, 3*time.Second)
	want := "text classifier: 2/8 names, 3s, ETA 9s\n" +
		"text classifier: 8 names (openai80 templates) in 12.3s\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// An output that cannot be written (its folder is a file) fails the image
// and the command.
func TestExplainWriteError(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "in", "sub"), 0o755)
	writeTestImage(t, filepath.Join(dir, "in", "sub", "p.png"), 40, 30)
	os.MkdirAll(filepath.Join(dir, "out"), 0o755)
	os.WriteFile(filepath.Join(dir, "out", "sub"), []byte("a file"), 0o644)
	code, _, errs := run(t, "explain", "--model", model, "--no-cache", "--templates", "single", "--square", "32", "--recursive",
		"--text", "cat", "--out", filepath.Join(dir, "out"), filepath.Join(dir, "in"))
	if code != 1 || !strings.Contains(errs, "is a file") || strings.Contains(errs, "heat maps in") {
		t.Errorf("code %d, %q", code, errs)
	}
}

// Exactly 65,536 classes fit a 16-bit label map: the class count passes
// and the run goes on (to the memory check of the maps of 65,536 classes).
func TestSegmentMaxLabelClassesInclusive(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 40, 30)
	many := make([]string, maxLabelClasses)
	for i := range many {
		many[i] = "c" + strings.Repeat("a", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + string(rune('a'+i/17576))
	}
	code, _, errs := run(t, "segment", "--model", filepath.Join(dir, "none"), "--classes", strings.Join(many, "; "), "--background", "none", "--out", filepath.Join(dir, "o"), img)
	if code != 1 || strings.Contains(errs, "at most 65536") {
		t.Errorf("65536 classes: code %d, %.300s", code, errs)
	}
}

// A folder without freeseg's own outputs and an output folder without
// temporaries get no "skipped" or "removed" note; the end names the outputs.
func TestSegmentFolderNoSkipNote(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "in"), 0o755)
	writeTestImage(t, filepath.Join(dir, "in", "p.png"), 40, 30)
	code, _, errs := run(t, segmentArgs(model, "--out", filepath.Join(dir, "o"), filepath.Join(dir, "in"))...)
	if code != 0 || strings.Contains(errs, "skipped") || strings.Contains(errs, "removed") || !strings.Contains(errs, "outputs in "+filepath.Join(dir, "o")) {
		t.Errorf("code %d, %q", code, errs)
	}
}

// pull --list to a stdout that fails is an error.
func TestPullListWriteError(t *testing.T) {
	t.Setenv("FREESEG_CACHE", t.TempDir())
	var errb bytes.Buffer
	code := runMain([]string{"pull", "--list"}, &env{stdout: failWriter{}, stderr: &errb, stdin: strings.NewReader("")})
	if code != 1 || !strings.Contains(errb.String(), "disk full") {
		t.Errorf("code %d, %q", code, errb.String())
	}
}

// --save-tensors counts in the memory check: for a 512×512 photo, two
// classes and no PAMR the outputs stage is 37 bytes a pixel (the RGB copy
// 3, logits and probabilities 8 each, labels 4, overlay, RGBA and label
// image 14), 9.25 MiB; the tensors add 8 (11.25 MiB). A 10 MiB limit runs
// the first and refuses the second before any work.
func TestSegmentSaveTensorsMemory(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "astronaut.png")
	dir := t.TempDir()
	args := []string{"segment", "--model", model, "--classes", "cat; dog", "--background", "none", "--no-cache", "--templates", "single",
		"--pamr", "0", "--max-memory-mb", "10", "--out", filepath.Join(dir, "o")}
	if code, _, errs := run(t, append(args, img)...); code != 0 {
		t.Errorf("without tensors: code %d, %q", code, errs)
	}
	os.RemoveAll(filepath.Join(dir, "o"))
	code, _, errs := run(t, append(args, "--save-tensors", filepath.Join(dir, "t.safetensors"), img)...)
	if code == 0 || !strings.Contains(errs, "11 MiB at the outputs stage") {
		t.Errorf("with tensors: code %d, %q", code, errs)
	}
}

// A whole-image input over the service's token limit (1040² is 4,226
// tokens of /16 patches) runs from the command line with a warning.
func TestSegmentLargeInputWarning(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 40, 30)
	code, _, errs := run(t, "segment", "--model", model, "--classes", "cat; dog", "--background", "none", "--no-cache", "--templates", "single",
		"--pamr", "0", "--whole", "--square", "1040", "--out", filepath.Join(dir, "o"), img)
	if code != 0 || !strings.Contains(errs, "warning: "+img+": large segment") {
		t.Errorf("code %d, %q", code, errs)
	}
}

// --instance-min-area 0 is allowed (keep every instance); a run whose only
// image fails names no outputs folder.
func TestSegmentMinAreaZeroAndNoOutputs(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	dir := t.TempDir()
	img := filepath.Join(dir, "p.png")
	writeTestImage(t, img, 40, 30)
	code, _, errs := run(t, segmentArgs(model, "--instances", "--instance-min-area", "0", "--out", filepath.Join(dir, "o"), img)...)
	if code != 0 {
		t.Errorf("--instance-min-area 0: code %d, %q", code, errs)
	}
	// A PNG cut in half: its header plans, its pixels fail to decode.
	bad := filepath.Join(dir, "bad.png")
	writeTestImage(t, bad, 40, 30)
	b, _ := os.ReadFile(bad)
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	code, _, errs = run(t, segmentArgs(model, "--out", filepath.Join(dir, "o2"), bad)...)
	if code != 1 || !strings.Contains(errs, "bad.png") || strings.Contains(errs, "outputs in") {
		t.Errorf("failed image: code %d, %q", code, errs)
	}
}

// /v1/models names a hub model by its id: the default model without
// --model, the id given with it (not the cache folder it was downloaded to).
func TestServeModelNameFromHub(t *testing.T) {
	tiny := golden.Path(t, "tiny-clip")
	s := hubtest.New(t, hubtest.DirRepo(t, hub.DefaultModel, tiny), hubtest.DirRepo(t, "org/tiny", tiny))
	hubEnv(t, s)
	for _, c := range []struct {
		args []string
		want string
	}{{nil, hub.DefaultModel}, {[]string{"--model", "org/tiny"}, "org/tiny"}} {
		addr, _, stop := startServe(t, append([]string{"--addr", "127.0.0.1:0", "--no-cache", "--quiet"}, c.args...)...)
		resp, err := http.Get("http://" + addr + "/v1/models")
		var models struct{ Models []struct{ Name string } }
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&models)
			resp.Body.Close()
		}
		stop()
		if err != nil || len(models.Models) != 1 || models.Models[0].Name != c.want {
			t.Errorf("%q: models %+v (%v), want the name %q", c.args, models, err, c.want)
		}
	}
}
