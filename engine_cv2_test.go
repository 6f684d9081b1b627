package freeseg_test

import (
	"context"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/prompts"
)

// cv2Options are the settings of golden seg_cv2/*: SCLIP features, mmseg's
// resize (short side 336, cv2 bilinear), crop 224 / stride 112, logit
// scale 40, area threshold 0.2, probability threshold 0.1, no PAMR, no
// partial labels.
func cv2Options() freeseg.Options {
	o := sclipGoldenOptions()
	o.AreaThd = 0.2
	return o
}

// The exact end-to-end case: from astronaut.png through Engine.Segment to
// the reference logits, probabilities and labels at float precision. The
// engine builds its own classifier from the class names; it is first
// checked against the reference query features, so the comparison covers
// the text side too.
func TestGoldenSegCV2Engine(t *testing.T) {
	m := testmodel.Tiny(t)
	e := freeseg.NewEngine(m)
	img, _, err := imageio.Open(golden.Path(t, "cases", "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	v := &prompts.Vocabulary{Names: golden.SegCV2Classes}
	queries, _ := v.Queries()
	G, err := e.Classifier(queries, "openai80")
	if err != nil {
		t.Fatal(err)
	}
	golden.AssertClose(t, "seg_cv2/query_features", G, golden.Tensor(t, "seg_cv2/query_features").F32, 1e-5)

	res, err := e.Segment(context.Background(), img, v, cv2Options())
	if err != nil {
		t.Fatal(err)
	}
	if res.Width != 512 || res.Height != 512 || res.InputWidth != 336 || res.InputHeight != 336 {
		t.Fatalf("result %dx%d from a %dx%d input, want 512x512 from 336x336", res.Width, res.Height, res.InputWidth, res.InputHeight)
	}
	// The engine's input is mmseg's.
	x, w, h := imageio.PreprocessMMSeg(img, 336)
	if w != 336 || h != 336 {
		t.Fatalf("mmseg resize %dx%d", w, h)
	}
	golden.AssertClose(t, "seg_cv2/input", x, golden.Tensor(t, "seg_cv2/input").F32, 1e-5)
	golden.AssertClose(t, "seg_cv2/logits end to end", res.Logits, golden.Tensor(t, "seg_cv2/logits").F32, 1e-5)
	golden.AssertClose(t, "seg_cv2/probs end to end", res.Probs, golden.Tensor(t, "seg_cv2/probs").F32, 1e-4)
	differ := golden.AssertLabels(t, "seg_cv2/labels end to end", res.Labels, "seg_cv2/labels", "seg_cv2/probs", 0.1)
	counts := make([]int, len(golden.SegCV2Counts))
	for _, l := range res.Labels {
		counts[l]++
	}
	for c, n := range golden.SegCV2Counts {
		if d := counts[c] - n; d > differ || -d > differ {
			t.Errorf("class %d has %d pixels, golden %d", c, counts[c], n)
		}
		if !numtest.Near(res.Fractions[c], float64(counts[c])/(512*512), 1e-12) {
			t.Errorf("class %d: fraction %g for %d of 512x512 pixels", c, res.Fractions[c], counts[c])
		}
	}
	// The case is only exact if the area filter removed class 3: without
	// the filter it holds pixels.
	o := cv2Options()
	o.AreaThd = 0
	raw, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Fractions[3] == 0 {
		t.Fatal("class 3 has no pixels even without the area filter: the golden case does not exercise it")
	}
}
