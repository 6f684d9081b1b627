package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/freeseg/freeseg"
)

// settingFlags binds the rows of freeseg.Settings of one use to flags, as
// freeseg's commands do (the one table the CLI and the service share): a
// flag per setting, named as the setting with '-' for '_', the preset's
// value as its default. Only the values given are collected; they are
// applied by name with freeseg.Apply, so flag order does not matter.
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

func bindSettings(fs *flag.FlagSet, preset freeseg.Options, u freeseg.Use) *settingFlags {
	sf := &settingFlags{use: u, given: map[string]string{}}
	for i := range freeseg.Settings {
		s := &freeseg.Settings[i]
		if s.Use&u == 0 {
			continue
		}
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

// overrides lists the settings given, as --flag=value, in the table's
// order (freeseg eval's report lists them so).
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
