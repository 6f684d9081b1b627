package main

import (
	"flag"

	"github.com/freeseg/freeseg"
)

// settingFlags are the settings table's flags of a command, bound exactly
// as freeseg's own commands bind them (freeseg.BindFlags): the same names,
// help, defaults and ranges.
type settingFlags struct{ *freeseg.SettingFlags }

func bindSettings(fs *flag.FlagSet, preset freeseg.Options, u freeseg.Use) *settingFlags {
	return &settingFlags{freeseg.BindFlags(fs, preset, u)}
}

// overrides lists the settings given, as --flag=value, in the table's
// order (freeseg eval's report lists them so).
func (sf *settingFlags) overrides() []string { return sf.Overrides() }
