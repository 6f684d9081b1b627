package freeseg_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Every row of the table reads back what it was given, names its setting in
// errors, and refuses values outside its range or type.
func TestSettingsTable(t *testing.T) {
	seen := map[string]bool{}
	for i := range freeseg.Settings {
		s := &freeseg.Settings[i]
		if seen[s.Name] || s.Name != strings.ToLower(s.Name) || strings.Contains(s.Name, "-") || s.Help == "" {
			t.Errorf("row %q: duplicate, not snake_case, or no help", s.Name)
		}
		seen[s.Name] = true
		o := freeseg.DefaultOptions()
		var good string
		switch s.Kind {
		case freeseg.KindInt:
			good = "3"
			if s.Min > 3 || s.Max < 3 {
				good = freeseg.Settings[i].Text(&o)
			}
		case freeseg.KindFloat:
			good = "0.25"
		case freeseg.KindBool:
			good = "true"
		case freeseg.KindChoice:
			good = s.Choices()[len(s.Choices())-1]
		}
		if err := s.Set(&o, good); err != nil {
			t.Errorf("%s: %q refused: %v", s.Name, good, err)
			continue
		}
		if got := s.Text(&o); got != good {
			t.Errorf("%s: set %q, read back %q", s.Name, good, got)
		}
		var bad []string
		switch s.Kind {
		case freeseg.KindInt:
			bad = []string{"x", "1.5", "99999999"}
		case freeseg.KindFloat:
			bad = []string{"x", "NaN", "Inf", "-Inf", "1e300"}
		case freeseg.KindBool:
			bad = []string{"maybe"}
		case freeseg.KindChoice:
			bad = []string{"no-such-choice"}
		}
		for _, b := range bad {
			if err := s.Set(&o, b); err == nil || !strings.Contains(err.Error(), s.Name) {
				t.Errorf("%s: %q accepted or error without the name: %v", s.Name, b, err)
			}
		}
	}
	for _, n := range []string{"method", "templates", "short_side", "square", "max_side", "crop", "stride", "whole", "logit_scale",
		"prob_thd", "area_thd", "pamr", "partial_labels", "partial_thd", "partial_topk", "partial_tau", "partial_topq", "feature_surgery"} {
		if !seen[n] {
			t.Errorf("setting %s missing", n)
		}
	}
}

// Apply: table order whatever the map order; the coupling rules; unknown
// names and settings of another use refused.
func TestApplySettings(t *testing.T) {
	d := freeseg.DefaultOptions()
	o := d
	err := freeseg.Apply(&o, map[string]string{"square": "448", "short_side": "500", "method": "NACLIP", "partial_labels": "lse",
		"partial_tau": "2", "partial-topk": "3", "logit_scale": "50"}, freeseg.ForPipeline)
	if err != nil {
		t.Fatal(err)
	}
	if o.Method.Name != dense.NACLIP.Name || o.Resize.Mode != freeseg.ResizeSquare || o.Resize.Size != 448 ||
		!o.Partial.Enabled || o.Partial.Pool != seg.PoolLSE || o.Partial.Tau != 2 || o.Partial.TopK != 3 || o.LogitScale != 50 {
		t.Fatalf("applied: %+v", o)
	}
	if o.Partial.TopQ != d.Partial.TopQ || o.ProbThd != d.ProbThd {
		t.Error("settings not given changed")
	}
	// A whole-image preset: crop alone turns sliding on; crop with whole
	// keeps the whole image.
	w := d
	w.Whole = true
	if err := freeseg.Apply(&w, map[string]string{"crop": "336"}, freeseg.ForEval); err != nil || w.Whole || w.Window.Crop != 336 {
		t.Fatalf("crop on a whole preset: %v %+v", err, w)
	}
	w.Whole = true
	if err := freeseg.Apply(&w, map[string]string{"crop": "336", "whole": "1"}, freeseg.ForEval); err != nil || !w.Whole {
		t.Fatalf("crop and whole: %v %+v", err, w)
	}
	if err := freeseg.Apply(&o, map[string]string{"short_side": "0"}, freeseg.ForPipeline); err != nil {
		t.Fatal(err)
	}
	n := d
	if err := freeseg.Apply(&n, map[string]string{"short_side": "0"}, freeseg.ForPipeline); err != nil || n.Resize.Mode != freeseg.ResizeNone {
		t.Fatalf("short_side 0: %v %+v", err, n.Resize)
	}
	if err := freeseg.Apply(&o, map[string]string{"colour": "red"}, freeseg.ForPipeline); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown setting: %v", err)
	}
	if err := freeseg.Apply(&o, map[string]string{"max_side": "100"}, freeseg.ForEval); err == nil {
		t.Error("max_side accepted by eval")
	}
	if err := freeseg.Apply(&o, map[string]string{"feature_surgery": "multi"}, freeseg.ForSegment); err == nil {
		t.Error("feature_surgery accepted for segmentation")
	}
}

// Values lists the settings in table order, leaving out what a mode makes
// irrelevant.
func TestSettingValues(t *testing.T) {
	d := freeseg.DefaultOptions()
	names := func(o freeseg.Options) []string {
		var out []string
		for _, v := range freeseg.Values(&o, freeseg.ForSegment) {
			out = append(out, v.Name)
		}
		return out
	}
	all := names(d)
	if !slices.Contains(all, "crop") || !slices.Contains(all, "partial_tau") || slices.Contains(all, "square") || slices.Contains(all, "feature_surgery") {
		t.Errorf("default values: %v", all)
	}
	w := d
	w.Whole, w.Partial.Enabled = true, false
	if got := names(w); slices.Contains(got, "crop") || slices.Contains(got, "partial_tau") || !slices.Contains(got, "whole") {
		t.Errorf("whole, partial off: %v", got)
	}
}

// Options.Validate refuses every non-finite number (a NaN would otherwise
// pass the range checks and reach the JSON encoder).
func TestValidateRefusesNonFinite(t *testing.T) {
	for _, f := range []func(*freeseg.Options){
		func(o *freeseg.Options) { o.LogitScale = math.Inf(1) },
		func(o *freeseg.Options) { o.ProbThd = math.NaN() },
		func(o *freeseg.Options) { o.AreaThd = math.NaN() },
		func(o *freeseg.Options) { o.Partial.Tau = math.Inf(1) },
	} {
		o := freeseg.DefaultOptions()
		f(&o)
		if err := o.Validate(12); err == nil {
			t.Errorf("accepted %+v", o)
		}
	}
	// Typed enumerations read their own names back.
	for _, m := range []freeseg.ResizeMode{freeseg.ResizeShort, freeseg.ResizeSquare, freeseg.ResizeNone} {
		if got, err := freeseg.ParseResizeMode(m.String()); err != nil || got != m {
			t.Errorf("resize mode %v: %v %v", m, got, err)
		}
	}
	for _, f := range []freeseg.FeatureSurgery{freeseg.SurgeryAuto, freeseg.SurgeryMulti, freeseg.SurgeryRedundant, freeseg.SurgeryOff} {
		if got, err := freeseg.ParseFeatureSurgery(f.String()); err != nil || got != f {
			t.Errorf("feature surgery %v: %v %v", f, got, err)
		}
	}
	if freeseg.SurgeryAuto.For(1) != freeseg.SurgeryRedundant || freeseg.SurgeryAuto.For(3) != freeseg.SurgeryMulti || freeseg.SurgeryOff.For(3) != freeseg.SurgeryOff {
		t.Error("auto rule")
	}
	if _, err := freeseg.ParseResizeMode("cubic"); err == nil {
		t.Error("unknown resize mode accepted")
	}
}

func TestWithBackground(t *testing.T) {
	v, _ := prompts.ParseClassList("cat; sky")
	out, notes, err := freeseg.WithBackground(v, "default")
	if err != nil || !out.Background || len(out.Names) != 3 || len(out.Names[0]) != 25 || len(notes) != 1 || !strings.Contains(notes[0], "sky") {
		t.Fatalf("%v %q %v", out, notes, err)
	}
	if d := out.DisplayNames(); d[0] != "background" || d[1] != "cat" {
		t.Fatalf("display names %v", d)
	}
	if out, _, _ := freeseg.WithBackground(v, "none"); out.Background || out.Len() != 2 || out.DisplayNames()[0] != "cat" {
		t.Fatal("none")
	}
	if out, _, _ := freeseg.WithBackground(v, "first"); !out.Background || out.Len() != 2 || out.DisplayNames()[0] != "background" {
		t.Fatal("first")
	}
	if v.Background {
		t.Fatal("the input vocabulary was changed")
	}
	if _, _, err := freeseg.WithBackground(v, "sky"); err == nil {
		t.Fatal("a background made only of class names was accepted")
	}
}
