package main

import (
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/internal/golden"
)

// readIndexPNG reads a palette or grey PNG's raw pixel values.
func readIndexPNG(t *testing.T, path string) ([]uint8, int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	switch m := img.(type) {
	case *image.Paletted:
		return m.Pix, m.Rect.Dx(), m.Rect.Dy()
	case *image.Gray:
		return m.Pix, m.Rect.Dx(), m.Rect.Dy()
	}
	t.Fatalf("%s: %T, want a palette or grey PNG", path, img)
	return nil, 0, 0
}

// The masks, the COCO file and the instances all agree with the label map,
// which is written by other code (imageio's palette PNG).
func TestSegmentExports(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "chelsea.png")
	out := t.TempDir()
	cocoPath := filepath.Join(out, "sub", "coco.json")
	code, _, errs := run(t, "segment", "--model", model, "--classes", "cat; person, man; coffee cup", "--out", out,
		"--no-cache", "--pamr", "0", "--masks", "--coco", cocoPath, img)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	labels, W, H := readIndexPNG(t, filepath.Join(out, "chelsea.labels.png"))
	var rep export.SegmentReport
	b, _ := os.ReadFile(filepath.Join(out, "chelsea.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	// Settings are flat snake_case keys of the settings table; naclip is
	// the default method.
	if rep.Settings.Value("short_side") != 336.0 || rep.Settings.Value("max_long") != 2048.0 || rep.Settings.Value("resize") != nil {
		t.Errorf("settings = %v", rep.Settings)
	}
	if rep.Settings.Value("method") != "naclip" {
		t.Errorf("default method %v, want naclip", rep.Settings.Value("method"))
	}
	present := 0
	for _, c := range rep.Classes {
		mp := filepath.Join(out, "chelsea.mask."+export.SafeName(c.Name)+".png")
		if c.Fraction == 0 {
			if _, err := os.Stat(mp); err == nil {
				t.Errorf("mask of absent class %s written", c.Name)
			}
			continue
		}
		present++
		if !strings.Contains(string(b), mp) {
			t.Errorf("%s not listed in the JSON outputs", mp)
		}
		m, mw, mh := readIndexPNG(t, mp)
		if mw != W || mh != H {
			t.Fatalf("%s is %dx%d, labels %dx%d", mp, mw, mh, W, H)
		}
		for i := range m {
			if want := labels[i] == uint8(c.Index); (m[i] == 255) != want || (m[i] != 0 && m[i] != 255) {
				t.Fatalf("%s pixel %d = %d, label %d", mp, i, m[i], labels[i])
			}
		}
	}
	if present < 2 {
		t.Fatalf("only %d classes present; the test needs two or more", present)
	}

	// COCO: one entry per foreground class present, its mask decoding to
	// exactly the class's pixels.
	var coco []map[string]any
	b, err := os.ReadFile(cocoPath)
	if err != nil || json.Unmarshal(b, &coco) != nil {
		t.Fatalf("coco file: %v %s", err, b)
	}
	fg := 0
	for _, c := range rep.Classes[1:] {
		if c.Fraction > 0 {
			fg++
		}
	}
	if len(coco) != fg {
		t.Fatalf("%d COCO entries, want %d (foreground classes present)", len(coco), fg)
	}
	for _, e := range coco {
		cat := int(e["category_id"].(float64))
		if e["image_id"] != 1.0 || e["category_name"] != rep.Classes[cat].Name || e["file_name"] != "chelsea.png" {
			t.Errorf("entry %v", e)
		}
		seg := e["segmentation"].(map[string]any)
		if !reflect.DeepEqual(seg["size"], []any{float64(H), float64(W)}) {
			t.Errorf("size %v", seg["size"])
		}
		counts, err := export.DecompressCounts(seg["counts"].(string), H, W)
		if err != nil {
			t.Fatal(err)
		}
		mask, _ := export.DecodeMask(counts, W, H)
		for i, in := range mask {
			if in != (labels[i] == uint8(cat)) {
				t.Fatalf("category %d: pixel %d in mask %v, label %d", cat, i, in, labels[i])
			}
		}
		if s := e["score"].(float64); s <= 0 || s > 1 {
			t.Errorf("score %g", s)
		}
	}

	// Instances with area 1 and 4-connectivity: they tile each foreground
	// class's pixels exactly, and each is one 4-connected piece.
	out2 := t.TempDir()
	code, _, errs = run(t, "segment", "--model", model, "--classes", "cat; person, man; coffee cup", "--out", out2,
		"--no-cache", "--pamr", "0", "--instances", "--instance-min-area", "1", "--connectivity", "4", img)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	b, _ = os.ReadFile(filepath.Join(out2, "chelsea.json"))
	rep = export.SegmentReport{}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Instances) == 0 {
		t.Fatalf("no instances in %s", b)
	}
	owner := make([]int, W*H)
	prevArea := W * H
	for _, in := range rep.Instances {
		if in.Area > prevArea {
			t.Errorf("instances not by decreasing area")
		}
		prevArea = in.Area
		counts, err := export.DecompressCounts(in.Mask.Counts, H, W)
		if err != nil {
			t.Fatal(err)
		}
		mask, _ := export.DecodeMask(counts, W, H)
		n := 0
		for i, m := range mask {
			if !m {
				continue
			}
			n++
			if owner[i] != 0 || labels[i] != uint8(in.Class) {
				t.Fatalf("instance %d pixel %d: owner %d, label %d", in.ID, i, owner[i], labels[i])
			}
			owner[i] = in.ID
			x, y := i%W, i/W
			if x < in.Box[0] || y < in.Box[1] || x >= in.Box[0]+in.Box[2] || y >= in.Box[1]+in.Box[3] {
				t.Fatalf("instance %d pixel (%d,%d) outside box %v", in.ID, x, y, in.Box)
			}
		}
		if n != in.Area {
			t.Errorf("instance %d: area %d, mask %d pixels", in.ID, in.Area, n)
		}
	}
	for i, l := range labels {
		if (l != 0) != (owner[i] != 0) {
			t.Fatalf("pixel %d: label %d, instance %d", i, l, owner[i])
		}
		// A 4-neighbour of the same class is in the same instance.
		if x := i % W; l != 0 && x+1 < W && labels[i+1] == l && owner[i+1] != owner[i] {
			t.Fatalf("pixels %d and %d: same class, 4-neighbours, instances %d and %d", i, i+1, owner[i], owner[i+1])
		}
		if l != 0 && i+W < len(labels) && labels[i+W] == l && owner[i+W] != owner[i] {
			t.Fatalf("pixels %d and %d: same class, 4-neighbours, instances %d and %d", i, i+W, owner[i], owner[i+W])
		}
	}
	if s, ok := rep.Settings.Value("instances").(map[string]any); !ok || s["connectivity"] != 4.0 {
		t.Errorf("settings.instances = %v", rep.Settings.Value("instances"))
	}

	// Asked for but none above the threshold: an empty list, not no key.
	out3 := t.TempDir()
	code, _, errs = run(t, "segment", "--model", model, "--classes", "cat; person, man; coffee cup", "--out", out3,
		"--no-cache", "--pamr", "0", "--instances", "--instance-min-area", "100000000", img)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	b, _ = os.ReadFile(filepath.Join(out3, "chelsea.json"))
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if l, ok := raw["instances"].([]any); !ok || len(l) != 0 {
		t.Errorf("instances = %v (%T), want []", raw["instances"], raw["instances"])
	}
}

func TestSegmentExportsBadFlags(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "chelsea.png")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--instances", "--connectivity", "6"}, "connectivity 6"},
		{[]string{"--instances", "--instance-min-area", "-1"}, "instance-min-area"},
		{[]string{"--coco", img}, "the input"},
		{[]string{"--coco", dir}, "not a folder"},
	} {
		code, _, errs := run(t, append([]string{"segment", "--model", model, "--no-cache", "--classes", "cat", "--out", dir, img}, c.args...)...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: code %d, %q, want %q", c.args, code, errs, c.want)
		}
	}
}

// A run that fails leaves no temporary COCO file behind.
func TestSegmentCOCOFailedRun(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	img := golden.Path(t, "cases", "chelsea.png")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	cocoDir := filepath.Join(dir, "c")
	code, _, _ := run(t, "segment", "--model", model, "--no-cache", "--classes", "cat", "--pamr", "0", "--out", filepath.Join(dir, "o"),
		"--coco", filepath.Join(cocoDir, "coco.json"), img, bad)
	if code == 0 {
		t.Fatal("a run with a broken image succeeded")
	}
	entries, _ := os.ReadDir(cocoDir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
