// Package freeseg is open-vocabulary semantic segmentation with CLIP and no
// training: an image and any class names in, a label map, per-class
// similarity maps and image-level scores out.
//
// It realises FreeSeg (free masks from the image-text similarity map of an
// interpretable CLIP, with partial-label, smoothed-pooling and pixel
// strategies, as freeseg defines them in docs/method.md) on top of a choice
// of dense methods (NACLIP by default; CLIP Surgery, MaskCLIP, SCLIP,
// ClearCLIP) run as switchable variants of one pipeline:
//
//	e, err := freeseg.Open("openai/clip-vit-base-patch16") // hub id, folder or checkpoint
//	img, _, err := imageio.Open("photo.jpg")
//	classes, err := prompts.ParseClassList("cat; dog; sofa")
//	vocab, notes, err := freeseg.WithBackground(classes, "default") // class 0: 26 "stuff" names
//	res, err := e.Segment(ctx, img, vocab, freeseg.DefaultOptions())
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
	"time"

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
func (e *Engine) features(ctx context.Context, m dense.Method, model *clip.Model) (seg.EncodeFunc, error) {
	var vfm *dino.Model
	if m.Proxy {
		var err error
		if vfm, err = e.LoadVFM(); err != nil {
			return nil, err
		}
	}
	return func(imgs []float32, B, H, W int) (*dense.Features, error) {
		return m.FeaturesWith(ctx, model, vfm, imgs, B, H, W)
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

// Result of segmenting one image, at the image's own size.
type Result struct {
	Width, Height int
	Classes       []string  // display name of each class (its first synonym; "background" for a background class 0)
	Background    bool      // class 0 is the background (the vocabulary's)
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
	// Image is the photo the maps are aligned with: the input, or its
	// scaled copy when Options.MaxSide scaled it down. Draw outputs on it.
	Image *imageio.RGB
}

// Prepare resizes and normalises img as r says (docs/model.md#preprocessing),
// returning the planar network input [3,H,W] and its size W, H.
func Prepare(img *imageio.RGB, r Resize) ([]float32, int, int) { return prepare(img, r) }

// prepare resizes and normalises img as the options say, returning the
// planar network input and its size.
func prepare(img *imageio.RGB, r Resize) ([]float32, int, int) {
	switch r.Mode {
	case ResizeShort:
		w, h := imageio.KeepRatioSize(img.W, img.H, r.Size, r.MaxLong)
		return imageio.NormalizeMMSeg(imageio.ResizeCV2Linear(img, w, h)), w, h
	case ResizeSquare:
		return imageio.PreprocessSquare(img, r.Size), r.Size, r.Size
	}
	return imageio.NormalizeMMSeg(img), img.W, img.H
}

// FitMaxSide scales img down (Pillow bicubic, antialiased) so that its long
// side is at most maxSide; it returns img itself when it already fits or
// maxSide is 0. Segment and Explain apply it first, so their results are at
// the scaled size; front ends draw outputs on the same scaled photo.
func FitMaxSide(img *imageio.RGB, maxSide int) *imageio.RGB {
	long := max(img.W, img.H)
	if maxSide <= 0 || long <= maxSide {
		return img
	}
	s := float64(maxSide) / float64(long)
	w, h := max(1, int(math.Round(float64(img.W)*s))), max(1, int(math.Round(float64(img.H)*s)))
	return imageio.ResizePIL(img, w, h, imageio.Bicubic)
}

// Segment labels every pixel of img with one of the vocabulary's classes.
// A cancelled ctx (a client gone, a deadline) stops the work between
// windows and between transformer blocks, with ctx's error.
func (e *Engine) Segment(ctx context.Context, img *imageio.RGB, vocab *prompts.Vocabulary, o Options) (*Result, error) {
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
	img = FitMaxSide(img, o.MaxSide)
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
	win := o.window()
	if c := win.Crop; c > w && c > h { // w, h ≥ one patch: 0 (whole) never is
		return nil, fmt.Errorf("crop %d is larger than the %dx%d network input; use the whole image or a smaller crop", c, w, h)
	}
	enc, err := e.features(ctx, o.Method, m)
	if err != nil {
		return nil, err
	}
	Q, E := len(queries), m.Config.EmbedDim
	lg, err := seg.Infer(seg.Job{Encode: enc, Input: x, H: h, W: w, Classifier: cls, Q: Q, E: E, Window: win, Patch: p, OutH: img.H, OutW: img.W})
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	C := vocab.Len()
	bg := vocab.Background
	res := &Result{Image: img, Width: img.W, Height: img.H, Classes: vocab.DisplayNames(), Background: bg,
		Queries: queries, ClassOf: classOf, InputWidth: w, InputHeight: h}
	partial := o.Partial
	scoring := partial
	if !scoring.Enabled {
		// Scores are reported either way; without the partial-label stage
		// the cheap CLS pooling gives them (no pass over the pixels).
		scoring = seg.PartialOptions{Pool: seg.PoolCLS}
	}
	pr := seg.PartialLabels(lg, classOf, C, o.LogitScale, bg, scoring)
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
	if bg {
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
func (e *Engine) Classifier(names []string, set prompts.TemplateSet) ([]float32, error) {
	tpl, err := set.List()
	if err != nil {
		return nil, err
	}
	return e.Cache.Get(e.Model, names, string(set), tpl)
}

// String describes the engine's model.
func (e *Engine) String() string {
	return fmt.Sprintf("%s (%s)", e.Model.Config.Name(), strings.TrimSpace(e.Model.Path))
}

// Features is the dense token features of img under opts.Method (freeseg
// features), the input prepared as opts.Resize says (its size is the
// budget's InputW×InputH). The budget (FeaturesBudget, returned also with
// an error) is checked against the engine's limits first; a proxy method
// loads the engine's VFM.
func (e *Engine) Features(ctx context.Context, img *imageio.RGB, opts Options) (*dense.Features, Budget, error) {
	x, w, h := Prepare(img, opts.Resize)
	m := opts.Method
	b := FeaturesBudget(e.Model, nil, m, h, w)
	if err := b.Check(e.limits(), e.Model.Vision.Patch); err != nil {
		return nil, b, err
	}
	var guide *dino.Model
	if m.Proxy {
		var err error
		if guide, err = e.LoadVFM(); err != nil {
			return nil, b, err
		}
	}
	f, err := m.FeaturesWith(ctx, e.Model, guide, x, 1, h, w)
	return f, b, err
}

// BuildClassifier computes the text classifier of names with templates
// ahead of the images, in batches (about 20), so that a long build (tens
// of seconds for a large vocabulary on a CPU) can show its progress: after
// each batch, once some name was not in the cache, progress (when set) is
// told how many names are done and the time so far. The engine's cache
// keeps the rows, so the segmentation that follows reads them back.
func (e *Engine) BuildClassifier(names []string, templates prompts.TemplateSet, progress func(done int, elapsed time.Duration)) error {
	n := len(names)
	batch := max(8, (n+19)/20)
	start := time.Now()
	_, misses0, _ := e.Cache.Stats()
	for i := 0; i < n; i += batch {
		j := min(i+batch, n)
		if _, err := e.Classifier(names[i:j], templates); err != nil {
			return err
		}
		if _, misses, _ := e.Cache.Stats(); misses != misses0 && progress != nil {
			progress(j, time.Since(start))
		}
	}
	return nil
}
