package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/weights"
)

// run executes the CLI in-process and returns exit code, stdout, stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(args, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")})
	return code, out.String(), errb.String()
}

func TestHelpAndUnknown(t *testing.T) {
	if code, out, _ := run(t, "help"); code != 0 || !strings.Contains(out, "segment") {
		t.Fatalf("help: code %d, out %q", code, out)
	}
	for _, c := range []string{"segment", "explain", "features", "embed", "classify", "tokenize"} {
		code, out, _ := run(t, c, "--help")
		if code != 0 || !strings.Contains(out, "usage: freeseg "+c) {
			t.Fatalf("%s --help: code %d, out %q", c, code, out)
		}
	}
	if code, _, errs := run(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown command: code %d, %q", code, errs)
	}
}

func TestTokenize(t *testing.T) {
	code, out, errs := run(t, "tokenize", "a photo of a cat.", "café")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		`{"text":"a photo of a cat.","ids":[49406,320,1125,539,320,2368,269,49407]}`,
		`{"text":"café","ids":[49406,15304,49407]}`,
	}
	if len(lines) != 2 || lines[0] != want[0] || lines[1] != want[1] {
		t.Fatalf("got %q", lines)
	}
	long := strings.Repeat("cat ", 80)
	if code, _, errs := run(t, "tokenize", long); code == 0 || !strings.Contains(errs, "too long") {
		t.Fatalf("80-word text: code %d, %q", code, errs)
	}
	code, out, _ = run(t, "tokenize", "--truncate", long)
	var r struct{ IDs []int }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || len(r.IDs) != 77 || r.IDs[76] != 49407 {
		t.Fatalf("--truncate: code %d, %q", code, out)
	}
}

func TestSegmentEndToEnd(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "chelsea.png")
	out := t.TempDir()
	code, _, errs := run(t, "segment", "--model", model, "--classes", "cat; person, man; coffee cup", "--out", out,
		"--no-cache", "--save-tensors", filepath.Join(out, "t.safetensors"), img)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	if !strings.Contains(errs, "chelsea: 451x300") {
		t.Fatalf("no summary line: %q", errs)
	}
	// The label map is a palette PNG of the image's size with 4 classes.
	f, err := os.Open(filepath.Join(out, "chelsea.labels.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rgb, meta, err := imageio.Decode(f, "labels")
	if err != nil || meta.Width != 451 || meta.Height != 300 || rgb == nil {
		t.Fatalf("labels.png: %v %+v", err, meta)
	}
	var rep export.SegmentReport
	b, err := os.ReadFile(filepath.Join(out, "chelsea.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("json: %v", err)
	}
	if len(rep.Classes) != 4 || rep.Classes[0].Name != "background" || rep.Classes[2].Synonyms[1] != "man" {
		t.Fatalf("classes %+v", rep.Classes)
	}
	var sum float64
	for _, c := range rep.Classes {
		sum += c.Fraction
	}
	if sum < 0.999 || sum > 1.001 {
		t.Fatalf("fractions sum to %g", sum)
	}
	tf, err := weights.ReadSafetensors(filepath.Join(out, "t.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if s := tf.Tensors["logits"].Shape; len(s) != 3 || s[0] != 30 || s[1] != 300 || s[2] != 451 {
		t.Fatalf("logits shape %v want 26 background names + 4 = 30 queries", s)
	}
	if s := tf.Tensors["labels"].Shape; tf.Tensors["labels"].DType != "I64" || s[0] != 300 {
		t.Fatalf("labels %s %v", tf.Tensors["labels"].DType, s)
	}
}

func TestSegmentBadInput(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "chelsea.png")
	dir := t.TempDir()
	fileAsDir := filepath.Join(dir, "afile")
	os.WriteFile(fileAsDir, []byte("x"), 0o644)
	emptyLines := filepath.Join(dir, "classes.txt")
	os.WriteFile(emptyLines, []byte("cat\n\ndog\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no classes", []string{"--out", dir, img}, "no classes"},
		{"duplicate classes", []string{"--classes", "cat, dog, cat", "--out", dir, img}, "cat"},
		{"class file with empty line", []string{"--classes-file", emptyLines, "--out", dir, img}, "line 2"},
		{"stride 0", []string{"--classes", "cat", "--stride", "0", "--out", dir, img}, "stride"},
		{"unknown method", []string{"--classes", "cat", "--method", "magic", "--out", dir, img}, "method: \"magic\" is not one of"},
		{"out is a file", []string{"--classes", "cat", "--out", fileAsDir, img}, "is a file"},
		{"crop larger than image", []string{"--classes", "cat", "--short-side", "100", "--crop", "448", "--out", dir, img}, "larger than"},
		{"missing image", []string{"--classes", "cat", "--out", dir, filepath.Join(dir, "nope.png")}, "nope.png"},
		{"not an image", []string{"--classes", "cat", "--out", dir, emptyLines}, "classes.txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errs := run(t, append([]string{"segment", "--model", model, "--no-cache"}, c.args...)...)
			if code == 0 || !strings.Contains(errs, c.want) {
				t.Fatalf("code %d, stderr %q, want it to mention %q", code, errs, c.want)
			}
		})
	}
	// An output path equal to an input is refused, the input kept.
	before, _ := os.ReadFile(img)
	code, _, errs := run(t, "features", "--model", model, "--image", img, "--method", "vanilla", "--square", "224", "--out", img)
	after, _ := os.ReadFile(img)
	if code == 0 || !strings.Contains(errs, "refusing") || !bytes.Equal(before, after) {
		t.Fatalf("writing over the input: code %d, %q", code, errs)
	}
}

func TestExplainFeaturesEmbedClassify(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "astronaut.png")
	out := t.TempDir()
	if code, _, errs := run(t, "explain", "--model", model, "--no-cache", "--image", img, "--text", "person, rocket", "--out", out); code != 0 {
		t.Fatalf("explain: %s", errs)
	}
	for _, n := range []string{"astronaut.heat.person.png", "astronaut.heat.rocket.png", "astronaut.explain.json"} {
		if _, err := os.Stat(filepath.Join(out, n)); err != nil {
			t.Fatalf("explain output %s: %v", n, err)
		}
	}
	ff := filepath.Join(out, "f.safetensors")
	if code, _, errs := run(t, "features", "--model", model, "--image", img, "--method", "naclip", "--short-side", "224", "--out", ff); code != 0 {
		t.Fatalf("features: %s", errs)
	}
	tf, err := weights.ReadSafetensors(ff)
	if err != nil {
		t.Fatal(err)
	}
	if s := tf.Tensors["tokens"].Shape; s[0] != 1 || s[1] != 1+14*14 || s[2] != 64 {
		t.Fatalf("tokens shape %v", s)
	}
	ef := filepath.Join(out, "e.safetensors")
	if code, _, errs := run(t, "embed", "--model", model, "--image", img, "--text", "a", "--text", "b", "--out", ef); code != 0 {
		t.Fatalf("embed: %s", errs)
	}
	tf, err = weights.ReadSafetensors(ef)
	if err != nil || tf.Tensors["image_embeds"].Shape[0] != 1 || tf.Tensors["text_embeds"].Shape[0] != 2 {
		t.Fatalf("embed output: %v", err)
	}
	code, stdout, errs := run(t, "classify", "--model", model, "--no-cache", "--classes", "cat, dog, rocket", img)
	if code != 0 || !strings.Contains(stdout, `"class"`) {
		t.Fatalf("classify: %d %s %s", code, stdout, errs)
	}
	if code, _, _ := run(t, "classify", "--model", model, img); code != 2 {
		t.Fatalf("classify without classes: code %d", code)
	}
}
