package freeseg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/freeseg/freeseg/prompts"
)

// SegmentReport is the JSON description of one segmentation, the same in
// freeseg segment's NAME.json and in the service's answer to POST
// /v1/segment (each adds its own fields around it: the output files, the
// timing and the PNGs).
type SegmentReport struct {
	Generator   string `json:"generator,omitempty"` // "freeseg VERSION": marks freeseg's own outputs
	Image       string `json:"image,omitempty"`     // the input file (the command line) or the upload's name
	Model       string `json:"model,omitempty"`
	Width       int    `json:"width"` // of the label map (the photo, scaled down by max_side if asked)
	Height      int    `json:"height"`
	InputWidth  int    `json:"input_width"` // of the network input after resizing
	InputHeight int    `json:"input_height"`
	// LabelsFormat is "palette" (pixel = class, up to 256 classes) or
	// "gray16" (16-bit grey value = class, for more).
	LabelsFormat string        `json:"labels_format"`
	Classes      []ClassReport `json:"classes"`
	Notes        []string      `json:"notes,omitempty"`
	Settings     SettingValues `json:"settings"`
}

// ClassReport describes one class of a segmentation.
type ClassReport struct {
	Index    int      `json:"index"`
	Name     string   `json:"name"` // "background" for a background class 0
	Synonyms []string `json:"synonyms"`
	Color    [3]uint8 `json:"color"`    // RGB in the overlay and the label PNG's palette
	Fraction float64  `json:"fraction"` // share of the pixels labelled with it
	Score    float64  `json:"score"`    // image-level score (softmax over classes of the pooled logits)
	Kept     bool     `json:"kept"`     // kept by the partial-label stage (always true when it is off)
}

// SettingValues are the values of the settings a result was made with, in
// the order of the table; as JSON, an object of name: value.
type SettingValues []Value

// MarshalJSON writes an object whose keys keep the table's order.
func (s SettingValues) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(v.Name)
		if err != nil {
			return nil, err
		}
		x, err := json.Marshal(v.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(x)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object, keeping the order of its keys (numbers
// become float64, as in encoding/json's any).
func (s *SettingValues) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("settings: want a JSON object")
	}
	*s = nil
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*s = append(*s, Value{Name: t.(string), Value: v})
	}
	_, err := dec.Token()
	return err
}

// Value is the value of the setting named name, nil when there is none.
func (s SettingValues) Value(name string) any {
	v, _ := s.Get(name)
	return v
}

// Get returns the value of the setting named name.
func (s SettingValues) Get(name string) (any, bool) {
	for _, v := range s {
		if v.Name == name {
			return v.Value, true
		}
	}
	return nil, false
}

// ReportSettings lists the settings of use u in o, plus "background"
// (whether class 0 is a background class, the vocabulary's).
func ReportSettings(o *Options, u Use, background bool) SettingValues {
	var out SettingValues
	for _, v := range Values(o, u) {
		if v.Name == "prob_thd" && !background {
			continue // applies to a background class only
		}
		out = append(out, v)
	}
	return append(out, Value{"background", background})
}

// NewSegmentReport describes r (segmented with vocab and o).
func NewSegmentReport(r *Result, vocab *prompts.Vocabulary, o *Options) SegmentReport {
	names := r.Classes
	C := len(names)
	pal := ClassColors(C, r.Background)
	rep := SegmentReport{Width: r.Width, Height: r.Height, InputWidth: r.InputWidth, InputHeight: r.InputHeight,
		LabelsFormat: LabelsFormat(C), Settings: ReportSettings(o, ForSegment, r.Background)}
	for c := 0; c < C; c++ {
		rep.Classes = append(rep.Classes, ClassReport{Index: c, Name: names[c], Synonyms: vocab.Names[c], Color: pal[c],
			Fraction: round6(r.Fractions[c]), Score: round6(r.Scores[c]), Kept: r.Kept[c]})
	}
	return rep
}

// LabelsFormat is how a label map of C classes is stored: "palette" (an
// 8-bit palette PNG, pixel = class) up to 256 classes, else "gray16" (a
// 16-bit grey PNG).
func LabelsFormat(C int) string {
	if C > 256 {
		return "gray16"
	}
	return "palette"
}

// round6 keeps six decimals, enough for fractions of any image and short
// enough to read.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// ExplainReport is the JSON description of one explanation, the same in
// freeseg explain's NAME.explain.json and in the service's answer to POST
// /v1/explain.
type ExplainReport struct {
	Image          string        `json:"image,omitempty"`
	Model          string        `json:"model,omitempty"`
	Width          int           `json:"width"` // of the heat maps (the photo, scaled down by max_side if asked)
	Height         int           `json:"height"`
	Texts          []string      `json:"texts"`
	FeatureSurgery string        `json:"feature_surgery"` // the mode used (auto resolved)
	Settings       SettingValues `json:"settings"`
}

// NewExplainReport describes ex (made with o).
func NewExplainReport(ex *Explanation, o *Options) ExplainReport {
	return ExplainReport{Width: ex.Width, Height: ex.Height, Texts: ex.Texts, FeatureSurgery: o.FeatureSurgery.For(len(ex.Texts)).String(),
		Settings: SettingValues(Values(o, ForExplain))}
}
