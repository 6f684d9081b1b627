package freeseg

import (
	"fmt"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/seg"
)

// ExplainOptions configure similarity heat maps (CLIP Surgery's demo).
type ExplainOptions struct {
	Method    dense.Method
	Templates string // surgery85 in the demo
	Size      int    // square input side (224 in the demo; 512 for more detail)
	// FeatureSurgery is "multi" (weight classes by the CLS prediction and
	// remove the features shared by all texts; needs two or more texts),
	// "redundant" (subtract the ensemble of the empty name; works for one
	// text) or "off" (plain cosine).
	FeatureSurgery string
}

// DefaultExplainOptions follow CLIP Surgery's demo.py.
func DefaultExplainOptions() ExplainOptions {
	return ExplainOptions{Method: dense.Surgery, Templates: "surgery85", Size: 224, FeatureSurgery: "multi"}
}

// Explanation holds one heat map per text at the image's size.
type Explanation struct {
	Width, Height int
	Texts         []string
	Maps          []float32 // [K,H,W], each map min-max normalised to [0,1]
	// Similarity is the raw patch cosine before feature surgery and
	// normalisation, [K, GH·GW], for callers that rank classes.
	Similarity []float32
	GH, GW     int
}

// Explain computes CLIP Surgery image-text similarity maps: square
// resize, dense features, optional feature surgery (SPEC 6.2), per-text
// min-max normalisation and bilinear upsampling to the image (SPEC 6.1).
func (e *Engine) Explain(img *imageio.RGB, texts []string, o ExplainOptions) (*Explanation, error) {
	if len(texts) == 0 {
		return nil, fmt.Errorf("no texts given")
	}
	if err := o.Method.Validate(len(e.Model.Vision.Blocks)); err != nil {
		return nil, err
	}
	if o.Size < e.Model.Vision.Patch {
		return nil, fmt.Errorf("input size %d is smaller than one %d-pixel patch", o.Size, e.Model.Vision.Patch)
	}
	mode := o.FeatureSurgery
	if mode == "" {
		mode = "multi"
	}
	switch mode {
	case "multi":
		if len(texts) < 2 {
			return nil, fmt.Errorf("feature surgery \"multi\" needs two or more texts (got %d); use \"redundant\" for one", len(texts))
		}
	case "redundant", "off":
	default:
		return nil, fmt.Errorf("unknown feature surgery %q (want multi, redundant or off)", mode)
	}
	if img == nil || img.W == 0 || img.H == 0 {
		return nil, fmt.Errorf("empty image")
	}
	b, err := e.ExplainBudget(img.W, img.H, len(texts), o)
	if err != nil {
		return nil, err
	}
	if err := b.Check(e.limits(), e.Model.Vision.Patch); err != nil {
		return nil, err
	}
	G, err := e.Classifier(texts, o.Templates)
	if err != nil {
		return nil, err
	}
	x := imageio.PreprocessSquare(img, o.Size)
	enc, err := e.features(o.Method, e.Model)
	if err != nil {
		return nil, err
	}
	f, err := enc(x, 1, o.Size, o.Size)
	if err != nil {
		return nil, err
	}
	K, E, N := len(texts), f.E, f.Tokens()
	cos := seg.Cosine(f.Image(0), N, E, G, K)
	var s []float32
	switch mode {
	case "multi":
		s = seg.FeatureSurgeryMulti(cos, N, K)
	case "redundant":
		r, err := e.Classifier([]string{""}, o.Templates)
		if err != nil {
			return nil, err
		}
		s = seg.FeatureSurgeryRedundant(f.Image(0), N, E, G, K, r)
	default:
		s = cos
	}
	return &Explanation{
		Width: img.W, Height: img.H, Texts: texts,
		Maps:       seg.SimilarityMap(s[K:], f.GH, f.GW, K, img.H, img.W),
		Similarity: seg.Transpose(cos[K:], f.GH*f.GW, K),
		GH:         f.GH, GW: f.GW,
	}, nil
}
