package server

// Front-end equality for the service: the label PNG, heat maps, overlay and
// JSON of POST /v1/segment and the heat overlays of POST /v1/explain are
// decoded and compared with Engine.Segment / Engine.Explain on the same
// input; the golden case seg_cv2 is checked through POST /v1/segment
// (docs/testing.md).

import (
	"context"
	"encoding/json"
	"image"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// goldenServer serves the tiny golden model.
func goldenServer(t *testing.T) (*freeseg.Engine, string) {
	t.Helper()
	e := freeseg.NewEngine(testmodel.Tiny(t))
	s := New(e, Config{})
	ts := httptest.NewUnstartedServer(s)
	ts.Config = s.HTTPServer("")
	ts.Start()
	t.Cleanup(ts.Close)
	return e, ts.URL
}

// postSegment sends the photo file with the form fields and decodes the
// answer.
func postSegment(t *testing.T, url, photoPath string, fields ...string) *SegmentResponse {
	t.Helper()
	b, err := os.ReadFile(photoPath)
	if err != nil {
		t.Fatal(err)
	}
	parts := []part{{"image", "photo.png", string(b)}}
	for i := 0; i+1 < len(fields); i += 2 {
		parts = append(parts, part{fields[i], "", fields[i+1]})
	}
	resp, body := postForm(t, url+"/v1/segment", parts...)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r SegmentResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// labelsOf decodes the response's palette label PNG to class indices.
func labelsOf(t *testing.T, r *SegmentResponse) ([]int32, *image.Paletted) {
	t.Helper()
	p, ok := decodePNG(t, r.LabelsPNG).(*image.Paletted)
	if !ok || r.LabelsFormat != "palette" || p.Bounds().Dx() != r.Width || p.Bounds().Dy() != r.Height {
		t.Fatalf("labels PNG: %T (%s)", p, r.LabelsFormat)
	}
	out := make([]int32, r.Width*r.Height)
	for y := 0; y < r.Height; y++ {
		for x := 0; x < r.Width; x++ {
			out[y*r.Width+x] = int32(p.ColorIndexAt(x, y))
		}
	}
	return out, p
}

// sameImage fails unless the decoded PNG has exactly want's pixels.
func sameImage(t *testing.T, what string, got image.Image, want *imageio.RGB) {
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
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d pixels differ", what, bad, want.W*want.H)
	}
}

// heat8 is the documented encoding of a probability in a heat map:
// round(p·255), clamped to [0,255].
func heat8(p float32) uint8 {
	return uint8(math.Round(255 * math.Min(1, math.Max(0, float64(p)))))
}

// checkAgainstEngine compares every output of a /v1/segment answer with
// the engine's result res on the same image.
func checkAgainstEngine(t *testing.T, r *SegmentResponse, img *imageio.RGB, res *freeseg.Result, v *prompts.Vocabulary, names []string, bg bool) {
	t.Helper()
	C := len(names)
	pal := freeseg.ClassColors(C, bg)
	if r.Width != res.Width || r.Height != res.Height || r.InputWidth != res.InputWidth || r.InputHeight != res.InputHeight || len(r.Classes) != C {
		t.Fatalf("answer %dx%d (input %dx%d), %d classes", r.Width, r.Height, r.InputWidth, r.InputHeight, len(r.Classes))
	}
	labels, p := labelsOf(t, r)
	if !slices.Equal(labels, res.Labels) {
		t.Error("labels PNG differs from the engine's label map")
	}
	for c := range pal {
		cr, cg, cb, _ := p.Palette[c].RGBA()
		if [3]uint8{uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8)} != pal[c] {
			t.Errorf("labels palette %d is not the class colour %v", c, pal[c])
		}
	}
	for c, cj := range r.Classes {
		if cj.Index != c || cj.Name != names[c] || !slices.Equal(cj.Synonyms, v.Names[c]) || cj.Color != pal[c] ||
			cj.Fraction != round6(res.Fractions[c]) || cj.Score != round6(res.Scores[c]) || cj.Kept != res.Kept[c] {
			t.Errorf("class %d: %+v; engine fraction %g score %g kept %v colour %v", c, cj, res.Fractions[c], res.Scores[c], res.Kept[c], pal[c])
		}
	}
	ov := *res
	ov.Classes, ov.Image, ov.Background = names, img, bg
	sameImage(t, "overlay", decodePNG(t, r.OverlayPNG), freeseg.Overlay(&ov))
	if len(r.Heatmaps) != C {
		t.Fatalf("%d heat maps, want %d", len(r.Heatmaps), C)
	}
	HW := res.Width * res.Height
	for c, h := range r.Heatmaps {
		g, ok := decodePNG(t, h.PNG).(*image.Gray)
		if !ok || h.Index != c || h.Name != names[c] || len(g.Pix) != HW {
			t.Fatalf("heat map %d (%s): %T", c, h.Name, g)
		}
		for i, v := range g.Pix {
			if want := heat8(res.Probs[c*HW+i]); v != want {
				t.Fatalf("heat map of class %d, pixel %d: %d, engine probability %g → %d", c, i, v, res.Probs[c*HW+i], want)
			}
		}
	}
}

// The golden seg_cv2 case through POST /v1/segment: labels as the reference
// (ties only), heat maps within rounding of the reference probabilities,
// and every output equal to the engine's.
func TestSegmentServiceGoldenCV2(t *testing.T) {
	e, url := goldenServer(t)
	photo := golden.Path(t, "cases", "astronaut.png")
	r := postSegment(t, url, photo, "classes", "cat; person, person in shirt; coffee cup", "background", "sky, wall, tree",
		"method", "sclip", "short_side", "336", "crop", "224", "stride", "112", "logit_scale", "40", "prob_thd", "0.1",
		"area_thd", "0.2", "pamr", "0", "partial_labels", "off", "heatmaps", "1")
	labels, _ := labelsOf(t, r)
	golden.AssertLabels(t, "seg_cv2/labels via the service", labels, "seg_cv2/labels", "seg_cv2/probs", 0.1)
	probs := golden.Tensor(t, "seg_cv2/probs").F32
	HW := r.Width * r.Height
	for c, h := range r.Heatmaps {
		g := decodePNG(t, h.PNG).(*image.Gray)
		got := make([]float32, len(g.Pix))
		for i, v := range g.Pix {
			got[i] = float32(v) / 255
		}
		// Rounding to 8 bits is at most half a level, plus the 1e-4 the
		// probabilities may differ by.
		numtest.AssertClose(t, "seg_cv2/probs via the service heat map "+h.Name, got, probs[c*HW:(c+1)*HW], 0.5/255+1e-4)
	}
	for c, n := range golden.SegCV2Counts {
		if want := float64(n) / float64(HW); !numtest.Near(r.Classes[c].Fraction, want, 1e-6) {
			t.Errorf("class %d: fraction %g, golden %g", c, r.Classes[c].Fraction, want)
		}
	}

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
	checkAgainstEngine(t, r, img, res, v, []string{"background", "cat", "person", "coffee cup"}, true)
}

// Without background, with PAMR and partial labels.
func TestSegmentServiceEqualsEngine(t *testing.T) {
	e, url := goldenServer(t)
	photo := golden.Path(t, "cases", "chelsea.png")
	r := postSegment(t, url, photo, "classes", "sky, wall, tree; cat; person, person in shirt; coffee cup", "background", "none",
		"method", "surgery", "whole", "1", "short_side", "224", "pamr", "2", "partial_labels", "smoothmin", "partial_thd", "0.1",
		"templates", "single", "heatmaps", "1")
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
	if present < 2 || !slices.Contains(res.Kept, false) {
		t.Fatalf("engine result too plain to compare: fractions %v kept %v", res.Fractions, res.Kept)
	}
	checkAgainstEngine(t, r, img, res, v, []string{"sky", "cat", "person", "coffee cup"}, false)
}

// POST /v1/explain's heat overlays are Engine.Explain's maps drawn by
// imageio.HeatOverlay, in both feature-surgery modes.
func TestExplainServiceEqualsEngine(t *testing.T) {
	e, url := goldenServer(t)
	photo := golden.Path(t, "cases", "coffee.png")
	b, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := imageio.Open(photo)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		texts []string
		form  string
		mode  string
	}{{[]string{"coffee cup", "rocket", "sky"}, "coffee cup, rocket, sky", "multi"}, {[]string{"rocket"}, "rocket", "redundant"}} {
		resp, body := postForm(t, url+"/v1/explain", part{"image", "p.png", string(b)}, part{"texts", "", c.form})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var r ExplainResponse
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		o := freeseg.DefaultExplainOptions()
		if o.FeatureSurgery, err = freeseg.ParseFeatureSurgery(c.mode); err != nil {
			t.Fatal(err)
		}
		ex, err := e.Explain(context.Background(), img, c.texts, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.FeatureSurgery != c.mode || len(r.Heatmaps) != len(c.texts) {
			t.Fatalf("%q: mode %q, %d maps", c.form, r.FeatureSurgery, len(r.Heatmaps))
		}
		HW := img.W * img.H
		for k, h := range r.Heatmaps {
			if h.Text != c.texts[k] {
				t.Fatalf("map %d is for %q, want %q", k, h.Text, c.texts[k])
			}
			sameImage(t, "explain "+h.Text, decodePNG(t, h.PNG), imageio.HeatOverlay(img, ex.Maps[k*HW:(k+1)*HW]))
		}
	}
}
