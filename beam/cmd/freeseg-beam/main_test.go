package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/freeseg/freeseg/beam/pipeline"
	"github.com/freeseg/freeseg/eval/evaltest"
	"github.com/freeseg/freeseg/internal/golden"
)

// cliBinary builds the single-machine freeseg command once per test run:
// its outputs are the reference of the pipelines'.
var cli struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

func cliPath(t testing.TB) string {
	t.Helper()
	cli.once.Do(func() {
		dir, err := os.MkdirTemp("", "freeseg-cli")
		if err != nil {
			cli.err = err
			return
		}
		cli.path = filepath.Join(dir, "freeseg")
		cmd := exec.Command("go", "build", "-o", cli.path, "./cmd/freeseg")
		cmd.Dir = filepath.Join("..", "..", "..") // the core module
		cli.out, cli.err = cmd.CombinedOutput()
	})
	if cli.err != nil {
		t.Fatalf("building freeseg: %v\n%s", cli.err, cli.out)
	}
	return cli.path
}

func runCLI(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(cliPath(t), args...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("freeseg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runBeam runs freeseg-beam in this process (Prism in-process).
func runBeam(t testing.TB, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func beamOK(t testing.TB, args ...string) string {
	t.Helper()
	code, out := runBeam(t, args...)
	if code != 0 {
		t.Fatalf("freeseg-beam %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// fastArgs keep the tiny model's runs short (the same flags go to both
// commands).
func fastArgs(t testing.TB) []string {
	return []string{"--model", golden.Path(t, "tiny-clip"), "--no-cache", "--templates", "single", "--short-side", "48", "--crop", "32", "--stride", "16"}
}

// testImages writes n small photos (two with the same base name in
// different folders, to check the -2 naming) and returns their paths.
func testImages(t testing.TB, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, "in", "img"+string(rune('a'+i))+".png")
		if i == n-1 && n > 2 {
			p = filepath.Join(dir, "in2", "imga.png")
		}
		evaltest.WriteImage(t, p, 40+4*i, 32, i)
		paths = append(paths, p)
	}
	return paths
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameSegmentOutputs checks the label PNGs and overlays of got are the
// bytes of want's and the JSON files hold the same values, the output
// paths aside (they name the two folders).
func sameSegmentOutputs(t *testing.T, names []string, got, want string) {
	t.Helper()
	for _, n := range names {
		for _, ext := range []string{".labels.png", ".overlay.png"} {
			if !bytes.Equal(readFile(t, filepath.Join(got, n+ext)), readFile(t, filepath.Join(want, n+ext))) {
				t.Errorf("%s%s differs from freeseg segment's", n, ext)
			}
		}
		var g, w map[string]any
		if err := json.Unmarshal(readFile(t, filepath.Join(got, n+".json")), &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(want, n+".json")), &w); err != nil {
			t.Fatal(err)
		}
		for _, m := range []map[string]any{g, w} {
			outs, _ := m["outputs"].([]any)
			if len(outs) != 2 {
				t.Fatalf("%s.json: outputs %v", n, m["outputs"])
			}
			for i, o := range outs {
				outs[i] = filepath.Base(o.(string))
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s.json differs from freeseg segment's:\n%v\n%v", n, g, w)
		}
	}
}

func readSummary(t *testing.T, dir string) []pipeline.Row {
	t.Helper()
	var rows []pipeline.Row
	for _, l := range strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(dir, pipeline.SummaryName)))), "\n") {
		var r pipeline.Row
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("summary line %q: %v", l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// stable drops the fields that differ between two correct runs: the time
// and whether the outputs were already there.
func stable(rows []pipeline.Row) []pipeline.Row {
	out := append([]pipeline.Row(nil), rows...)
	for i := range out {
		out[i].Seconds, out[i].Reused = 0, false
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// outputNames are freeseg segment's names for testImages(n): the two
// imga.png take their file names.
func outputNames(n int) []string {
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, "img"+string(rune('a'+i)))
	}
	if n > 2 {
		names[0], names[n-1] = "imga.png", "imga.png-2"
	}
	return names
}

func TestSegmentMatchesCLI(t *testing.T) {
	fast := fastArgs(t)
	imgs := testImages(t, 4)
	want := filepath.Join(t.TempDir(), "cli")
	runCLI(t, append(append([]string{"segment", "--out", want, "--classes", "cat; dog, puppy; grass", "--quiet"}, fast...), imgs...)...)
	got := filepath.Join(t.TempDir(), "beam")
	args := []string{"segment", "--output", got, "--classes", "cat; dog, puppy; grass"}
	for _, p := range imgs {
		args = append(args, "--input", p)
	}
	out := beamOK(t, append(args, fast...)...)
	if !strings.Contains(out, "4 images: 4 segmented, 0 already done, 0 unreadable") {
		t.Errorf("summary line missing:\n%s", out)
	}
	names := outputNames(4)
	sameSegmentOutputs(t, names, got, want)
	rows := readSummary(t, got)
	if len(rows) != 4 {
		t.Fatalf("%d summary rows, want 4", len(rows))
	}
	for _, r := range rows {
		var js struct {
			Width, Height int
			Classes       []struct {
				Name            string
				Fraction, Score float64
			}
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(want, r.Name+".json")), &js); err != nil {
			t.Fatal(err)
		}
		if r.Width != js.Width || r.Height != js.Height || len(r.Fractions) != len(js.Classes) || r.Error != "" || r.Reused {
			t.Fatalf("row %+v vs %s.json %+v", r, r.Name, js)
		}
		for c, ci := range js.Classes {
			if r.Classes[c] != ci.Name || r.Fractions[c] != ci.Fraction || r.Scores[c] != ci.Score {
				t.Errorf("%s class %d: row %s %v %v, json %+v", r.Name, c, r.Classes[c], r.Fractions[c], r.Scores[c], ci)
			}
		}
	}

	// A rerun finds every image done: nothing is rewritten.
	before := map[string]os.FileInfo{}
	for _, n := range names {
		fi, _ := os.Stat(filepath.Join(got, n+".labels.png"))
		before[n] = fi
	}
	out = beamOK(t, append(args, fast...)...)
	if !strings.Contains(out, "4 images: 0 segmented, 4 already done") {
		t.Errorf("rerun did not skip the done images:\n%s", out)
	}
	for _, n := range names {
		fi, _ := os.Stat(filepath.Join(got, n+".labels.png"))
		if !fi.ModTime().Equal(before[n].ModTime()) {
			t.Errorf("%s.labels.png rewritten by the rerun", n)
		}
	}
	if !reflect.DeepEqual(stable(readSummary(t, got)), stable(rows)) {
		t.Errorf("rerun summary differs")
	}

	// Other settings into the same prefix: refused, nothing mixed.
	code, msg := runBeam(t, append(args, append(fast[:len(fast):len(fast)], "--pamr", "0")...)...)
	if code == 0 || !strings.Contains(msg, "other settings") {
		t.Errorf("rerun with other settings: exit %d\n%s", code, msg)
	}
}

// The default pipeline flags are freeseg segment's (one image, no
// pipeline flag given to either command).
func TestSegmentDefaultsMatchCLI(t *testing.T) {
	img := golden.Path(t, "cases", "chelsea.png")
	model := golden.Path(t, "tiny-clip")
	want := filepath.Join(t.TempDir(), "cli")
	runCLI(t, "segment", "--model", model, "--no-cache", "--out", want, "--classes", "cat; sofa", "--quiet", img)
	got := filepath.Join(t.TempDir(), "beam")
	beamOK(t, "segment", "--model", model, "--no-cache", "--output", got, "--classes", "cat; sofa", "--input", img)
	sameSegmentOutputs(t, []string{"chelsea"}, got, want)
}

func TestSegmentRerunAfterFailure(t *testing.T) {
	fast := fastArgs(t)
	imgs := testImages(t, 3)
	names := outputNames(3)
	args := append([]string{"segment", "--classes", "cat; dog", "--input", filepath.Join(filepath.Dir(imgs[0]), "*.png"), "--input", imgs[2]}, fast...)
	clean := filepath.Join(t.TempDir(), "clean")
	beamOK(t, append(args, "--output", clean)...)

	out := filepath.Join(t.TempDir(), "out")
	t.Setenv(pipeline.FailHook, names[1])
	code, msg := runBeam(t, append(args, "--output", out)...)
	if code == 0 || !strings.Contains(msg, "failure injected") {
		t.Fatalf("job with an injected failure: exit %d\n%s", code, msg)
	}
	// The failed image left a label PNG but no JSON: not done.
	if _, err := os.Stat(filepath.Join(out, names[1]+".labels.png")); err != nil {
		t.Errorf("the injected failure should come after the label PNG: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, names[1]+".json")); err == nil {
		t.Fatalf("%s.json written by a failed image", names[1])
	}
	if _, err := os.Stat(filepath.Join(out, pipeline.SummaryName)); err == nil {
		t.Errorf("summary written by a failed job")
	}
	os.Unsetenv(pipeline.FailHook)
	beamOK(t, append(args, "--output", out)...)
	for _, n := range names {
		for _, ext := range []string{".labels.png", ".overlay.png", ".json"} {
			if !bytes.Equal(readFile(t, filepath.Join(out, n+ext)), bytes.ReplaceAll(readFile(t, filepath.Join(clean, n+ext)), []byte(clean), []byte(out))) {
				t.Errorf("%s%s after the rerun differs from a clean run's", n, ext)
			}
		}
	}
	if got, want := stable(readSummary(t, out)), stable(readSummary(t, clean)); !reflect.DeepEqual(got, want) {
		t.Errorf("summary after the rerun:\n%+v\nclean run:\n%+v", got, want)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") || strings.HasPrefix(e.Name(), ".freeseg") {
			t.Errorf("left over: %s", e.Name())
		}
	}
}

func TestSegmentCorruptImage(t *testing.T) {
	fast := fastArgs(t)
	imgs := testImages(t, 2)
	bad := filepath.Join(filepath.Dir(imgs[0]), "broken.png")
	evaltest.WriteFile(t, bad, []byte("\x89PNG\r\n\x1a\nnot really"))
	args := append([]string{"segment", "--classes", "cat; dog", "--input", filepath.Join(filepath.Dir(imgs[0]), "*.png")}, fast...)
	out := filepath.Join(t.TempDir(), "out")
	msg := beamOK(t, append(args, "--output", out)...)
	if !strings.Contains(msg, "3 images: 2 segmented, 0 already done, 1 unreadable") || !strings.Contains(msg, "skipped "+bad) {
		t.Errorf("corrupt image not reported:\n%s", msg)
	}
	var listed bool
	for _, r := range readSummary(t, out) {
		if r.Image == bad {
			listed = r.Error != "" && strings.Contains(r.Error, "broken.png")
		}
	}
	if !listed {
		t.Errorf("summary does not list %s with its error", bad)
	}
	code, msg := runBeam(t, append(args, "--output", filepath.Join(t.TempDir(), "strict"), "--strict")...)
	if code == 0 || !strings.Contains(msg, bad) || !strings.Contains(msg, "--strict") {
		t.Errorf("--strict with a corrupt image: exit %d\n%s", code, msg)
	}
}

// Bad flags fail before any work: the model given does not exist, so an
// error about anything else shows the check came first.
func TestBadFlagsFailEarly(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "a.png")
	evaltest.WriteImage(t, img, 16, 16, 1)
	file := filepath.Join(dir, "file")
	evaltest.WriteFile(t, file, []byte("x"))
	base := []string{"segment", "--model", filepath.Join(dir, "no-model"), "--classes", "cat", "--input", img}
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--output", dir + "/o", "--runner", "storm"}, `unknown --runner "storm"`, 2},
		{[]string{"--output", dir + "/o", "--runner", "flink"}, "--runner flink needs --endpoint", 2},
		{[]string{"--output", dir + "/o", "--runner", "spark"}, "--runner spark needs --endpoint", 2},
		{[]string{"--output", dir + "/o", "--runner", "dataflow"}, "--runner dataflow needs --project", 2},
		{[]string{"--output", file + "/o"}, "--output " + file + "/o is not writable", 1},
		{[]string{"--output", file}, "is a file", 1},
		{[]string{"--output", dir + "/o", "--input", dir + "/none*.png"}, "matches no file", 1},
		{[]string{"--output", dir + "/o", "--crop", "0"}, "crop", 2},
		{[]string{"--output", dir + "/o", "--method", "nope"}, "nope", 2},
		{[]string{"--output", "s3x://b/o"}, "s3x", 1},
	} {
		code, msg := runBeam(t, append(append([]string{}, base...), c.args...)...)
		if code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o", pipeline.SummaryName)); err == nil {
		t.Errorf("a refused job wrote a summary")
	}
	code, msg := runBeam(t, "eval", "--dataset", "voc21", "--root", dir, "--report", dir+"/r", "--runner", "universal")
	if code != 2 || !strings.Contains(msg, "--runner universal needs --endpoint") {
		t.Errorf("eval with universal and no endpoint: exit %d\n%s", code, msg)
	}
}

func TestVersionMatchesCLI(t *testing.T) {
	out := runCLI(t, "version")
	if strings.TrimSpace(out) != "freeseg "+version {
		t.Errorf("freeseg version says %q; report.json would say %q", strings.TrimSpace(out), version)
	}
}
