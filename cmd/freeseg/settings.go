package main

import (
	"flag"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
)

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
