package main

// Front-end equality: what freeseg segment, explain and eval write is
// decoded and compared with Engine.Segment / Engine.Explain on the same
// input (docs/testing.md), and the exact golden case seg_cv2 is checked
// through `segment --save-tensors`.

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/eval/evaltest"
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
	"github.com/freeseg/freeseg/weights"
)

// readPNG decodes a PNG file written by the CLI.
func readPNG(t *testing.T, path string) image.Image {
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
	return img
}

// sameRGB fails unless got (a decoded PNG) has exactly want's pixels.
func sameRGB(t *testing.T, what string, got image.Image, want *imageio.RGB) {
	t.Helper()
	b := got.Bounds()
	if b.Dx() != want.W || b.Dy() != want.H {
		t.Fatalf("%s: %dx%d, want %dx%d", what, b.Dx(), b.Dy(), want.W, want.H)
	}
	bad := 0
	for y := 0; y < want.H; y++ {
		for x := 0; x < want.W; x++ {
			r, g, bl, _ := got.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := 3 * (y*want.W + x)
			if uint8(r>>8) != want.Pix[i] || uint8(g>>8) != want.Pix[i+1] || uint8(bl>>8) != want.Pix[i+2] {
				if bad < 3 {
					t.Errorf("%s: pixel (%d,%d) = %d,%d,%d, want %v", what, x, y, r>>8, g>>8, bl>>8, want.Pix[i:i+3])
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d pixels differ", what, bad, want.W*want.H)
	}
}

// checkSegmentOutputs compares the label PNG, the overlay, the JSON report
// and the tensors of `freeseg segment` for base with res, the engine's
// result on the same image (names: display names, background first).
func checkSegmentOutputs(t *testing.T, out, base string, img *imageio.RGB, res *freeseg.Result, v *prompts.Vocabulary, names []string, bg bool) {
	t.Helper()
	C := len(names)
	pal := freeseg.ClassColors(C, bg)

	lp, ok := readPNG(t, filepath.Join(out, base+".labels.png")).(*image.Paletted)
	if !ok || lp.Bounds().Dx() != res.Width || lp.Bounds().Dy() != res.Height || len(lp.Palette) != C {
		t.Fatalf("labels.png: %T, %v", lp, lp.Bounds())
	}
	for c := range pal {
		r, g, b, _ := lp.Palette[c].RGBA()
		if [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)} != pal[c] {
			t.Errorf("labels.png palette %d is %v, want the class colour %v", c, lp.Palette[c], pal[c])
		}
	}
	for y := 0; y < res.Height; y++ {
		for x := 0; x < res.Width; x++ {
			if got, want := lp.ColorIndexAt(x, y), res.Labels[y*res.Width+x]; int32(got) != want {
				t.Fatalf("labels.png pixel (%d,%d) = %d, engine %d", x, y, got, want)
			}
		}
	}

	r := *res
	r.Classes, r.Image, r.Background = names, img, bg
	sameRGB(t, base+".overlay.png", readPNG(t, filepath.Join(out, base+".overlay.png")), freeseg.Overlay(&r))

	var rep export.SegmentReport
	b, err := os.ReadFile(filepath.Join(out, base+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Classes) != C || rep.Width != res.Width || rep.Height != res.Height || rep.InputWidth != res.InputWidth || rep.InputHeight != res.InputHeight {
		t.Fatalf("report %dx%d (input %dx%d) with %d classes", rep.Width, rep.Height, rep.InputWidth, rep.InputHeight, len(rep.Classes))
	}
	for c, ci := range rep.Classes {
		if ci.Index != c || ci.Name != names[c] || !slices.Equal(ci.Synonyms, v.Names[c]) || ci.Color != pal[c] ||
			ci.Fraction != round6(res.Fractions[c]) || ci.Score != round6(res.Scores[c]) || ci.Kept != res.Kept[c] {
			t.Errorf("report class %d: %+v; engine fraction %g score %g kept %v colour %v", c, ci, res.Fractions[c], res.Scores[c], res.Kept[c], pal[c])
		}
	}

	tf, err := weights.ReadSafetensors(filepath.Join(out, base+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tf.Tensors["logits"].F32, res.Logits) || !slices.Equal(tf.Tensors["probs"].F32, res.Probs) {
		t.Error("saved logits or probs differ from the engine's")
	}
	lab := tf.Tensors["labels"].Ints
	if len(lab) != len(res.Labels) {
		t.Fatalf("saved labels: %d values", len(lab))
	}
	for i, l := range lab {
		if int32(l) != res.Labels[i] {
			t.Fatalf("saved label %d = %d, engine %d", i, l, res.Labels[i])
		}
	}
}

// The golden seg_cv2 case through `freeseg segment --save-tensors`: the
// saved tensors match the reference, and every output equals the engine's.
func TestSegmentCLIGoldenCV2(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	photo := golden.Path(t, "cases", "astronaut.png")
	out := t.TempDir()
	code, _, errs := run(t, "segment", "--model", model, "--no-cache", "--classes", "cat; person, person in shirt; coffee cup",
		"--background", "sky, wall, tree", "--method", "sclip", "--short-side", "336", "--crop", "224", "--stride", "112",
		"--logit-scale", "40", "--prob-thd", "0.1", "--area-thd", "0.2", "--pamr", "0", "--partial-labels", "off",
		"--save-tensors", filepath.Join(out, "astronaut.safetensors"), "--out", out, photo)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	tf, err := weights.ReadSafetensors(filepath.Join(out, "astronaut.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	golden.AssertClose(t, "seg_cv2/logits via the CLI", tf.Tensors["logits"].F32, golden.Tensor(t, "seg_cv2/logits").F32, 1e-5)
	golden.AssertClose(t, "seg_cv2/probs via the CLI", tf.Tensors["probs"].F32, golden.Tensor(t, "seg_cv2/probs").F32, 1e-4)
	labels := make([]int32, len(tf.Tensors["labels"].Ints))
	for i, l := range tf.Tensors["labels"].Ints {
		labels[i] = int32(l)
	}
	golden.AssertLabels(t, "seg_cv2/labels via the CLI", labels, "seg_cv2/labels", "seg_cv2/probs", 0.1)

	// The engine on the same photo with the same settings, built here.
	e := freeseg.NewEngine(testmodel.Tiny(t))
	img, _, err := imageio.Open(photo)
	if err != nil {
		t.Fatal(err)
	}
	v := &prompts.Vocabulary{Names: golden.SegCV2Classes, Background: true}
	o := freeseg.Options{Method: dense.SCLIP, Templates: "openai80", Resize: freeseg.Resize{Mode: freeseg.ResizeShort, Size: 336, MaxLong: 2048},
		Window: seg.Window{Crop: 224, Stride: 112}, LogitScale: 40, ProbThd: 0.1, AreaThd: 0.2, PAMRDilations: []int{8, 16}}
	res, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	checkSegmentOutputs(t, out, "astronaut", img, res, v, []string{"background", "cat", "person", "coffee cup"}, true)
}

// Without a background class, with PAMR and partial labels: the CLI's
// outputs still equal the engine's, and its colours are the no-background
// ones (no class drawn in black).
func TestSegmentCLIEqualsEngine(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	photo := golden.Path(t, "cases", "chelsea.png")
	out := t.TempDir()
	code, _, errs := run(t, "segment", "--model", model, "--no-cache", "--classes", "sky, wall, tree; cat; person, person in shirt; coffee cup",
		"--background", "none", "--method", "surgery", "--whole", "--short-side", "224", "--pamr", "2",
		"--partial-labels", "smoothmin", "--partial-thd", "0.1", "--templates", "single",
		"--save-tensors", filepath.Join(out, "chelsea.safetensors"), "--out", out, photo)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	e := freeseg.NewEngine(testmodel.Tiny(t))
	img, _, err := imageio.Open(photo)
	if err != nil {
		t.Fatal(err)
	}
	v := &prompts.Vocabulary{Names: golden.SegCV2Classes, Background: true}
	o := freeseg.Options{Method: dense.Surgery, Templates: "single", Resize: freeseg.Resize{Mode: freeseg.ResizeShort, Size: 224, MaxLong: 2048},
		LogitScale: 40, PAMRSteps: 2, PAMRDilations: []int{8, 16},
		Partial: seg.PartialOptions{Enabled: true, Pool: seg.PoolSmoothMin, Tau: seg.DefaultPartial.Tau, TopQ: seg.DefaultPartial.TopQ, Thd: 0.1}}
	res, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	present := 0
	for _, f := range res.Fractions {
		if f > 0 {
			present++
		}
	}
	if present < 2 {
		t.Fatalf("the engine labels only %d class: the comparison would not see a constant label map", present)
	}
	if !slices.Contains(res.Kept, false) {
		t.Fatalf("partial labels kept every class (%v): the comparison would not see the kept flags", res.Kept)
	}
	checkSegmentOutputs(t, out, "chelsea", img, res, v, []string{"sky", "cat", "person", "coffee cup"}, false)
}

// freeseg explain writes CLIP Surgery's heat overlays of Engine.Explain's
// maps, in both feature-surgery modes its "auto" picks.
func TestExplainCLIEqualsEngine(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	photo := golden.Path(t, "cases", "coffee.png")
	e := freeseg.NewEngine(testmodel.Tiny(t))
	img, _, err := imageio.Open(photo)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		texts []string
		arg   string
		mode  string
	}{{[]string{"coffee cup", "rocket", "sky"}, "coffee cup, rocket, sky", "multi"}, {[]string{"rocket"}, "rocket", "redundant"}} {
		out := t.TempDir()
		if code, _, errs := run(t, "explain", "--model", model, "--no-cache", "--image", photo, "--text", c.arg, "--out", out); code != 0 {
			t.Fatalf("explain %q: %s", c.arg, errs)
		}
		o := freeseg.DefaultExplainOptions()
		if o.FeatureSurgery, err = freeseg.ParseFeatureSurgery(c.mode); err != nil {
			t.Fatal(err)
		}
		ex, err := e.Explain(context.Background(), img, c.texts, o)
		if err != nil {
			t.Fatal(err)
		}
		HW := img.W * img.H
		for k, text := range c.texts {
			p := filepath.Join(out, "coffee.heat."+export.SafeName(text)+".png")
			sameRGB(t, p, readPNG(t, p), imageio.HeatOverlay(img, ex.Maps[k*HW:(k+1)*HW]))
		}
	}
}

// freeseg eval's confusion matrix equals one counted here from
// Engine.Segment's predictions and the label arrays the test wrote (255
// ignored), on two photos with hand-made labels.
func TestEvalConfusionEqualsEngine(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	root := t.TempDir()
	e := freeseg.NewEngine(testmodel.Tiny(t))
	p, err := prompts.Protocols("sclip", "context60")
	if err != nil {
		t.Fatal(err)
	}
	o, err := freeseg.ProtocolOptions(p)
	if err != nil {
		t.Fatal(err)
	}
	o.Templates, o.Resize.Size = "single", 224
	v := &prompts.Vocabulary{Names: golden.SegCV2Classes, Background: true}
	const C = 4
	want := make([][]int64, C)
	for g := range want {
		want[g] = make([]int64, C)
	}
	predicted := map[int32]bool{}
	for i, name := range []string{"astronaut", "chelsea"} {
		src := golden.Path(t, "cases", name+".png")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		evaltest.WriteFile(t, filepath.Join(root, "images", name+".png"), b)
		img, _, err := imageio.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		gt := evaltest.Label(img.W, img.H, i, []uint8{0, 1, 2, 3, 255})
		evaltest.WriteFile(t, filepath.Join(root, "labels", name+".png"), evaltest.GreyPNG(t, img.W, img.H, gt))
		res, err := e.Segment(context.Background(), img, v, o)
		if err != nil {
			t.Fatal(err)
		}
		for j, g := range gt {
			if g == 255 {
				continue
			}
			want[g][res.Labels[j]]++
			predicted[res.Labels[j]] = true
		}
	}
	if len(predicted) < 2 {
		t.Fatalf("the engine predicts %d class: a constant prediction would pass", len(predicted))
	}
	evaltest.WriteFile(t, filepath.Join(root, "classes.txt"), []byte("sky, wall, tree\ncat\nperson, person in shirt\ncoffee cup\n"))
	rep := filepath.Join(t.TempDir(), "rep")
	evalOK(t, "eval", "--dataset", "folder", "--root", root, "--with-background", "--model", model, "--no-cache",
		"--templates", "single", "--short-side", "224", "--save-every", "0", "--overlays", "0", "--report", rep)
	r := readEvalReport(t, rep)
	if r.Evaluated != 2 || len(r.Confusion) != C {
		t.Fatalf("%d evaluated, confusion %v", r.Evaluated, r.Confusion)
	}
	for g := range want {
		if !slices.Equal(r.Confusion[g], want[g]) {
			t.Errorf("confusion row %d (ground truth %d) = %v, counted from the engine %v", g, g, r.Confusion[g], want[g])
		}
	}
	// mIoU from the counted matrix (IoU = TP / (row + column - TP), classes
	// whose union is empty left out, as MMSeg's nanmean).
	var sum float64
	var n int
	for c := 0; c < C; c++ {
		var row, col int64
		for k := 0; k < C; k++ {
			row += want[c][k]
			col += want[k][c]
		}
		if u := row + col - want[c][c]; u > 0 {
			sum += float64(want[c][c]) / float64(u)
			n++
		}
	}
	if r.MIoU == nil {
		t.Fatal("no mIoU in the report")
	}
	if !numtest.Near(*r.MIoU, 100*sum/float64(n), 1e-9) { // the report gives percent
		t.Errorf("mIoU %g%%, counted %g%%", *r.MIoU, 100*sum/float64(n))
	}
}

// round6 rounds as the JSON outputs do (six decimals).
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
