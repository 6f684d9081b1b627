package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/seg"
	"github.com/freeseg/freeseg/weights"
)

func init() {
	register(&command{
		name:    "segment",
		summary: "segment images into the given classes: label map, overlay, JSON summary (and tensors)",
		usage:   "[--model DIR|ORG/NAME] --classes \"cat, dog; sky\" [--out DIR] [flags] IMAGE|FOLDER...",
		run:     runSegment,
	})
}

// segmentFlags are the pipeline flags shared by segment and eval.
type segmentFlags struct {
	method, templates                string
	shortSide, square, crop, stride  int
	whole                            bool
	logitScale, probThd, areaThd     float64
	pamr                             int
	partial                          string
	partialThd, partialTau, partialQ float64
	partialTopK                      int
}

func (s *segmentFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	BoolVar(*bool, string, bool, string)
	Float64Var(*float64, string, float64, string)
}, d freeseg.Options) {
	fs.StringVar(&s.method, "method", d.Method.Name, "dense method: "+strings.Join(dense.Names(), ", "))
	fs.StringVar(&s.templates, "templates", d.Templates, "prompt templates: openai80, surgery85 or single")
	fs.IntVar(&s.shortSide, "short-side", d.Resize.Size, "resize the short side to this many pixels, keeping the ratio (long side at most 2048)")
	fs.IntVar(&s.square, "square", 0, "resize to SxS instead (CLIP Surgery's demo), overriding --short-side")
	fs.IntVar(&s.crop, "crop", d.Window.Crop, "sliding-window crop size in pixels")
	fs.IntVar(&s.stride, "stride", d.Window.Stride, "sliding-window stride in pixels")
	fs.BoolVar(&s.whole, "whole", d.Window.Crop == 0, "infer on the whole image at once instead of sliding windows")
	fs.Float64Var(&s.logitScale, "logit-scale", d.LogitScale, "scale of the cosine logits before the softmax over classes")
	fs.Float64Var(&s.probThd, "prob-thd", d.ProbThd, "pixels whose best class probability is below this become background (class 0)")
	fs.Float64Var(&s.areaThd, "area-thd", d.AreaThd, "drop foreground classes covering at most this share of the foreground (0 = off; SCLIP VOC uses 0.1)")
	fs.IntVar(&s.pamr, "pamr", d.PAMRSteps, "PAMR refinement steps with dilations 8,16 (0 = off)")
	part := "off"
	if d.Partial.Enabled {
		part = d.Partial.Pool.String()
	}
	fs.StringVar(&s.partial, "partial-labels", part, "FreeSeg partial labels: keep only classes present at image level, scored by pooling smoothmin, max, mean, lse or cls; off to disable")
	fs.Float64Var(&s.partialThd, "partial-thd", seg.DefaultPartial.Thd, "partial labels: remove classes whose image score (softmax over classes) is below this")
	fs.IntVar(&s.partialTopK, "partial-topk", 0, "partial labels: keep at most this many foreground classes (0 = no limit)")
	fs.Float64Var(&s.partialTau, "partial-tau", seg.DefaultPartial.Tau, "partial labels: temperature of smoothmin/lse pooling, in scaled-logit units")
	fs.Float64Var(&s.partialQ, "partial-topq", seg.DefaultPartial.TopQ, "partial labels: fraction of each class's best pixels that smoothmin pooling covers")
}

// options turns the flags into pipeline options on top of d (the mapping
// is freeseg.Params.Options, shared with the HTTP service).
func (s *segmentFlags) options(d freeseg.Options) (freeseg.Options, error) {
	if !s.whole && s.crop <= 0 {
		return d, usagef("--crop %d must be positive (or use --whole)", s.crop)
	} else if !s.whole && s.stride <= 0 {
		return d, usagef("--stride %d must be positive", s.stride)
	}
	o, err := s.params().Options(d)
	if err != nil {
		return o, usageError{err.Error()}
	}
	return o, nil
}

// params are the flags as freeseg.Params.
func (s *segmentFlags) params() freeseg.Params {
	return freeseg.Params{
		Method: s.method, Templates: s.templates, ShortSide: s.shortSide, Square: s.square,
		Crop: s.crop, Stride: s.stride, Whole: s.whole,
		LogitScale: s.logitScale, ProbThd: s.probThd, AreaThd: s.areaThd, PAMR: s.pamr,
		Partial: s.partial, PartialThd: s.partialThd, PartialTau: s.partialTau, PartialQ: s.partialQ, PartialTopK: s.partialTopK,
	}
}

func runSegment(e *env, args []string) error {
	fs := newFlags(e, commands["segment"])
	model := fs.String("model", "", modelHelp)
	var images listFlag
	fs.Var(&images, "image", "image file or folder (repeatable; positional arguments work too)")
	classes := fs.String("classes", "", "classes: \"cat, dog, sky\" (one name each) or \"cat, kitten; dog; sky\" (';' separates classes, ',' synonyms)")
	classesFile := fs.String("classes-file", "", "class file: one class per line, synonyms separated by \", \" (the SCLIP/NACLIP format)")
	background := fs.String("background", "default", "background class 0: default (26 stuff names: sky, wall, tree, ...), none, file (line 0 of --classes-file), or your own \"sky, wall, floor\"")
	out := fs.String("out", "freeseg-out", "output folder (created if needed; inputs are never overwritten)")
	saveTensors := fs.String("save-tensors", "", "also write logits, probs and labels to this safetensors file (with several images, a path containing {name})")
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos (false = as stored, like the reference pipelines)")
	noCache := fs.Bool("no-cache", false, "do not read or write the on-disk text classifier cache")
	quiet := fs.Bool("quiet", false, "no progress or summary lines")
	force := forceFlag(fs)
	var sf segmentFlags
	sf.register(fs, freeseg.DefaultOptions())
	var xf exportFlags
	xf.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	inputs, err := expandImages(append(images, pos...))
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		return usagef("no image given")
	}
	if *saveTensors != "" && len(inputs) > 1 && !strings.Contains(*saveTensors, "{name}") {
		return usagef("--save-tensors with %d images needs {name} in the path", len(inputs))
	}
	vocab, hasBG, notes, err := buildVocabulary(*classes, *classesFile, *background)
	if err != nil {
		return err
	}
	opts, err := sf.options(freeseg.DefaultOptions())
	if err != nil {
		return err
	}
	opts.Background = hasBG
	if !hasBG {
		opts.ProbThd = 0
	}
	if err := prepareOutDir(*out); err != nil {
		return err
	}
	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	if err := opts.Validate(len(eng.Model.Vision.Blocks)); err != nil {
		return usageError{err.Error()}
	}
	applyForce(eng, *force)
	queries, _ := vocab.Queries()
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	names := vocab.ClassNames()
	if hasBG {
		names[0] = "background"
	}
	guard := newGuard(append(append([]string{}, inputs...), *classesFile)...)
	exp, err := newExporter(xf, inputs, guard) // --masks, --coco, --instances
	if err != nil {
		return err
	}
	defer exp.close()
	prog := newProgress(e.stderr, len(inputs), *quiet)
	bases := outputNames(inputs)
	done := make(chan struct{})
	defer close(done)
	decoded := prefetchImages(inputs, *exif, done)
	for i, path := range inputs {
		start := time.Now()
		l := <-decoded
		img, err := l.img, l.err
		if err != nil {
			return err
		}
		if b, err := eng.SegmentBudget(img.W, img.H, len(queries), vocab.Len(), opts); err == nil {
			warnBudget(e, path, b)
		}
		res, err := eng.Segment(img, vocab, opts)
		if err != nil {
			return budgetError(path, err)
		}
		res.Classes = names
		base := bases[i]
		x, err := exp.image(i, guard, *out, base, path, res, opts.Background) // exports, segment_export.go
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := writeSegmentOutputs(guard, *out, base, path, img, res, vocab.Names, opts, x); err != nil {
			return err
		}
		if *saveTensors != "" {
			p := strings.ReplaceAll(*saveTensors, "{name}", base)
			if err := guard.writeFile(p, func(w io.Writer) error { return writeSegTensors(w, res) }); err != nil {
				return err
			}
		}
		prog.done(i, base, summarize(res, time.Since(start)))
	}
	if err := exp.finish(guard); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "outputs in %s\n", *out)
	}
	return nil
}

// summarize is the one-line report of an image.
func summarize(r *freeseg.Result, d time.Duration) string {
	type cf struct {
		name string
		f    float64
	}
	var list []cf
	for c, f := range r.Fractions {
		if f > 0 {
			list = append(list, cf{r.Classes[c], f})
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].f > list[b].f })
	var parts []string
	for _, x := range list {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", x.name, 100*x.f))
	}
	return fmt.Sprintf("%dx%d in %.2fs: %s", r.Width, r.Height, d.Seconds(), strings.Join(parts, ", "))
}

type classInfo struct {
	Index    int      `json:"index"`
	Name     string   `json:"name"`
	Synonyms []string `json:"synonyms"`
	Color    [3]uint8 `json:"color"`
	Fraction float64  `json:"fraction"`
	Score    float64  `json:"score"`
	Kept     bool     `json:"kept"`
}

type segmentReport struct {
	Image       string         `json:"image"`
	Width       int            `json:"width"`
	Height      int            `json:"height"`
	InputWidth  int            `json:"input_width"`
	InputHeight int            `json:"input_height"`
	Classes     []classInfo    `json:"classes"`
	Settings    map[string]any `json:"settings"`
	Outputs     []string       `json:"outputs"`
	// With --instances (segment_export.go).
	Instances        []export.Region `json:"instances,omitzero"`
	InstancesDropped int             `json:"instances_dropped,omitempty"`
}

// settingsOf is the "settings" object of the JSON report.
func settingsOf(o freeseg.Options) map[string]any { return o.Summary() }

func writeSegmentOutputs(g guardInputs, dir, base, imgPath string, img *imageio.RGB, r *freeseg.Result, synonyms [][]string, o freeseg.Options, x *imageExports) error {
	C := len(r.Classes)
	if C > 256 {
		return fmt.Errorf("%d classes do not fit a palette PNG (256 at most)", C)
	}
	pal := freeseg.ClassColors(C, o.Background)
	labelsPath := filepath.Join(dir, base+".labels.png")
	if err := g.writeFile(labelsPath, func(w io.Writer) error {
		return imageio.WritePalettePNG(w, r.Labels, r.Width, r.Height, pal)
	}); err != nil {
		return err
	}
	overlay := freeseg.Overlay(img, r, nil, o.Background)
	overlayPath := filepath.Join(dir, base+".overlay.png")
	if err := g.writeFile(overlayPath, func(w io.Writer) error { return imageio.EncodePNG(w, overlay) }); err != nil {
		return err
	}
	rep := segmentReport{Image: imgPath, Width: r.Width, Height: r.Height, InputWidth: r.InputWidth, InputHeight: r.InputHeight,
		Settings: settingsOf(o), Outputs: []string{labelsPath, overlayPath}}
	for c := 0; c < C; c++ {
		rep.Classes = append(rep.Classes, classInfo{Index: c, Name: r.Classes[c], Synonyms: synonyms[c], Color: pal[c],
			Fraction: round6(r.Fractions[c]), Score: round6(r.Scores[c]), Kept: r.Kept[c]})
	}
	x.addTo(&rep)
	return g.writeFile(filepath.Join(dir, base+".json"), func(w io.Writer) error { return writeJSON(w, rep) })
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// writeSegTensors writes logits [Q,H,W], probs [C,H,W] and labels [H,W].
func writeSegTensors(w io.Writer, r *freeseg.Result) error {
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
