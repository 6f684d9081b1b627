package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
)

// settingFlags binds the rows of freeseg.Settings to a command's flags:
// one flag per setting of the command's use (the setting's name with '-'
// for '_'), with the preset's value as the default in --help. Values are
// only collected while parsing; apply sets them on the options in the
// table's order, so flag order does not matter.
type settingFlags struct {
	use   freeseg.Use
	given map[string]string // setting name → text, for the flags given
}

type settingValue struct {
	s   *freeseg.Setting
	def string
	sf  *settingFlags
}

func (v *settingValue) String() string {
	if v == nil || v.sf == nil {
		return ""
	}
	if t, ok := v.sf.given[v.s.Name]; ok {
		return t
	}
	return v.def
}

func (v *settingValue) Set(text string) error {
	if _, err := v.s.Parse(text); err != nil {
		return err
	}
	v.sf.given[v.s.Name] = text
	return nil
}

// IsBoolFlag lets `--whole` stand for `--whole=true`.
func (v *settingValue) IsBoolFlag() bool { return v.s.Kind == freeseg.KindBool }

// bindSettings registers the settings of use u on fs with preset's values
// as defaults.
func bindSettings(fs *flag.FlagSet, preset freeseg.Options, u freeseg.Use) *settingFlags {
	sf := &settingFlags{use: u, given: map[string]string{}}
	for i := range freeseg.Settings {
		s := &freeseg.Settings[i]
		if s.Use&u == 0 {
			continue
		}
		// A back-quoted word names the value in --help (flag.UnquoteUsage).
		help := s.Help
		switch s.Kind {
		case freeseg.KindChoice:
			help += "; a `name` of " + strings.Join(s.Choices(), ", ")
		case freeseg.KindInt:
			help += "; an `int` in " + s.RangeText()
		case freeseg.KindFloat:
			help += "; a `float` in " + s.RangeText()
		}
		fs.Var(&settingValue{s: s, def: s.Text(&preset), sf: sf}, s.Flag(), help)
	}
	return sf
}

// apply sets the given values on top of o.
func (sf *settingFlags) apply(o *freeseg.Options) error {
	if err := freeseg.Apply(o, sf.given, sf.use); err != nil {
		return usageError{err.Error()}
	}
	return nil
}

// overrides lists the settings given, as --flag=value, in the table's
// order.
func (sf *settingFlags) overrides() []string {
	var out []string
	for i := range freeseg.Settings {
		s := &freeseg.Settings[i]
		if v, ok := sf.given[s.Name]; ok {
			out = append(out, fmt.Sprintf("--%s=%s", s.Flag(), v))
		}
	}
	return out
}

// settingCommands bind the settings table, whose precision row is their
// --precision (newFlags gives the other model commands their own).
var settingCommands = map[string]bool{"segment": true, "explain": true, "eval": true, "features": true}

// usePrecision makes loadModel convert the model to the precision the
// settings ask for (the fp32 weights are then dropped): fp32 for the
// default.
func usePrecision(p clip.Precision) {
	modelPrecision = clip.FP32
	if p != clip.PrecisionDefault {
		modelPrecision = p
	}
}

// vfmFlag registers --vfm: the vision foundation model of the proxy
// methods (an engine's model, not a per-image setting).
func vfmFlag(fs *flag.FlagSet) *string {
	return fs.String("vfm", freeseg.DefaultVFM, "proxyclip: the DINO ViT guiding the attention (folder, checkpoint or hub id, pulled on first use)")
}
