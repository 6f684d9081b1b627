package freeseg

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Every pipeline setting is defined once, in Settings: its name, help,
// type, range and where it is stored in Options. The front ends bind the
// table instead of spelling settings themselves: the command line makes a
// flag of each row (the name with '-' for '_'), the service accepts each
// as a form field and describes the table at GET /v1/params (the page
// renders its controls from that), eval's protocol overrides are rows
// given on top of a preset, and reports list the values through Report.
// Adding a setting is a row here, a field of Options and the code that
// uses it.

// Kind is the type of a setting's value.
type Kind string

const (
	KindInt    Kind = "int"
	KindFloat  Kind = "float"
	KindBool   Kind = "bool"
	KindChoice Kind = "choice" // one of Choices
	KindText   Kind = "text"
)

// Use says which operations a setting applies to.
type Use uint8

const (
	ForSegment  Use = 1 << iota // segmenting photos: freeseg segment, the service's /v1/segment
	ForEval                     // freeseg eval's protocol overrides (predictions at the label's resolution)
	ForExplain                  // heat maps: freeseg explain, /v1/explain
	ForFeatures                 // dense features of one network input: freeseg features

	ForPipeline = ForSegment | ForEval // every segmentation setting but those eval cannot take
	ForAll      = ForPipeline | ForExplain
)

// Setting is one row of the table.
type Setting struct {
	Name string // snake_case: the form field and report key; the flag is Name with '-' for '_'
	Help string
	Kind Kind
	Use  Use
	// Min and Max bound numbers (inclusive unless the Open flag is set);
	// NaN leaves that side unbounded.
	Min, Max         float64
	MinOpen, MaxOpen bool
	// Choices lists the values of a KindChoice setting.
	Choices func() []string

	get func(o *Options) any
	set func(o *Options, v any) error
}

// Flag is the command-line flag name of the setting.
func (s *Setting) Flag() string { return strings.ReplaceAll(s.Name, "_", "-") }

// Get returns the setting's value in o (int, float64, bool or string).
func (s *Setting) Get(o *Options) any { return s.get(o) }

// Text is Get formatted as the command line and the form take it.
func (s *Setting) Text(o *Options) string { return formatValue(s.get(o)) }

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// Set parses text, checks its type and range, and stores it in o. The
// error names the setting and the value.
func (s *Setting) Set(o *Options, text string) error {
	v, err := s.Parse(text)
	if err != nil {
		return err
	}
	return s.set(o, v)
}

// Parse checks text against the setting's type and range.
func (s *Setting) Parse(text string) (any, error) {
	t := strings.TrimSpace(text)
	switch s.Kind {
	case KindInt:
		n, err := strconv.Atoi(t)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an integer", s.Name, text)
		}
		return n, s.inRange(float64(n), t)
	case KindFloat:
		x, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s: %q is not a finite number", s.Name, text)
		}
		return x, s.inRange(x, t)
	case KindBool:
		b, ok := ParseBool(t)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a boolean (true/false, 1/0, on/off, yes/no)", s.Name, text)
		}
		return b, nil
	case KindChoice:
		for _, c := range s.Choices() {
			if strings.EqualFold(c, t) {
				return c, nil
			}
		}
		return nil, fmt.Errorf("%s: %q is not one of %s", s.Name, text, strings.Join(s.Choices(), ", "))
	}
	return t, nil
}

func (s *Setting) inRange(x float64, text string) error {
	lo := !math.IsNaN(s.Min) && (x < s.Min || s.MinOpen && x == s.Min)
	hi := !math.IsNaN(s.Max) && (x > s.Max || s.MaxOpen && x == s.Max)
	if lo || hi {
		return fmt.Errorf("%s: %s is outside %s", s.Name, text, s.RangeText())
	}
	return nil
}

// RangeText describes the allowed range, e.g. "[0, 1]" or "(0, ∞)".
func (s *Setting) RangeText() string {
	if s.Kind != KindInt && s.Kind != KindFloat {
		return ""
	}
	l, r := "[", "]"
	if s.MinOpen {
		l = "("
	}
	if s.MaxOpen {
		r = ")"
	}
	lo, hi := "-∞", "∞"
	if !math.IsNaN(s.Min) {
		lo = formatValue(s.Min)
	} else {
		l = "("
	}
	if !math.IsNaN(s.Max) {
		hi = formatValue(s.Max)
	} else {
		r = ")"
	}
	return l + lo + ", " + hi + r
}

// ParseBool reads the boolean spellings every front end accepts.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "t", "y":
		return true, true
	case "0", "false", "no", "off", "f", "n":
		return false, true
	}
	return false, false
}

var none = math.NaN()

// MaxSide is the largest image side, network input side, crop or stride a
// setting may ask for (the service and the budget may set lower limits).
const MaxSide = 8192

func intSetting(name, help string, use Use, lo, hi float64, field func(*Options) *int) Setting {
	return Setting{Name: name, Help: help, Kind: KindInt, Use: use, Min: lo, Max: hi,
		get: func(o *Options) any { return *field(o) },
		set: func(o *Options, v any) error { *field(o) = v.(int); return nil }}
}

func floatSetting(name, help string, use Use, lo, hi float64, minOpen, maxOpen bool, field func(*Options) *float64) Setting {
	return Setting{Name: name, Help: help, Kind: KindFloat, Use: use, Min: lo, Max: hi, MinOpen: minOpen, MaxOpen: maxOpen,
		get: func(o *Options) any { return *field(o) },
		set: func(o *Options, v any) error { *field(o) = v.(float64); return nil }}
}

func partialNames() []string {
	return append([]string{"off"}, seg.PoolNames()...)
}

// Settings is the table. Values are applied in this order (see Apply), so
// that the settings that depend on others come after them.
var Settings = []Setting{
	{Name: "method", Kind: KindChoice, Use: ForAll | ForFeatures, Choices: dense.Names, Min: none, Max: none,
		Help: "dense method: how the last blocks of CLIP's vision transformer compute patch features (docs/method.md#dense-methods)",
		get:  func(o *Options) any { return o.Method.Name },
		set: func(o *Options, v any) error {
			m, err := dense.ByName(v.(string))
			o.Method = m
			return err
		}},
	{Name: "templates", Kind: KindChoice, Use: ForAll, Choices: prompts.TemplateSetNames, Min: none, Max: none,
		Help: "prompt templates of the text classifier: openai80, surgery85 or single",
		get:  func(o *Options) any { return o.Templates.String() },
		set:  func(o *Options, v any) error { o.Templates = prompts.TemplateSet(v.(string)); return nil }},
	{Name: "short_side", Kind: KindInt, Use: ForPipeline | ForFeatures, Min: 0, Max: MaxSide,
		Help: "resize the short side to this many pixels, keeping the ratio (long side at most 2048; cv2 bilinear as the benchmark protocols); 0 = no resizing",
		get: func(o *Options) any {
			if o.Resize.Mode == ResizeShort {
				return o.Resize.Size
			}
			return 0
		},
		set: func(o *Options, v any) error {
			n := v.(int)
			switch {
			case o.Resize.Mode == ResizeSquare: // square, applied after, wins
			case n == 0:
				o.Resize.Mode = ResizeNone
			default:
				o.Resize.Mode, o.Resize.Size = ResizeShort, n
			}
			return nil
		}},
	{Name: "square", Kind: KindInt, Use: ForAll | ForFeatures, Min: 0, Max: MaxSide,
		Help: "resize to S×S instead, without keeping the ratio (Pillow bicubic, as CLIP Surgery's demo); overrides short_side; 0 = off",
		get: func(o *Options) any {
			if o.Resize.Mode == ResizeSquare {
				return o.Resize.Size
			}
			return 0
		},
		set: func(o *Options, v any) error {
			if n := v.(int); n > 0 {
				o.Resize.Mode, o.Resize.Size = ResizeSquare, n
			}
			return nil
		}},
	{Name: "max_long", Kind: KindInt, Use: ForPipeline | ForFeatures, Min: 0, Max: MaxSide,
		Help: "with short_side: the most pixels the long side may have after resizing (0 = 2048, the benchmark protocols'); raise it for panoramas, whose short side the cap shrinks",
		get:  func(o *Options) any { return o.Resize.MaxLong },
		set: func(o *Options, v any) error {
			o.Resize.MaxLong = v.(int)
			if o.Resize.MaxLong == 0 {
				o.Resize.MaxLong = imageio.MMSegMaxLong
			}
			return nil
		}},
	intSetting("max_side", "scale images whose long side is larger down to this many pixels first (outputs are at the scaled size); 0 = off",
		ForSegment|ForExplain, 0, MaxSide, func(o *Options) *int { return &o.MaxSide }),
	intSetting("crop", "sliding-window crop size in pixels (of the resized image)", ForPipeline, 1, MaxSide, func(o *Options) *int { return &o.Window.Crop }),
	intSetting("stride", "sliding-window stride in pixels", ForPipeline, 1, MaxSide, func(o *Options) *int { return &o.Window.Stride }),
	{Name: "whole", Kind: KindBool, Use: ForPipeline, Min: none, Max: none,
		Help: "infer on the whole image at once instead of sliding windows (giving crop or stride without whole turns it off)",
		get:  func(o *Options) any { return o.Whole },
		set:  func(o *Options, v any) error { o.Whole = v.(bool); return nil }},
	floatSetting("logit_scale", "scale of the cosine logits before the softmax over classes", ForPipeline, 0, 1000, true, false,
		func(o *Options) *float64 { return &o.LogitScale }),
	floatSetting("prob_thd", "pixels whose best class probability is below this become background (class 0; only with a background class)",
		ForPipeline, 0, 1, false, false, func(o *Options) *float64 { return &o.ProbThd }),
	floatSetting("area_thd", "drop foreground classes covering at most this share of the foreground (0 = off; SCLIP's VOC setting uses 0.1)",
		ForPipeline, 0, 1, false, true, func(o *Options) *float64 { return &o.AreaThd }),
	intSetting("pamr", "PAMR refinement steps on the image, dilations 8 and 16 (0 = off)", ForPipeline, 0, 100, func(o *Options) *int { return &o.PAMRSteps }),
	{Name: "partial_labels", Kind: KindChoice, Use: ForPipeline, Choices: partialNames, Min: none, Max: none,
		Help: "FreeSeg partial labels: keep only the classes present at image level, scored by pooling each class's logits (smoothmin, max, mean, lse, cls), or off",
		get: func(o *Options) any {
			if !o.Partial.Enabled {
				return "off"
			}
			return o.Partial.Pool.String()
		},
		set: func(o *Options, v any) error {
			if v.(string) == "off" {
				o.Partial.Enabled = false
				return nil
			}
			p, err := seg.ParsePool(v.(string))
			o.Partial.Enabled, o.Partial.Pool = err == nil, p
			return err
		}},
	floatSetting("partial_thd", "partial labels: remove classes whose image score (softmax over classes) is below this", ForPipeline, 0, 1, false, false,
		func(o *Options) *float64 { return &o.Partial.Thd }),
	intSetting("partial_topk", "partial labels: keep at most this many foreground classes (0 = no limit)", ForPipeline, 0, 100000,
		func(o *Options) *int { return &o.Partial.TopK }),
	floatSetting("partial_tau", "partial labels: temperature of smoothmin and lse pooling, in scaled-logit units", ForPipeline, 0, 1000, true, false,
		func(o *Options) *float64 { return &o.Partial.Tau }),
	floatSetting("partial_topq", "partial labels: share of each class's best pixels that smoothmin pooling covers", ForPipeline, 0, 1, true, false,
		func(o *Options) *float64 { return &o.Partial.TopQ }),
	{Name: "proxy_beta", Kind: KindFloat, Use: ForAll | ForFeatures, Min: 0, Max: 100,
		Help: "proxyclip: β, the share of the mean similarity subtracted from the VFM's patch similarities (docs/vfm.md)",
		get:  func(o *Options) any { return o.Method.Beta },
		set:  func(o *Options, v any) error { o.Method.Beta = v.(float64); return nil }},
	{Name: "proxy_gamma", Kind: KindFloat, Use: ForAll | ForFeatures, Min: 0, Max: 1000, MinOpen: true,
		Help: "proxyclip: γ, the sharpness the shifted similarities are multiplied by before the softmax",
		get:  func(o *Options) any { return o.Method.Gamma },
		set:  func(o *Options, v any) error { o.Method.Gamma = v.(float64); return nil }},
	{Name: "precision", Kind: KindChoice, Use: ForAll | ForFeatures, Min: none, Max: none,
		Choices: func() []string { return []string{"default", "fp32", "bf16"} },
		Help:    "precision of the encoders' matrix products: fp32 (the parity reference), bf16 (about twice as fast where the CPU has a bf16 dot product; docs/speed.md), or default (as the model was loaded)",
		get:     func(o *Options) any { return o.Precision.String() },
		set: func(o *Options, v any) error {
			if v.(string) == "default" {
				o.Precision = clip.PrecisionDefault
				return nil
			}
			p, err := clip.ParsePrecision(v.(string))
			o.Precision = p
			return err
		}},
	{Name: "feature_surgery", Kind: KindChoice, Use: ForExplain, Min: none, Max: none,
		Choices: func() []string { return []string{"auto", "multi", "redundant", "off"} },
		Help:    "explain: remove what all texts share (multi, two or more texts), subtract the empty-name ensemble (redundant), auto (multi, or redundant for one text) or off (docs/method.md#feature-surgery)",
		get:     func(o *Options) any { return o.FeatureSurgery.String() },
		set: func(o *Options, v any) error {
			f, err := ParseFeatureSurgery(v.(string))
			o.FeatureSurgery = f
			return err
		}},
}

// SettingByName returns the row named name (snake_case or the flag's
// kebab-case).
func SettingByName(name string) (*Setting, bool) {
	n := strings.ReplaceAll(strings.TrimSpace(name), "-", "_")
	for i := range Settings {
		if Settings[i].Name == n {
			return &Settings[i], true
		}
	}
	return nil, false
}

// SettingNames lists the names of the settings of use u, in table order.
func SettingNames(u Use) []string {
	var out []string
	for _, s := range Settings {
		if s.Use&u != 0 {
			out = append(out, s.Name)
		}
	}
	return out
}

// Apply sets the given values (by setting name) on top of o, in table
// order whatever the order of the map, then applies the one rule that
// couples settings: a crop or stride given without whole turns the whole
// image mode off (so `--crop 336` works on a whole-image preset). Unknown
// names and settings that do not apply to u are errors.
func Apply(o *Options, values map[string]string, u Use) error {
	for name := range values {
		s, ok := SettingByName(name)
		if !ok {
			known := SettingNames(u)
			sort.Strings(known)
			return fmt.Errorf("unknown setting %q (known: %s)", name, strings.Join(known, ", "))
		}
		if s.Use&u == 0 {
			return fmt.Errorf("setting %s does not apply here", s.Name)
		}
	}
	given := func(n string) (string, bool) {
		if v, ok := values[n]; ok {
			return v, true
		}
		v, ok := values[strings.ReplaceAll(n, "_", "-")]
		return v, ok
	}
	for i := range Settings {
		s := &Settings[i]
		if v, ok := given(s.Name); ok {
			if err := s.Set(o, v); err != nil {
				return err
			}
		}
	}
	_, crop := given("crop")
	_, stride := given("stride")
	if _, whole := given("whole"); (crop || stride) && !whole {
		o.Whole = false
	}
	return nil
}

// Value is one setting's value, as reports list them.
type Value struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Values returns the values in o of the settings of use u, in table
// order. Settings a mode makes irrelevant are left out (crop and stride of
// the whole image mode, the partial-label numbers when the stage is off,
// prob_thd without a background class).
func Values(o *Options, u Use) []Value {
	var out []Value
	for i := range Settings {
		s := &Settings[i]
		if s.Use&u == 0 || !relevant(o, s.Name) {
			continue
		}
		out = append(out, Value{s.Name, s.get(o)})
	}
	return out
}

func relevant(o *Options, name string) bool {
	switch name {
	case "crop", "stride":
		return !o.Whole
	case "partial_thd", "partial_topk", "partial_tau", "partial_topq":
		return o.Partial.Enabled
	case "proxy_beta", "proxy_gamma":
		return o.Method.Proxy
	case "short_side", "max_long":
		return o.Resize.Mode != ResizeSquare
	case "square":
		return o.Resize.Mode == ResizeSquare
	}
	return true
}
