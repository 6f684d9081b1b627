// Package freeseg is open-vocabulary semantic segmentation with CLIP and no
// training: an image and any class names in, a label map, per-class
// similarity maps and image-level scores out.
//
// It realises FreeSeg (free masks from the image-text similarity map of an
// interpretable CLIP, with partial-label, smoothed-pooling and pixel
// strategies, as freeseg defines them in docs/method.md) on top of a choice
// of dense methods (CLIP Surgery, MaskCLIP, SCLIP, ClearCLIP, NACLIP) run as
// switchable variants of one pipeline:
//
//	e, err := freeseg.Open("openai/clip-vit-base-patch16") // hub id, folder or checkpoint
//	img, _, err := imageio.Open("photo.jpg")
//	classes, err := prompts.ParseClassList("cat; dog; sofa")
//	vocab, background, notes, err := freeseg.WithBackground(classes, "default")
//	opts := freeseg.DefaultOptions()
//	opts.Background = background
//	res, err := e.Segment(img, vocab, opts)
//
// (each err checked; example_test.go runs the same steps with a random-weight
// model). Shapes are named with the letters of docs/method.md.
package freeseg

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/interp"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Engine holds a loaded model and its text-classifier cache. It is safe for
// concurrent use.
type Engine struct {
	Model *clip.Model
	Cache *ClassifierCache
	// Limits bound the network input, memory and work of one Segment or
	// Explain call, checked before any work (SegmentBudget,
	// ExplainBudget); zero fields take DefaultLimits' values.
	Limits Limits

	bf16 bf16Variant // the model in bf16, made on first request (precision.go)

	// VFM is the vision foundation model of the proxy methods (proxyclip):
	// when nil, it is loaded from VFMSource (a folder, a checkpoint or a hub
	// id, pulled on first use; "" means DefaultVFM) the first time a proxy
	// method runs. See docs/vfm.md.
	VFM       *dino.Model
	VFMSource string
	vfmMu     sync.Mutex
}

// DefaultVFM is the vision foundation model of ProxyCLIP's best published
// setting (with CLIP ViT-B/16).
const DefaultVFM = "facebook/dino-vitb8"

// LoadVFM returns the engine's vision foundation model, loading it from
// VFMSource on the first call.
func (e *Engine) LoadVFM() (*dino.Model, error) {
	e.vfmMu.Lock()
	defer e.vfmMu.Unlock()
	if e.VFM != nil {
		return e.VFM, nil
	}
	src := e.VFMSource
	if src == "" {
		src = DefaultVFM
	}
	dir, err := hub.Resolve(context.Background(), src, hub.DefaultOptions())
	if err != nil {
		return nil, fmt.Errorf("vfm: %w", err)
	}
	v, err := dino.Load(dir)
	if err != nil {
		return nil, err
	}
	e.VFM = v
	return v, nil
}

// features returns the dense-feature function of method m on this engine,
// loading the VFM first when m needs one.
func (e *Engine) features(m dense.Method, model *clip.Model) (seg.EncodeFunc, error) {
	var vfm *dino.Model
	if m.Proxy {
		var err error
		if vfm, err = e.LoadVFM(); err != nil {
			return nil, err
		}
	}
	return func(imgs []float32, B, H, W int) (*dense.Features, error) {
		return m.FeaturesWith(model, vfm, imgs, B, H, W)
	}, nil
}

// Open loads a model folder, a checkpoint file (see clip.Load) or a
// Hugging Face Hub id such as "openai/clip-vit-base-patch16" (downloaded
// into the cache on first use, see package hub; "" means hub.DefaultModel),
// with an in-memory classifier cache; set Cache.Dir for an on-disk one.
func Open(model string) (*Engine, error) {
	dir, err := hub.Resolve(context.Background(), model, hub.DefaultOptions())
	if err != nil {
		return nil, err
	}
	m, err := clip.Load(dir)
	if err != nil {
		return nil, err
	}
	return NewEngine(m), nil
}

// NewEngine wraps an already loaded model.
func NewEngine(m *clip.Model) *Engine {
	return &Engine{Model: m, Cache: NewClassifierCache("")}
}

// Resize is how the image is sized before inference.
type Resize struct {
	// Mode is "short" (keep ratio, short side Size, long side at most
	// MaxLong, cv2 bilinear, as the mmseg evaluators), "square" (Size×Size
	// PIL bicubic, as CLIP Surgery's demo) or "none".
	Mode    string
	Size    int
	MaxLong int
}

// Options configure one segmentation. The zero value is not useful; start
// from DefaultOptions or ProtocolOptions.
type Options struct {
	Method    dense.Method
	Templates string // template set name: openai80, surgery85 or single
	Resize    Resize
	Window    seg.Window
	// Background says class 0 of the vocabulary is background: it gets the
	// pixels whose best probability is below ProbThd and is never removed by
	// the partial labels. Without it, ProbThd is not applied and class 0 is
	// an ordinary class. WithBackground builds such a vocabulary.
	Background    bool
	LogitScale    float64
	ProbThd       float64
	AreaThd       float64 // 0 = off
	PAMRSteps     int     // 0 = off
	PAMRDilations []int
	Partial       seg.PartialOptions
	// Precision of the encoders' matrix products (clip.FP32, clip.BF16);
	// the zero value runs the model as loaded (see docs/speed.md).
	Precision clip.Precision
}

// DefaultOptions is freeseg's recommended setting: CLIP Surgery features on
// the SCLIP sliding-window protocol (short side 336, crop 224, stride 112),
// the 80 ImageNet templates, and the FreeSeg strategies on: partial labels
// with smoothed-min pooling and the pixel stage with PAMR. Background is
// off: set it when class 0 of the vocabulary is a background class (as
// WithBackground makes it).
func DefaultOptions() Options {
	return Options{
		Method:        dense.Surgery,
		Templates:     "openai80",
		Resize:        Resize{Mode: "short", Size: 336, MaxLong: imageio.MMSegMaxLong},
		Window:        seg.Window{Crop: 224, Stride: 112},
		LogitScale:    40,
		ProbThd:       0.1,
		PAMRSteps:     10,
		PAMRDilations: []int{8, 16},
		Partial:       seg.DefaultPartial,
	}
}

// ProtocolOptions are the settings of a published evaluation protocol with
// the FreeSeg strategies off, so the pipeline equals the reference method.
func ProtocolOptions(p prompts.Protocol) (Options, error) {
	m, err := dense.ByName(p.Method)
	if err != nil {
		return Options{}, err
	}
	o := Options{
		Method:        m,
		Templates:     p.Templates,
		Resize:        Resize{Mode: "short", Size: p.Short, MaxLong: p.MaxLong},
		Window:        seg.Window{Crop: p.Crop, Stride: p.Stride},
		LogitScale:    p.LogitScale,
		ProbThd:       p.ProbThd,
		AreaThd:       p.AreaThd,
		PAMRSteps:     p.PAMRSteps,
		PAMRDilations: []int{8, 16},
		// The with-background sets (VOC21, Context60, COCO-Object) are the
		// ones with a probability threshold in every published protocol.
		Background: p.ProbThd > 0,
	}
	if o.Resize.MaxLong == 0 {
		o.Resize.MaxLong = imageio.MMSegMaxLong
	}
	if p.Method == "clearclip" {
		o.Window.PadToPatch = true
	}
	return o, nil
}

// MaxLogitScale bounds Options.LogitScale: CLIP clamps its learned scale
// at 100 and the published protocols use 40 to 100, so a larger value is a
// mistake (and at float32 precision makes the softmax a hard maximum).
const MaxLogitScale = 1000

// MaxPAMRSteps bounds Options.PAMRSteps (NACLIP uses 10).
const MaxPAMRSteps = 1000

// Validate checks the options before any work is done: names, sizes, and
// every number finite and in its range.
func (o Options) Validate(layers int) error {
	if err := o.Method.Validate(layers); err != nil {
		return err
	}
	if _, err := prompts.Templates(o.Templates); err != nil {
		return err
	}
	switch o.Resize.Mode {
	case "short", "square":
		if o.Resize.Size <= 0 {
			return fmt.Errorf("resize size %d must be positive", o.Resize.Size)
		}
	case "none", "":
	default:
		return fmt.Errorf("unknown resize mode %q (want short, square or none)", o.Resize.Mode)
	}
	if o.Resize.Mode == "short" && o.Resize.MaxLong < 0 {
		return fmt.Errorf("resize long-side bound %d must not be negative", o.Resize.MaxLong)
	}
	if err := o.Window.Validate(); err != nil {
		return err
	}
	// Every number finite first: NaN passes any comparison below, and an
	// infinite scale turns the probabilities into NaN.
	for _, x := range []struct {
		name string
		v    float64
	}{{"logit scale", o.LogitScale}, {"probability threshold", o.ProbThd}, {"area threshold", o.AreaThd},
		{"partial-label tau", o.Partial.Tau}, {"partial-label top-q", o.Partial.TopQ}, {"partial-label threshold", o.Partial.Thd}} {
		if math.IsNaN(x.v) || math.IsInf(x.v, 0) {
			return fmt.Errorf("%s %g must be a finite number", x.name, x.v)
		}
	}
	if o.LogitScale <= 0 || o.LogitScale > MaxLogitScale {
		return fmt.Errorf("logit scale %g must be in (0,%g]", o.LogitScale, float64(MaxLogitScale))
	}
	if o.ProbThd < 0 || o.ProbThd > 1 {
		return fmt.Errorf("probability threshold %g must be in [0,1]", o.ProbThd)
	}
	if o.AreaThd < 0 || o.AreaThd >= 1 {
		return fmt.Errorf("area threshold %g must be in [0,1)", o.AreaThd)
	}
	if o.PAMRSteps < 0 || o.PAMRSteps > MaxPAMRSteps {
		return fmt.Errorf("PAMR steps %d must be in 0..%d", o.PAMRSteps, MaxPAMRSteps)
	}
	for _, d := range o.PAMRDilations {
		if d < 1 || d > 1<<16 {
			return fmt.Errorf("PAMR dilation %d must be in 1..65536", d)
		}
	}
	return o.Partial.Validate()
}

// Result of segmenting one image, at the image's own size.
type Result struct {
	Width, Height int
	Classes       []string  // display name of each class (its first synonym)
	Queries       []string  // every name that was encoded
	ClassOf       []int     // class of each query
	Labels        []int32   // [H·W] class index per pixel
	Probs         []float32 // [C,H,W] class probabilities
	Logits        []float32 // [Q,H,W] cosine logits (after PAMR)
	Scores        []float64 // [C] image-level scores (softmax of pooled logits)
	Kept          []bool    // [C] classes the partial-label stage kept (all true when off)
	Fractions     []float64 // [C] share of pixels labelled with each class
	InputWidth    int       // network input size after resizing
	InputHeight   int
}

// prepare resizes and normalises img as the options say, returning the
// planar network input and its size.
func prepare(img *imageio.RGB, r Resize) ([]float32, int, int) {
	switch r.Mode {
	case "short":
		w, h := imageio.KeepRatioSize(img.W, img.H, r.Size, r.MaxLong)
		return imageio.NormalizeMMSeg(imageio.ResizeCV2Linear(img, w, h)), w, h
	case "square":
		return imageio.PreprocessSquare(img, r.Size), r.Size, r.Size
	}
	return imageio.NormalizeMMSeg(img), img.W, img.H
}

// Segment labels every pixel of img with one of the vocabulary's classes.
func (e *Engine) Segment(img *imageio.RGB, vocab *prompts.Vocabulary, o Options) (*Result, error) {
	m, err := e.modelFor(o.Precision)
	if err != nil {
		return nil, err
	}
	if err := o.Validate(len(m.Vision.Blocks)); err != nil {
		return nil, err
	}
	if vocab == nil || vocab.Len() == 0 {
		return nil, fmt.Errorf("no classes given")
	}
	if img == nil || img.W == 0 || img.H == 0 {
		return nil, fmt.Errorf("empty image")
	}
	queries, classOf := vocab.Queries()
	b, err := e.SegmentBudget(img.W, img.H, len(queries), vocab.Len(), o)
	if err != nil {
		return nil, err
	}
	if err := b.Check(e.limits(), e.Model.Vision.Patch); err != nil {
		return nil, err
	}
	cls, err := e.classifierFor(m, queries, o.Templates)
	if err != nil {
		return nil, err
	}
	x, w, h := prepare(img, o.Resize)
	p := m.Vision.Patch
	if w < p || h < p {
		return nil, fmt.Errorf("image of %dx%d (after resizing to %dx%d) is smaller than one %dx%d patch", img.W, img.H, w, h, p, p)
	}
	if c := o.Window.Crop; c > 0 && c > w && c > h {
		return nil, fmt.Errorf("crop %d is larger than the %dx%d network input; use the whole image or a smaller crop", c, w, h)
	}
	enc, err := e.features(o.Method, m)
	if err != nil {
		return nil, err
	}
	win := o.Window
	if o.Method.Pad > 0 && win.Crop > 0 {
		win.PadToPatch, win.PadMultiple = true, o.Method.Pad
	}
	Q, E := len(queries), m.Config.EmbedDim
	lg, err := seg.Infer(enc, x, h, w, cls, Q, E, win, p, img.H, img.W)
	if err != nil {
		return nil, err
	}
	HW := img.W * img.H
	if o.PAMRSteps > 0 {
		// NACLIP: the normalised network input, resized to the output size.
		guide := interp.ResizeBilinearTorch(x, 3, h, w, img.H, img.W, false)
		if err := seg.PAMR(guide, lg.Data, Q, img.H, img.W, o.PAMRSteps, o.PAMRDilations); err != nil {
			return nil, err
		}
	}
	C := vocab.Len()
	res := &Result{Width: img.W, Height: img.H, Classes: vocab.ClassNames(), Queries: queries, ClassOf: classOf, InputWidth: w, InputHeight: h}
	partial := o.Partial
	scoring := partial
	if !scoring.Enabled {
		// Scores are reported either way; without the partial-label stage
		// the cheap CLS pooling gives them (no pass over the pixels).
		scoring = seg.PartialOptions{Pool: seg.PoolCLS}
	}
	pr := seg.PartialLabels(lg, classOf, C, o.LogitScale, o.Background, scoring)
	res.Scores = pr.Scores
	res.Kept = make([]bool, C)
	for c := range res.Kept {
		res.Kept[c] = !partial.Enabled || pr.Keep[c]
	}
	var keep []bool
	if partial.Enabled {
		keep = res.Kept
	}
	probs, _, err := seg.Probabilities(lg.Data, Q, HW, classOf, o.LogitScale, keep)
	if err != nil {
		return nil, err
	}
	if o.AreaThd > 0 {
		seg.AreaFilter(probs, C, HW, o.AreaThd)
	}
	thd := 0.0
	if o.Background {
		thd = o.ProbThd
	}
	res.Labels = seg.Labels(probs, C, HW, thd)
	res.Probs, res.Logits = probs, lg.Data
	res.Fractions = make([]float64, C)
	for _, l := range res.Labels {
		res.Fractions[l]++
	}
	for c := range res.Fractions {
		res.Fractions[c] /= float64(HW)
	}
	return res, nil
}

// Classifier returns the prompt-ensemble classifier [len(names), E] for the
// template set, from the cache where possible.
func (e *Engine) Classifier(names []string, templates string) ([]float32, error) {
	tpl, err := prompts.Templates(templates)
	if err != nil {
		return nil, err
	}
	return e.Cache.Get(e.Model, names, templates, tpl)
}

// String describes the engine's model.
func (e *Engine) String() string {
	return fmt.Sprintf("%s (%s)", e.Model.Config.Name(), strings.TrimSpace(e.Model.Path))
}
