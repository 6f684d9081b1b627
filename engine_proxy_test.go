package freeseg_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// The proxyclip protocol preset runs through the engine exactly as the
// stages composed by hand (ProxyCLIP features, 336/112 windows padded to a
// multiple of 56, post-processing), with the VFM loaded from VFMSource.
func TestProxyCLIPEngineEqualsComposition(t *testing.T) {
	m := testmodel.Tiny(t)
	e := freeseg.NewEngine(m)
	e.VFMSource = golden.Path(t, "proxyclip", "tiny-dino")
	p, err := prompts.Protocols("proxyclip", "voc21")
	if err != nil {
		t.Fatal(err)
	}
	o, err := freeseg.ProtocolOptions(p)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Method.Proxy || o.Method.Beta != 1.2 || o.Method.Gamma != 3 || o.Window.Crop != 336 || o.Whole || o.ProbThd != 0.2 {
		t.Fatalf("proxyclip voc21 options %+v", o)
	}
	img, _, err := imageio.Open(golden.Path(t, "cases", "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	// Without resizing, chelsea's windows are 300 high (the image height)
	// and must be padded to 336.
	o.Resize.Mode = freeseg.ResizeNone
	res, err := e.Segment(context.Background(), img, goldenVocab(), o)
	if err != nil {
		t.Fatal(err)
	}
	if e.VFM == nil || e.VFM.Config.Patch != 8 {
		t.Fatal("the engine did not load the VFM")
	}
	x, w, h := imageio.NormalizeMMSeg(img), img.W, img.H
	queries, classOf := goldenVocab().Queries()
	G, _ := e.Classifier(queries, "openai80")
	padded := 0
	enc := func(imgs []float32, B, H, W int) (*dense.Features, error) {
		if H%56 != 0 || W%56 != 0 {
			t.Fatalf("window %dx%d not padded to 56", W, H)
		}
		padded++
		return dense.ProxyCLIP.FeaturesWith(context.Background(), m, e.VFM, imgs, B, H, W)
	}
	win := seg.Window{Crop: 336, Stride: 112, PadToPatch: true, PadMultiple: 56}
	lg, err := seg.Infer(seg.Job{Encode: enc, Input: x, H: h, W: w, Classifier: G, Q: len(queries), E: m.Config.EmbedDim, Window: win, Patch: 16, OutH: img.H, OutW: img.W})
	if err != nil {
		t.Fatal(err)
	}
	golden.AssertClose(t, "engine proxyclip logits", res.Logits, lg.Data, 0)
	probs, C, _ := seg.Probabilities(lg.Data, len(queries), img.W*img.H, classOf, 40, nil)
	labels := seg.Labels(probs, C, img.W*img.H, 0.2)
	for i := range labels {
		if labels[i] != res.Labels[i] {
			t.Fatalf("pixel %d: engine %d, reference composition %d", i, res.Labels[i], labels[i])
		}
	}
	if padded == 0 {
		t.Fatal("no window encoded")
	}
}

// The FreeSeg stages run on top of proxyclip: PAMR changes the logits and
// partial labels (top-1) keep one foreground class.
func TestProxyCLIPWithFreeSegStages(t *testing.T) {
	m := testmodel.Tiny(t)
	e := freeseg.NewEngine(m)
	e.VFM = testmodel.TinyDINO(t)
	img, _, err := imageio.Open(golden.Path(t, "cases", "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	img = img.Crop(0, 0, 400, 336)
	v := &prompts.Vocabulary{Names: [][]string{{"sky"}, {"cat"}, {"person"}, {"rocket"}, {"flag"}}, Background: true}
	o := freeseg.DefaultOptions()
	o.Method = dense.ProxyCLIP
	o.Window = seg.Window{Crop: 336, Stride: 112}
	o.PAMRSteps = 0
	o.Partial.Enabled = false
	plain, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	o.PAMRSteps = 10
	o.Partial = seg.PartialOptions{Enabled: true, Pool: seg.PoolMax, TopK: 1, Thd: 0, Tau: 1, TopQ: 0.1}
	full, err := e.Segment(context.Background(), img, v, o)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := range plain.Logits {
		if plain.Logits[i] != full.Logits[i] {
			changed++
		}
	}
	if changed < len(plain.Logits)/2 {
		t.Fatalf("PAMR changed %d of %d logits", changed, len(plain.Logits))
	}
	kept := 0
	for c := 1; c < len(full.Kept); c++ {
		if full.Kept[c] {
			kept++
		}
	}
	if kept != 1 || !full.Kept[0] {
		t.Fatalf("partial labels top-1 kept %v", full.Kept)
	}
	for i, l := range full.Labels {
		if l != 0 && !full.Kept[l] {
			t.Fatalf("pixel %d labelled with removed class %d", i, l)
		}
	}
	if v := freeseg.SettingValues(freeseg.Values(&o, freeseg.ForSegment)); v.Value("proxy_beta") != 1.2 || v.Value("proxy_gamma") != 3.0 {
		t.Fatalf("settings do not report beta and gamma: %v", v)
	}
}

// β and γ are settings of the table (the CLI flags and the service's form).
func TestProxySettings(t *testing.T) {
	o := freeseg.DefaultOptions()
	if err := freeseg.Apply(&o, map[string]string{"method": "proxyclip"}, freeseg.ForSegment); err != nil {
		t.Fatal(err)
	}
	if !o.Method.Proxy || o.Method.Beta != 1.2 || o.Method.Gamma != 3 {
		t.Fatalf("proxyclip defaults %+v", o.Method)
	}
	if err := freeseg.Apply(&o, map[string]string{"proxy_beta": "1", "proxy_gamma": "5", "method": "proxyclip"}, freeseg.ForSegment); err != nil {
		t.Fatal(err)
	}
	if !o.Method.Proxy || o.Method.Beta != 1 || o.Method.Gamma != 5 {
		t.Fatalf("method %+v", o.Method)
	}
	if err := freeseg.Apply(&o, map[string]string{"proxy_gamma": "-1"}, freeseg.ForSegment); err == nil || !strings.Contains(err.Error(), "gamma") {
		t.Fatalf("negative gamma: %v", err)
	}
}

// A VFM that cannot be loaded is an error naming it, not a crash.
func TestProxyCLIPBadVFM(t *testing.T) {
	m := testmodel.Tiny(t)
	e := freeseg.NewEngine(m)
	e.VFMSource = filepath.Join(t.TempDir(), "no-such-dino")
	img, _, err := imageio.Open(golden.Path(t, "cases", "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	o := freeseg.DefaultOptions()
	o.Method = dense.ProxyCLIP
	_, err = e.Segment(context.Background(), img, goldenVocab(), o)
	if err == nil || !strings.Contains(err.Error(), "no-such-dino") {
		t.Fatalf("err = %v", err)
	}
}
