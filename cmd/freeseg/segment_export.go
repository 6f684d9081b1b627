package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/export"
)

// exportFlags are segment's outputs for other tools (docs/outputs.md):
// per-class masks, a COCO results file, connected-component instances.
type exportFlags struct {
	masks, instances bool
	coco             string
	minArea, conn    int
}

func (x *exportFlags) register(fs *flag.FlagSet) {
	d := export.DefaultOptions()
	fs.BoolVar(&x.masks, "masks", false, "also write one binary mask per class present, NAME.mask.CLASS.png (8-bit grey, 255 = class)")
	fs.StringVar(&x.coco, "coco", "", "also write the masks of every image as a COCO results file (JSON list, compressed RLE, as pycocotools' loadRes reads); one entry per class present, or per instance with --instances")
	fs.BoolVar(&x.instances, "instances", false, "split each class's mask into connected components (box, area, mean probability) in NAME.json and the --coco file")
	fs.IntVar(&x.minArea, "instance-min-area", d.MinArea, "instances: leave out components of fewer pixels")
	fs.IntVar(&x.conn, "connectivity", int(d.Connectivity), "instances: 4 (pixels sharing an edge) or 8 (also corners) connectivity")
}

// newExporter checks the flags before any inference.
func newExporter(x exportFlags, inputs []string, g batch.Guard) (*export.Exporter, error) {
	xs := export.Exports{Masks: x.masks, Instances: x.instances, COCO: x.coco, Options: export.DefaultOptions()}
	conn, err := export.ParseConnectivity(x.conn)
	if err != nil {
		return nil, freeseg.Usagef("--connectivity: %v", err)
	}
	if x.minArea < 0 {
		return nil, freeseg.Usagef("--instance-min-area %d must not be negative", x.minArea)
	}
	xs.Options.Connectivity, xs.Options.MinArea = conn, x.minArea
	if x.coco != "" {
		if err := g.Check(x.coco); err != nil {
			return nil, err
		}
		if st, err := os.Stat(x.coco); strings.HasSuffix(x.coco, string(filepath.Separator)) || (err == nil && st.IsDir()) {
			return nil, freeseg.Usagef("--coco %s: give a file name, not a folder", x.coco)
		}
	}
	return export.NewExporter(xs, inputs)
}
