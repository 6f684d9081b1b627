package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg"
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

// exporter writes the exports of a segment run: per image, then the COCO
// file at the end.
type exporter struct {
	exportFlags
	opts     export.Options
	imageIDs []int64
	// The COCO file is streamed, one entry a line, into a temporary file
	// beside it and renamed at the end: a long batch holds no entries in
	// memory, and a failed run leaves no half file.
	tmp     *os.File
	entries int
}

// newExporter checks the flags before any inference.
func newExporter(x exportFlags, inputs []string, g guardInputs) (*exporter, error) {
	ex := &exporter{exportFlags: x, opts: export.DefaultOptions()}
	conn, err := export.ParseConnectivity(x.conn)
	if err != nil {
		return nil, usagef("--connectivity: %v", err)
	}
	if x.minArea < 0 {
		return nil, usagef("--instance-min-area %d must not be negative", x.minArea)
	}
	ex.opts.Connectivity, ex.opts.MinArea = conn, x.minArea
	if x.coco != "" {
		if err := g.check(x.coco); err != nil {
			return nil, err
		}
		if st, err := os.Stat(x.coco); strings.HasSuffix(x.coco, string(filepath.Separator)) || (err == nil && st.IsDir()) {
			return nil, usagef("--coco %s: give a file name, not a folder", x.coco)
		}
		if err := os.MkdirAll(filepath.Dir(x.coco), 0o755); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(filepath.Dir(x.coco), "."+filepath.Base(x.coco)+".*.tmp")
		if err != nil {
			return nil, err
		}
		ex.tmp = f
		if _, err := io.WriteString(f, "["); err != nil {
			ex.close()
			return nil, err
		}
	}
	ex.imageIDs = cocoImageIDs(inputs)
	return ex, nil
}

// cocoImageIDs numbers the images for COCO: by their names when every name
// is a number (COCO's own 000000397133.jpg), else 1, 2, ... in input order.
func cocoImageIDs(inputs []string) []int64 {
	ids := make([]int64, len(inputs))
	seen := map[int64]bool{}
	for i, p := range inputs {
		b := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 || seen[n] {
			for i := range ids {
				ids[i] = int64(i + 1)
			}
			return ids
		}
		seen[n], ids[i] = true, n
	}
	return ids
}

// imageExports are what one image's exports add to its NAME.json.
type imageExports struct {
	files     []string
	instances []export.Region
	dropped   int
	settings  map[string]any
}

// image writes the masks of input i and gathers its instances and COCO
// entries. It returns nil when no export was asked for.
func (ex *exporter) image(i int, g *outputs, dir, base, path string, r *freeseg.Result, background bool) (*imageExports, error) {
	if ex == nil || (!ex.masks && !ex.instances && ex.coco == "") {
		return nil, nil
	}
	x := &imageExports{}
	if ex.masks {
		used := map[string]bool{}
		for c, f := range r.Fractions {
			if f <= 0 {
				continue
			}
			name := safeName(r.Classes[c])
			if used[name] {
				name = fmt.Sprintf("%s-%d", name, c)
			}
			used[name] = true
			p := filepath.Join(dir, base+".mask."+name+".png")
			if err := g.writeFile(p, func(w io.Writer) error { return export.WriteMaskPNG(w, r.Labels, r.Width, r.Height, c) }); err != nil {
				return nil, err
			}
			x.files = append(x.files, p)
		}
	}
	var regs []export.Region
	if ex.instances {
		var err error
		if regs, x.dropped, err = export.Instances(r, background, ex.opts); err != nil {
			return nil, err
		}
		x.instances = regs
		if x.instances == nil {
			x.instances = []export.Region{}
		}
		x.settings = map[string]any{"min_area": ex.opts.MinArea, "connectivity": int(ex.opts.Connectivity), "max_instances": export.DefaultMaxInstances}
	} else if ex.coco != "" {
		regs = export.ClassRegions(r)
	}
	if ex.tmp != nil {
		for _, r := range export.COCOResults(ex.imageIDs[i], filepath.Base(path), regs, background) {
			sep := ",\n"
			if ex.entries == 0 {
				sep = "\n"
			}
			if _, err := io.WriteString(ex.tmp, sep); err != nil {
				return nil, err
			}
			if err := writeJSONCompact(ex.tmp, r); err != nil {
				return nil, err
			}
			ex.entries++
		}
	}
	return x, nil
}

// writeJSONCompact writes v on one line, without its trailing newline.
func writeJSONCompact(w io.Writer, v any) error {
	var b strings.Builder
	if err := writeJSONLine(&b, v); err != nil {
		return err
	}
	_, err := io.WriteString(w, strings.TrimSuffix(b.String(), "\n"))
	return err
}

// finish completes the COCO file (an empty list when nothing was found, so
// that a reader gets valid JSON) and moves it into place.
func (ex *exporter) finish(g guardInputs) error {
	if ex == nil || ex.tmp == nil {
		return nil
	}
	defer ex.close()
	end := "\n]\n"
	if ex.entries == 0 {
		end = "]\n"
	}
	if _, err := io.WriteString(ex.tmp, end); err != nil {
		return err
	}
	if err := ex.tmp.Close(); err != nil {
		return err
	}
	if err := g.check(ex.coco); err != nil {
		return err
	}
	if err := os.Rename(ex.tmp.Name(), ex.coco); err != nil {
		return err
	}
	ex.tmp = nil
	return nil
}

// close removes the temporary COCO file of a run that did not finish.
func (ex *exporter) close() {
	if ex == nil || ex.tmp == nil {
		return
	}
	ex.tmp.Close()
	os.Remove(ex.tmp.Name())
	ex.tmp = nil
}

// addTo puts the image's exports into its report.
func (x *imageExports) addTo(rep *segmentReport) {
	if x == nil {
		return
	}
	rep.Outputs = append(rep.Outputs, x.files...)
	if x.settings != nil {
		rep.Instances, rep.InstancesDropped = x.instances, x.dropped
		rep.Settings = append(rep.Settings, freeseg.Value{Name: "instances", Value: x.settings})
	}
}
