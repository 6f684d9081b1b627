package freeseg

import (
	"context"
	"fmt"
	"strings"

	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Explanation holds one heat map per text at the image's size.
type Explanation struct {
	Width, Height int
	Texts         []string
	Maps          []float32 // [K,H,W], each map min-max normalised to [0,1]
	// Similarity is the raw patch cosine before feature surgery and
	// normalisation, [K, GH·GW], for callers that rank classes.
	Similarity []float32
	GH, GW     int
	// Image is the photo the maps are aligned with (scaled down when
	// Options.MaxSide asked for it).
	Image *imageio.RGB
}

// Explain computes CLIP Surgery image-text similarity maps: the image
// scaled to o.MaxSide, a square resize of side o.Resize.Size (o.Resize.Mode
// must be ResizeSquare), dense features, feature surgery
// (docs/method.md#feature-surgery; auto picks multi for two or more texts,
// redundant for one), per-text min-max normalisation and bilinear
// upsampling to the image (docs/method.md#similarity-maps).
// A cancelled ctx stops the work between transformer blocks.
func (e *Engine) Explain(ctx context.Context, img *imageio.RGB, texts []string, o Options) (*Explanation, error) {
	if len(texts) == 0 {
		return nil, fmt.Errorf("no texts given")
	}
	if err := e.Validate(o); err != nil {
		return nil, err
	}
	if img == nil || img.W == 0 || img.H == 0 {
		return nil, fmt.Errorf("empty image")
	}
	if o.Resize.Mode != ResizeSquare {
		return nil, fmt.Errorf("explanations take a square input (resize mode square), not %v", o.Resize.Mode)
	}
	size := o.Resize.Size
	if size < e.Model.Vision.Patch {
		return nil, fmt.Errorf("input size %d is smaller than one %d-pixel patch", size, e.Model.Vision.Patch)
	}
	mode := o.FeatureSurgery.For(len(texts))
	if mode == SurgeryMulti && len(texts) < 2 {
		return nil, fmt.Errorf("feature surgery multi needs two or more texts (got %d); use redundant or auto for one", len(texts))
	}
	img = FitMaxSide(img, o.MaxSide)
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
	x := imageio.PreprocessSquare(img, size)
	enc, err := e.features(ctx, o.Method, e.Model)
	if err != nil {
		return nil, err
	}
	f, err := enc(x, 1, size, size)
	if err != nil {
		return nil, err
	}
	K, E, N := len(texts), f.E, f.Tokens()
	cos := seg.Cosine(f.Image(0), N, E, G, K)
	var s []float32
	switch mode {
	case SurgeryMulti:
		s = seg.FeatureSurgeryMulti(cos, N, K)
	case SurgeryRedundant:
		r, err := e.Classifier([]string{""}, o.Templates)
		if err != nil {
			return nil, err
		}
		s = seg.FeatureSurgeryRedundant(f.Image(0), N, E, G, K, r)
	default:
		s = cos
	}
	return &Explanation{
		Image: img, Width: img.W, Height: img.H, Texts: texts,
		Maps:       seg.SimilarityMap(s[K:], f.GH, f.GW, K, img.H, img.W),
		Similarity: seg.Transpose(cos[K:], f.GH*f.GW, K),
		GH:         f.GH, GW: f.GW,
	}, nil
}

// ParseTexts reads the texts of freeseg explain's --text flags: each may
// list several, separated by commas or ';'. Blank ones are left out; a
// text given twice is a usage error.
func ParseTexts(list []string) ([]string, error) {
	var texts []string
	seen := map[string]bool{}
	for _, t := range list {
		if strings.TrimSpace(t) == "" {
			continue
		}
		v, err := prompts.ParseClassList(strings.ReplaceAll(t, ";", ","))
		if err != nil {
			return nil, fmt.Errorf("--text: %w", err)
		}
		for _, n := range v.ClassNames() {
			if seen[n] {
				return nil, Usagef("--text: %q is given twice", n)
			}
			seen[n] = true
			texts = append(texts, n)
		}
	}
	return texts, nil
}
