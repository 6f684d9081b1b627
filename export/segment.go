package export

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/weights"
)

// Exporter writes the exports of a segment run: per image, then the COCO
// file at the end.
type Exporter struct {
	Exports
	imageIDs []int64
	// The COCO file is streamed, one entry a line, into a temporary file
	// beside it and renamed at the end: a long batch holds no entries in
	// memory, and a failed run leaves no half file.
	tmp     *os.File
	entries int
}

// Exports says which exports a segment run writes besides its label map,
// overlay and NAME.json (docs/outputs.md).
type Exports struct {
	Masks     bool   // one binary mask per class present, NAME.mask.CLASS.png
	Instances bool   // connected components in NAME.json and the COCO file
	COCO      string // the COCO results file ("" for none)
	Options   Options
}

// NewExporter starts the exports of a run over inputs (the COCO file as a
// temporary beside it). The caller has checked that COCO is a file name
// and no input.
func NewExporter(x Exports, inputs []string) (*Exporter, error) {
	ex := &Exporter{Exports: x}
	if x.COCO != "" {
		if err := os.MkdirAll(filepath.Dir(x.COCO), 0o755); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(filepath.Dir(x.COCO), "."+filepath.Base(x.COCO)+".*.tmp")
		if err != nil {
			return nil, err
		}
		ex.tmp = f
		if _, err := io.WriteString(f, "["); err != nil {
			ex.Close()
			return nil, err
		}
	}
	ex.imageIDs = COCOImageIDs(inputs)
	return ex, nil
}

// COCOImageIDs numbers the images for COCO: by their names when every name
// is a number (COCO's own 000000397133.jpg), else 1, 2, ... in input order.
func COCOImageIDs(inputs []string) []int64 {
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

// ImageExports are what one image's exports add to its NAME.json.
type ImageExports struct {
	files     []string
	instances []Region
	dropped   int
	settings  map[string]any
}

// Image writes the masks of input i and gathers its instances and COCO
// entries. It returns nil when no export was asked for.
func (ex *Exporter) Image(i int, g *batch.Outputs, dir, base, path string, r *freeseg.Result, background bool) (*ImageExports, error) {
	if ex == nil || (!ex.Masks && !ex.Instances && ex.COCO == "") {
		return nil, nil
	}
	x := &ImageExports{}
	if ex.Masks {
		used := map[string]bool{}
		for c, f := range r.Fractions {
			if f <= 0 {
				continue
			}
			name := SafeName(r.Classes[c])
			if used[name] {
				name = fmt.Sprintf("%s-%d", name, c)
			}
			used[name] = true
			p := filepath.Join(dir, base+".mask."+name+".png")
			if err := g.WriteFile(p, func(w io.Writer) error { return WriteMaskPNG(w, r.Labels, r.Width, r.Height, c) }); err != nil {
				return nil, err
			}
			x.files = append(x.files, p)
		}
	}
	var regs []Region
	if ex.Instances {
		var err error
		if regs, x.dropped, err = Instances(r, background, ex.Options); err != nil {
			return nil, err
		}
		x.instances = regs
		if x.instances == nil {
			x.instances = []Region{}
		}
		x.settings = map[string]any{"min_area": ex.Options.MinArea, "connectivity": int(ex.Options.Connectivity), "max_instances": DefaultMaxInstances}
	} else if ex.COCO != "" {
		regs = ClassRegions(r)
	}
	if ex.tmp != nil {
		for _, r := range COCOResults(ex.imageIDs[i], filepath.Base(path), regs, background) {
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
	if err := WriteJSONLine(&b, v); err != nil {
		return err
	}
	_, err := io.WriteString(w, strings.TrimSuffix(b.String(), "\n"))
	return err
}

// Finish completes the COCO file (an empty list when nothing was found, so
// that a reader gets valid JSON) and moves it into place.
func (ex *Exporter) Finish(g batch.Guard) error {
	if ex == nil || ex.tmp == nil {
		return nil
	}
	defer ex.Close()
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
	if err := g.Check(ex.COCO); err != nil {
		return err
	}
	if err := os.Rename(ex.tmp.Name(), ex.COCO); err != nil {
		return err
	}
	ex.tmp = nil
	return nil
}

// Close removes the temporary COCO file of a run that did not finish.
func (ex *Exporter) Close() {
	if ex == nil || ex.tmp == nil {
		return
	}
	ex.tmp.Close()
	os.Remove(ex.tmp.Name())
	ex.tmp = nil
}

// AddTo puts the image's exports into its report.
func (x *ImageExports) AddTo(rep *SegmentReport) {
	if x == nil {
		return
	}
	rep.Outputs = append(rep.Outputs, x.files...)
	if x.settings != nil {
		rep.Instances, rep.InstancesDropped = x.instances, x.dropped
		rep.Settings = append(rep.Settings, freeseg.Value{Name: "instances", Value: x.settings})
	}
}

// SegmentReport is NAME.json: the report the service also answers with,
// the files written and the exports.
type SegmentReport struct {
	freeseg.SegmentReport
	Outputs []string `json:"outputs"`
	// With instances (Exports.Instances).
	Instances        []Region `json:"instances,omitzero"`
	InstancesDropped int      `json:"instances_dropped,omitempty"`
}

// WriteSegment writes an image's label map, overlay and NAME.json (with
// its exports x; generator names the program) into dir.
func WriteSegment(g *batch.Outputs, dir, base, imgPath string, r *freeseg.Result, vocab *prompts.Vocabulary, o freeseg.Options, x *ImageExports, generator string) error {
	C := len(r.Classes)
	pal := freeseg.ClassColors(C, r.Background)
	labelsPath := filepath.Join(dir, base+".labels.png")
	format := freeseg.LabelsFormat(C)
	if err := g.WriteFile(labelsPath, func(w io.Writer) error {
		return batch.MarkedPNG(w, "labels", func(w io.Writer) error {
			if format == "gray16" {
				return imageio.WriteGray16PNG(w, r.Labels, r.Width, r.Height)
			}
			return imageio.WritePalettePNG(w, r.Labels, r.Width, r.Height, pal)
		})
	}); err != nil {
		return err
	}
	overlay := freeseg.Overlay(r)
	overlayPath := filepath.Join(dir, base+".overlay.png")
	if err := g.WriteFile(overlayPath, func(w io.Writer) error {
		return batch.MarkedPNG(w, "overlay", func(w io.Writer) error { return imageio.EncodePNG(w, overlay) })
	}); err != nil {
		return err
	}
	rep := SegmentReport{SegmentReport: freeseg.NewSegmentReport(r, vocab, &o), Outputs: []string{labelsPath, overlayPath}}
	rep.Generator, rep.Image = generator, imgPath
	x.AddTo(&rep)
	return g.WriteFile(filepath.Join(dir, base+".json"), func(w io.Writer) error { return WriteJSON(w, rep) })
}

// SegmentFiles writes what freeseg segment writes per image.
type SegmentFiles struct {
	Outputs   *batch.Outputs
	Exporter  *Exporter // masks, COCO entries, instances (nil: none)
	Tensors   string    // logits, probs and labels to this safetensors path, {name} replaced by rel/base ("" for none)
	Generator string    // names the program in NAME.json
}

// Write writes the outputs of input i of the run, r, into outDir/in.Rel,
// named after in.Base: its exports, label map, overlay, NAME.json and
// tensors.
func (s *SegmentFiles) Write(i int, outDir string, in batch.Input, r *freeseg.Result, vocab *prompts.Vocabulary, o freeseg.Options) error {
	dir := filepath.Join(outDir, in.Rel)
	x, err := s.Exporter.Image(i, s.Outputs, dir, in.Base, in.Path, r, r.Background)
	if err != nil {
		return err
	}
	if err := WriteSegment(s.Outputs, dir, in.Base, in.Path, r, vocab, o, x, s.Generator); err != nil {
		return err
	}
	if s.Tensors != "" {
		p := strings.ReplaceAll(s.Tensors, "{name}", filepath.Join(in.Rel, in.Base))
		return s.Outputs.WriteFile(p, func(w io.Writer) error { return WriteTensors(w, r) })
	}
	return nil
}

// WriteTensors writes logits [Q,H,W], probs [C,H,W] and labels [H,W].
func WriteTensors(w io.Writer, r *freeseg.Result) error {
	labels := make([]int64, len(r.Labels))
	for i, l := range r.Labels {
		labels[i] = int64(l)
	}
	Q, C := len(r.Queries), len(r.Classes)
	return weights.WriteSafetensors(w, []*weights.Tensor{
		{Name: "logits", Shape: []int{Q, r.Height, r.Width}, F32: r.Logits},
		{Name: "probs", Shape: []int{C, r.Height, r.Width}, F32: r.Probs},
		{Name: "labels", Shape: []int{r.Height, r.Width}, Ints: labels},
	}, map[string]string{"classes": strings.Join(r.Classes, "\n"), "queries": strings.Join(r.Queries, "\n")})
}

// WriteJSON writes v indented, without HTML escaping.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteJSONLine writes v on one line.
func WriteJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// SafeName makes a class name usable in a file name.
func SafeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, strings.TrimSpace(s))
	if s == "" {
		s = "_"
	}
	return s
}
