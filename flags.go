package freeseg

import (
	"flag"
	"fmt"
	"strings"
)

// SettingFlags binds the rows of Settings of one use to a command's flags:
// one flag per setting, named as the setting with '-' for '_', with the
// preset's value as its default in --help. Parsing only collects the
// values given (each checked by its row); Apply sets them in the table's
// order, so the order of the flags does not matter. freeseg's commands and
// freeseg-beam's bind their settings this way.
type SettingFlags struct {
	Use   Use
	Given map[string]string // setting name → text, for the flags given
}

type settingValue struct {
	s   *Setting
	def string
	sf  *SettingFlags
}

func (v *settingValue) String() string {
	if v == nil || v.sf == nil {
		return ""
	}
	if t, ok := v.sf.Given[v.s.Name]; ok {
		return t
	}
	return v.def
}

func (v *settingValue) Set(text string) error {
	if _, err := v.s.Parse(text); err != nil {
		return err
	}
	v.sf.Given[v.s.Name] = text
	return nil
}

// IsBoolFlag lets `--whole` stand for `--whole=true`.
func (v *settingValue) IsBoolFlag() bool { return v.s.Kind == KindBool }

// BindFlags registers the settings of use u on fs with preset's values as
// their defaults.
func BindFlags(fs *flag.FlagSet, preset Options, u Use) *SettingFlags {
	sf := &SettingFlags{Use: u, Given: map[string]string{}}
	for i := range Settings {
		s := &Settings[i]
		if s.Use&u == 0 {
			continue
		}
		// A back-quoted word names the value in --help (flag.UnquoteUsage).
		help := s.Help
		switch s.Kind {
		case KindChoice:
			help += "; a `name` of " + strings.Join(s.Choices(), ", ")
		case KindInt:
			help += "; an `int` in " + s.RangeText()
		case KindFloat:
			help += "; a `float` in " + s.RangeText()
		}
		fs.Var(&settingValue{s: s, def: s.Text(&preset), sf: sf}, s.Flag(), help)
	}
	return sf
}

// Apply sets the values given on top of o (see Apply). The values are the
// caller's flags, so a bad one is a usage error (ErrUsage).
func (sf *SettingFlags) Apply(o *Options) error { return AsUsage(Apply(o, sf.Given, sf.Use)) }

// Overrides lists the settings given, as --flag=value, in the table's
// order (eval reports list them so).
func (sf *SettingFlags) Overrides() []string {
	var out []string
	for i := range Settings {
		s := &Settings[i]
		if v, ok := sf.Given[s.Name]; ok {
			out = append(out, fmt.Sprintf("--%s=%s", s.Flag(), v))
		}
	}
	return out
}
