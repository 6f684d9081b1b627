package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
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
