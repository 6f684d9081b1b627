package freeseg

import (
	"fmt"
	"strings"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Params are the pipeline settings as flat named values, the way the
// command line (freeseg segment's flags) and the HTTP service (the form
// fields of POST /v1/segment) take them. ParamsOf gives the values that
// reproduce an Options; Params.Options turns them back.
type Params struct {
	Method    string // dense method name (dense.Names)
	Templates string // template set name
	ShortSide int    // resize the short side to this (0 with Square 0: no resizing)
	Square    int    // > 0: resize to Square×Square instead
	Crop      int    // sliding-window crop
	Stride    int    // sliding-window stride
	Whole     bool   // infer on the whole image (Crop and Stride ignored)

	LogitScale, ProbThd, AreaThd float64
	PAMR                         int // PAMR steps, 0 = off

	// Partial is "off" (or "") or a pooling name (seg.ParsePool):
	// smoothmin, max, mean, lse, cls.
	Partial                          string
	PartialThd, PartialTau, PartialQ float64
	PartialTopK                      int

	// ProxyBeta and ProxyGamma are the proxy attention's β and γ (used by
	// proxy methods only; both 0 means the method's defaults, 1.2 and 3.0).
	ProxyBeta, ProxyGamma float64
}

// ParamsOf returns the values that describe o. The partial-label numbers
// are o's when its partial labels are on, else seg.DefaultPartial's (with
// no top-k limit).
func ParamsOf(o Options) Params {
	p := Params{
		Method: o.Method.Name, Templates: o.Templates,
		Crop: o.Window.Crop, Stride: o.Window.Stride, Whole: o.Window.Crop == 0,
		LogitScale: o.LogitScale, ProbThd: o.ProbThd, AreaThd: o.AreaThd, PAMR: o.PAMRSteps,
		Partial:    "off",
		PartialThd: seg.DefaultPartial.Thd, PartialTau: seg.DefaultPartial.Tau, PartialQ: seg.DefaultPartial.TopQ,
		ProxyBeta: dense.ProxyCLIP.Beta, ProxyGamma: dense.ProxyCLIP.Gamma,
	}
	if o.Method.Proxy {
		p.ProxyBeta, p.ProxyGamma = o.Method.Beta, o.Method.Gamma
	}
	switch o.Resize.Mode {
	case "short":
		p.ShortSide = o.Resize.Size
	case "square":
		p.Square = o.Resize.Size
	}
	if o.Partial.Enabled {
		p.Partial = o.Partial.Pool.String()
		p.PartialThd, p.PartialTau, p.PartialQ, p.PartialTopK = o.Partial.Thd, o.Partial.Tau, o.Partial.TopQ, o.Partial.TopK
	}
	return p
}

// Options applies the values on top of base (whose other fields, such as
// Background, Resize.MaxLong and PAMRDilations, are kept). It checks what
// it parses (method and pooling names, a positive crop and stride unless
// Whole); Options.Validate checks the rest.
func (p Params) Options(base Options) (Options, error) {
	o := base
	m, err := dense.ByName(p.Method)
	if err != nil {
		return o, err
	}
	if m.Proxy && (p.ProxyBeta != 0 || p.ProxyGamma != 0) {
		m.Beta, m.Gamma = p.ProxyBeta, p.ProxyGamma
	}
	o.Method = m
	o.Templates = p.Templates
	o.Resize.Mode, o.Resize.Size = "short", p.ShortSide
	if o.Resize.MaxLong == 0 {
		o.Resize.MaxLong = imageio.MMSegMaxLong
	}
	if p.Square > 0 {
		o.Resize.Mode, o.Resize.Size = "square", p.Square
	}
	if p.ShortSide == 0 && p.Square == 0 {
		o.Resize.Mode = "none"
	}
	o.Window.Crop, o.Window.Stride = p.Crop, p.Stride
	if p.Whole {
		o.Window.Crop, o.Window.Stride = 0, 0
	} else if p.Crop <= 0 {
		return o, fmt.Errorf("crop %d must be positive (or infer on the whole image)", p.Crop)
	} else if p.Stride <= 0 {
		return o, fmt.Errorf("stride %d must be positive", p.Stride)
	}
	o.LogitScale, o.ProbThd, o.AreaThd, o.PAMRSteps = p.LogitScale, p.ProbThd, p.AreaThd, p.PAMR
	if len(o.PAMRDilations) == 0 {
		o.PAMRDilations = []int{8, 16}
	}
	if strings.EqualFold(strings.TrimSpace(p.Partial), "off") || strings.TrimSpace(p.Partial) == "" {
		o.Partial.Enabled = false
	} else {
		pool, err := seg.ParsePool(strings.TrimSpace(p.Partial))
		if err != nil {
			return o, err
		}
		o.Partial = seg.PartialOptions{Enabled: true, Pool: pool, Tau: p.PartialTau, TopQ: p.PartialQ, Thd: p.PartialThd, TopK: p.PartialTopK}
	}
	return o, nil
}

// Summary describes the options as the "settings" object of freeseg's JSON
// reports (freeseg segment's NAME.json, the service's responses).
func (o Options) Summary() map[string]any {
	s := map[string]any{
		"method":      o.Method.Name,
		"templates":   o.Templates,
		"resize":      o.Resize,
		"background":  o.Background,
		"logit_scale": o.LogitScale,
		"prob_thd":    o.ProbThd,
		"area_thd":    o.AreaThd,
		"pamr_steps":  o.PAMRSteps,
	}
	if o.Window.Crop > 0 {
		s["window"] = map[string]int{"crop": o.Window.Crop, "stride": o.Window.Stride}
	} else {
		s["window"] = "whole"
	}
	if o.Method.Proxy {
		s["proxy"] = map[string]float64{"beta": o.Method.Beta, "gamma": o.Method.Gamma}
	}
	if o.Partial.Enabled {
		s["partial_labels"] = map[string]any{"pool": o.Partial.Pool.String(), "tau": o.Partial.Tau, "top_q": o.Partial.TopQ, "thd": o.Partial.Thd, "top_k": o.Partial.TopK}
	} else {
		s["partial_labels"] = "off"
	}
	return s
}

// WithBackground applies the background rule of freeseg segment to the
// classes v. background is
//
//   - "none": no background class; v is returned as it is;
//   - "first" (or "file"): class 0 of v is the background (v needs two or
//     more classes);
//   - "" or "default": a new class 0 made of the 26 "stuff" names of
//     SCLIP's VOC setting (sky, wall, tree, ...);
//   - any other text: a new class 0 made of those names ("sky, wall,
//     floor"; ',' or ';' separate them).
//
// A background name that is also one of v's names is left out of the
// background (with a note saying so); if none is left that is an error.
// It returns the vocabulary to segment with, whether its class 0 is the
// background, and the notes.
func WithBackground(v *prompts.Vocabulary, background string) (*prompts.Vocabulary, bool, []string, error) {
	if v == nil || v.Len() == 0 {
		return nil, false, nil, fmt.Errorf("no classes")
	}
	b := strings.TrimSpace(background)
	switch strings.ToLower(b) {
	case "none":
		return v, false, nil, nil
	case "first", "file":
		if v.Len() < 2 {
			return nil, false, nil, fmt.Errorf("background %q needs a background class and at least one other class", b)
		}
		return v, true, nil, nil
	}
	var bg []string
	if b == "" || strings.EqualFold(b, "default") {
		voc, err := prompts.Dataset("voc21")
		if err != nil {
			return nil, false, nil, err
		}
		bg = voc.Names[0]
	} else {
		bv, err := prompts.ParseClassList(strings.ReplaceAll(b, ";", ","))
		if err != nil {
			return nil, false, nil, fmt.Errorf("background: %w", err)
		}
		for _, n := range bv.Names {
			bg = append(bg, n...)
		}
	}
	// A name asked for as a class must not also be background.
	used := map[string]bool{}
	for _, syn := range v.Names {
		for _, n := range syn {
			used[strings.ToLower(n)] = true
		}
	}
	var kept, notes []string
	for _, n := range bg {
		if used[strings.ToLower(n)] {
			notes = append(notes, fmt.Sprintf("%q is one of your classes, so it is not used as background", n))
			continue
		}
		kept = append(kept, n)
	}
	if len(kept) == 0 {
		return nil, false, nil, fmt.Errorf("every background name is also a class; use background none")
	}
	return &prompts.Vocabulary{Names: append([][]string{kept}, v.Names...)}, true, notes, nil
}
