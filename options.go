package freeseg

import (
	"fmt"
	"math"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Resize is how the image is sized before inference.
type Resize struct {
	Mode    ResizeMode `json:"mode"`
	Size    int        `json:"size"`     // the short side (ResizeShort) or the side (ResizeSquare)
	MaxLong int        `json:"max_long"` // ResizeShort: the long side at most this (2048 in the protocols)
}

// Options configure one segmentation or explanation. The zero value is not
// useful; start from DefaultOptions, DefaultExplainOptions or
// ProtocolOptions. Each field that a user sets is a row of Settings.
type Options struct {
	Method    dense.Method
	Templates prompts.TemplateSet // openai80, surgery85 or single
	Resize    Resize
	// MaxSide scales an image whose long side is larger down to it before
	// anything else (results are at the scaled size); 0 = off.
	MaxSide int
	// Window is the sliding window; Whole infers on the whole image
	// instead (Window's crop and stride are then unused).
	Window     seg.Window
	Whole      bool
	LogitScale float64
	// ProbThd gives the pixels whose best probability is below it to the
	// background class; it applies only when the vocabulary has one
	// (prompts.Vocabulary.Background, made by WithBackground).
	ProbThd       float64
	AreaThd       float64 // 0 = off
	PAMRSteps     int     // 0 = off
	PAMRDilations []int
	Partial       seg.PartialOptions
	// FeatureSurgery is the explanation's feature surgery (Explain only).
	FeatureSurgery FeatureSurgery
	// Precision of the encoders' matrix products (clip.FP32, clip.BF16);
	// the zero value runs the model as loaded (see docs/speed.md).
	Precision clip.Precision
}

// DefaultOptions is freeseg's recommended setting for segmentation: NACLIP
// features (its published segmentation results are above CLIP Surgery's on
// every benchmark both report; docs/numbers.md) on the SCLIP sliding-window
// protocol (short side 336, crop 224, stride 112), the 80 ImageNet
// templates, and the FreeSeg strategies on: partial labels with
// smoothed-min pooling and the pixel stage with PAMR. Whether class 0 is a
// background class is the vocabulary's (WithBackground).
func DefaultOptions() Options {
	return Options{
		Method:        dense.NACLIP,
		Templates:     "openai80",
		Resize:        Resize{Mode: ResizeShort, Size: 336, MaxLong: imageio.MMSegMaxLong},
		Window:        seg.Window{Crop: 224, Stride: 112},
		LogitScale:    40,
		ProbThd:       0.1,
		PAMRSteps:     10,
		PAMRDilations: []int{8, 16},
		Partial:       seg.DefaultPartial,
	}
}

// DefaultExplainOptions follow CLIP Surgery's demo.py: surgery features of
// a 224×224 square input, the 85 templates, feature surgery chosen by the
// number of texts.
func DefaultExplainOptions() Options {
	o := DefaultOptions()
	o.Method = dense.Surgery
	o.Templates = "surgery85"
	o.Resize = Resize{Mode: ResizeSquare, Size: 224}
	o.FeatureSurgery = SurgeryAuto
	return o
}

// ProtocolOptions are the settings of a published evaluation protocol with
// the FreeSeg strategies off, so the pipeline equals the reference method.
func ProtocolOptions(p prompts.Protocol) (Options, error) {
	m, err := dense.ByName(p.Method)
	if err != nil {
		return Options{}, err
	}
	o := DefaultOptions()
	o.Method = m
	o.Templates = p.Templates
	o.Resize = Resize{Mode: ResizeShort, Size: p.Short, MaxLong: p.MaxLong}
	if o.Resize.MaxLong == 0 {
		o.Resize.MaxLong = imageio.MMSegMaxLong
	}
	o.Whole = p.Crop == 0
	if !o.Whole {
		o.Window.Crop, o.Window.Stride = p.Crop, p.Stride
	}
	o.LogitScale, o.ProbThd, o.AreaThd, o.PAMRSteps = p.LogitScale, p.ProbThd, p.AreaThd, p.PAMRSteps
	o.Partial.Enabled = false
	return o, nil
}

// window is the inference unit the options ask for, with the method's
// window padding (ClearCLIP pads to the patch size, ProxyCLIP's sliding
// windows to a multiple of 56).
func (o Options) window() seg.Window {
	w := o.Window
	if o.Method.PadWindowsToPatch {
		w.PadToPatch = true
	}
	if o.Whole {
		return seg.Window{PadToPatch: w.PadToPatch, PadMultiple: w.PadMultiple, Batch: w.Batch}
	}
	if o.Method.Pad > 0 {
		w.PadToPatch, w.PadMultiple = true, o.Method.Pad
	}
	return w
}

// MaxLogitScale bounds Options.LogitScale: CLIP clamps its learned scale
// at 100 and the published protocols use 40 to 100, so a larger value is a
// mistake (and at float32 precision makes the softmax a hard maximum).
const MaxLogitScale = 1000

// MaxPAMRSteps bounds Options.PAMRSteps (NACLIP uses 10).
const MaxPAMRSteps = 1000

// Validate checks the options before any work is done; layers is the depth
// of the model's vision transformer (Engine.Validate supplies it).
func (o Options) Validate(layers int) error {
	if err := o.Method.Validate(layers); err != nil {
		return err
	}
	if _, err := o.Templates.List(); err != nil {
		return err
	}
	switch o.Resize.Mode {
	case ResizeShort, ResizeSquare:
		if o.Resize.Size <= 0 {
			return fmt.Errorf("resize size %d must be positive", o.Resize.Size)
		}
	case ResizeNone:
	default:
		return fmt.Errorf("unknown resize mode %v", o.Resize.Mode)
	}
	if o.Resize.Mode == ResizeShort && o.Resize.MaxLong < 0 {
		return fmt.Errorf("resize long-side bound %d must not be negative", o.Resize.MaxLong)
	}
	if o.MaxSide < 0 {
		return fmt.Errorf("max_side %d must not be negative", o.MaxSide)
	}
	if err := o.window().Validate(); err != nil {
		return err
	}
	for _, x := range []struct {
		name string
		v    float64
	}{{"logit scale", o.LogitScale}, {"probability threshold", o.ProbThd}, {"area threshold", o.AreaThd},
		{"partial-label threshold", o.Partial.Thd}, {"partial-label tau", o.Partial.Tau}, {"partial-label top-q", o.Partial.TopQ}} {
		if math.IsNaN(x.v) || math.IsInf(x.v, 0) {
			return fmt.Errorf("%s %g is not a finite number", x.name, x.v)
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
	if o.FeatureSurgery < SurgeryAuto || o.FeatureSurgery > SurgeryOff {
		return fmt.Errorf("unknown feature surgery %v", o.FeatureSurgery)
	}
	return o.Partial.Validate()
}

// Validate checks o against the engine's model (its depth bounds the dense
// methods), before any work is done.
func (e *Engine) Validate(o Options) error { return o.Validate(len(e.Model.Vision.Blocks)) }
