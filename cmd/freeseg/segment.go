package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
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
	vfm                              string  // proxy methods: the vision foundation model
	proxyBeta, proxyGamma            float64 // proxy methods: β and γ
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
	// ProxyCLIP (--method proxyclip): its vision foundation model and β, γ.
	fs.StringVar(&s.vfm, "vfm", freeseg.DefaultVFM, "proxyclip: the DINO ViT guiding the attention (folder, checkpoint or hub id, pulled on first use)")
	beta, gamma := dense.ProxyCLIP.Beta, dense.ProxyCLIP.Gamma
	if d.Method.Proxy {
		beta, gamma = d.Method.Beta, d.Method.Gamma
	}
	fs.Float64Var(&s.proxyBeta, "proxy-beta", beta, "proxyclip: similarities below beta times their mean are masked out")
	fs.Float64Var(&s.proxyGamma, "proxy-gamma", gamma, "proxyclip: sharpness of the proxy attention")
}

// options turns the flags into pipeline options on top of d (the mapping
// is freeseg.Params.Options, shared with the HTTP service).
func (s *segmentFlags) options(d freeseg.Options) (freeseg.Options, error) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"logit-scale", s.logitScale}, {"prob-thd", s.probThd}, {"area-thd", s.areaThd},
		{"partial-thd", s.partialThd}, {"partial-tau", s.partialTau}, {"partial-topq", s.partialQ}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return d, usagef("--%s %g must be a finite number", f.name, f.v)
		}
	}
	if p := strings.TrimSpace(s.partial); p != "" && !strings.EqualFold(p, "off") {
		if _, err := seg.ParsePool(p); err != nil {
			return d, usagef("--partial-labels %q: want smoothmin, max, mean, lse, cls or off", s.partial)
		}
	}
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
		ProxyBeta: s.proxyBeta, ProxyGamma: s.proxyGamma,
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
	var bf batchFlags
	bf.register(fs)
	maxLong := fs.Int("max-long", 0, "with --short-side: the most pixels the long side may have after resizing (0 = 2048, the mmseg protocols'); raise it for panoramas, whose short side the cap shrinks")
	var sf segmentFlags
	sf.register(fs, freeseg.DefaultOptions())
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *maxLong < 0 {
		return usagef("--max-long %d must not be negative", *maxLong)
	}
	if err := bf.validate(); err != nil {
		return err
	}
	// Everything that can be checked without the model is checked first.
	vocab, hasBG, notes, err := buildVocabulary(*classes, *classesFile, *background)
	if err != nil {
		return err
	}
	if vocab.Len() > maxLabelClasses {
		return usagef("%d classes: a label map holds at most %d", vocab.Len(), maxLabelClasses)
	}
	opts, err := sf.options(freeseg.DefaultOptions())
	if err != nil {
		return err
	}
	if *maxLong > 0 {
		opts.Resize.MaxLong = *maxLong
	}
	opts.Background = hasBG
	if !hasBG {
		opts.ProbThd = 0
	}
	if err := checkOutDir(*out); err != nil {
		return err
	}
	args = append(images, pos...)
	if len(args) == 0 {
		return usagef("no image given")
	}
	inputs, skipped, protected, bad, err := expandInputs(args, bf.recursive, *out)
	if err != nil {
		return err
	}
	if *saveTensors != "" && len(inputs) > 1 && !strings.Contains(*saveTensors, "{name}") {
		return usagef("--save-tensors with %d images needs {name} in the path", len(inputs))
	}
	if skipped > 0 && !*quiet {
		fmt.Fprintf(e.stderr, "note: skipped %d of freeseg's own outputs (*.labels.png, *.overlay.png, *.heat.*.png or marked PNGs) in the input folders\n", skipped)
	}
	fails := &failures{total: len(inputs) + len(bad)}
	fails.list = bad
	if bf.strict && len(bad) > 0 {
		return bad[0].err
	}
	queries, _ := vocab.Queries()
	limit, why := memLimit(bf.maxMemoryMB, "/proc/meminfo")
	var todo []input
	for _, in := range inputs {
		warn, err := planSegment(&in, len(queries), vocab.Len(), opts, bf.maxSide, *exif, *saveTensors != "", limit, why)
		if err != nil {
			if bf.strict {
				return err
			}
			fails.add(in.path, err)
			continue
		}
		if warn != "" && !*quiet {
			fmt.Fprintln(e.stderr, "warning:", warn)
		}
		todo = append(todo, in)
	}
	if len(todo) == 0 {
		return fails.err()
	}
	assignNames(todo, *out, segmentSuffixes, protected)
	var planned []string
	for _, in := range todo {
		for _, s := range segmentSuffixes {
			planned = append(planned, filepath.Join(*out, in.rel, in.base+s))
		}
	}
	if removed, err := imageio.RemoveStaleTemps(planned); err == nil && len(removed) > 0 && !*quiet {
		fmt.Fprintf(e.stderr, "note: removed %d temporary files left by an interrupted run (%s)\n", len(removed), strings.Join(removed, ", "))
	}

	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	eng.VFMSource = sf.vfm
	if err := opts.Validate(len(eng.Model.Vision.Blocks)); err != nil {
		return usageError{err.Error()}
	}
	applyForce(eng, *force)
	// The last check that needs the model: every input holds a patch.
	p := eng.Model.Vision.Patch
	kept := todo[:0]
	for _, in := range todo {
		if in.inW < p || in.inH < p {
			err := fmt.Errorf("%s: the %dx%d network input is smaller than one %dx%d patch; use a larger --short-side or --max-long", in.path, in.inW, in.inH, p, p)
			if bf.strict {
				return err
			}
			fails.add(in.path, err)
			continue
		}
		kept = append(kept, in)
	}
	if todo = kept; len(todo) == 0 {
		return fails.err()
	}
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	names := vocab.ClassNames()
	if hasBG {
		names[0] = "background"
	}
	if err := buildClassifier(e.stderr, eng, queries, opts.Templates, *quiet); err != nil {
		return err
	}
	guardPaths := append([]string{*classesFile}, protected...)
	for _, in := range inputs {
		guardPaths = append(guardPaths, in.path)
	}
	outs := &outputs{guard: newGuard(guardPaths...)}
	defer outs.removeEmpty()
	prog := newProgress(e.stderr, len(todo), *quiet)
	done := make(chan struct{})
	defer close(done)
	decoded := prefetchImages(todo, *exif, bf.maxSide, done)
	wrote := 0
	for i, in := range todo {
		start := time.Now()
		l := <-decoded
		err := l.err
		var res *freeseg.Result
		if err == nil {
			if b, berr := eng.SegmentBudget(l.img.W, l.img.H, len(queries), vocab.Len(), opts); berr == nil {
				warnBudget(e, in.path, b)
			}
			res, err = eng.Segment(l.img, vocab, opts)
			if err != nil {
				err = budgetError(in.path, err)
			}
		}
		if err == nil {
			res.Classes = names
			dir := filepath.Join(*out, in.rel)
			err = writeSegmentOutputs(outs, dir, in.base, in.path, l.img, res, vocab.Names, opts)
			if err == nil && *saveTensors != "" {
				p := strings.ReplaceAll(*saveTensors, "{name}", filepath.Join(in.rel, in.base))
				err = outs.writeFile(p, func(w io.Writer) error { return writeSegTensors(w, res) })
			}
		}
		if err != nil {
			if bf.strict {
				return err
			}
			fails.add(in.path, err)
			if !*quiet {
				fmt.Fprintf(e.stderr, "error: %v\n", err)
			}
			continue
		}
		wrote++
		prog.done(i, filepath.Join(in.rel, in.base), summarize(res, time.Since(start)))
	}
	if wrote > 0 && !*quiet {
		fmt.Fprintf(e.stderr, "outputs in %s\n", *out)
	}
	return fails.err()
}

// maxLabelClasses is the most classes a label map holds: a 16-bit PNG.
const maxLabelClasses = 65536

// segmentSuffixes are the outputs segment writes per image.
var segmentSuffixes = []string{".labels.png", ".overlay.png", ".json"}

// planSegment checks one image from its header before any work: the
// network input it gives (a warning when the long-side cap shrinks it) and
// the memory of the whole run on it against limit.
func planSegment(in *input, names, classes int, o freeseg.Options, maxSide int, exif, tensors bool, limit int64, why string) (string, error) {
	h, err := imageio.Probe(in.path)
	if err != nil {
		return "", err
	}
	in.hdr = h
	w, hh := imageio.FitLongSide(h.Width, h.Height, maxSide)
	iw, ih := w, hh
	warn := ""
	switch o.Resize.Mode {
	case "short":
		iw, ih = imageio.KeepRatioSize(w, hh, o.Resize.Size, o.Resize.MaxLong)
		need := (max(w, hh)*o.Resize.Size + min(w, hh) - 1) / min(w, hh)
		if iw < 1 || ih < 1 {
			return "", fmt.Errorf("%s: %dx%d would be resized to %dx%d (short side %d, long side at most %d): give --max-long %d, or --square",
				in.path, w, hh, iw, ih, o.Resize.Size, o.Resize.MaxLong, need)
		}
		if short := min(iw, ih); short < o.Resize.Size {
			warn = fmt.Sprintf("%s: %dx%d is resized to %dx%d: the long side is capped at %d, so the short side is %d pixels, not %d",
				in.path, w, hh, iw, ih, o.Resize.MaxLong, short, o.Resize.Size)
			if c := o.Window.Crop; c > 0 && short < c {
				warn += fmt.Sprintf(", smaller than the %d crop", c)
			}
			warn += fmt.Sprintf("; --max-long %d keeps the short side", need)
		}
	case "square":
		iw, ih = o.Resize.Size, o.Resize.Size
	}
	in.inW, in.inH = iw, ih
	if c := o.Window.Crop; c > 0 && c > iw && c > ih {
		return "", fmt.Errorf("%s: crop %d is larger than the %dx%d network input; use --whole or a smaller --crop", in.path, c, iw, ih)
	}
	st := segmentMemory(h, w, hh, iw, ih, names, classes, o, exif, tensors)
	if pk := peak(st); pk.bytes > limit {
		msg := fmt.Sprintf("%s: %dx%d pixels (%.1f megapixels, from the header) need about %s at the %s stage (%d names, %d classes), more than the limit of %s (%s)",
			in.path, h.Width, h.Height, float64(h.Pixels())/1e6, fmtBytes(pk.bytes), pk.stage, names, classes, fmtBytes(limit), why)
		if st[0].bytes > limit {
			msg += "; the file cannot be decoded within it"
		} else {
			msg += fmt.Sprintf("; scale it down first with --max-side %d, or use fewer classes", suggestMaxSide(w, hh, pk.bytes, limit))
		}
		return "", errors.New(msg)
	}
	return warn, nil
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
	Generator   string `json:"generator"`
	Image       string `json:"image"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	InputWidth  int    `json:"input_width"`
	InputHeight int    `json:"input_height"`
	// LabelsFormat is "palette" (pixel = class, up to 256 classes) or
	// "gray16" (16-bit grey value = class, for more).
	LabelsFormat string         `json:"labels_format"`
	Classes      []classInfo    `json:"classes"`
	Settings     map[string]any `json:"settings"`
	Outputs      []string       `json:"outputs"`
}

// settingsOf is the "settings" object of the JSON report.
func settingsOf(o freeseg.Options) map[string]any { return o.Summary() }

func writeSegmentOutputs(g *outputs, dir, base, imgPath string, img *imageio.RGB, r *freeseg.Result, synonyms [][]string, o freeseg.Options) error {
	C := len(r.Classes)
	pal := freeseg.ClassColors(C, o.Background)
	labelsPath := filepath.Join(dir, base+".labels.png")
	format := "palette"
	if C > 256 {
		format = "gray16" // as the service: a palette holds 256 colours
	}
	if err := g.writeFile(labelsPath, func(w io.Writer) error {
		return markedPNG(w, "labels", func(w io.Writer) error {
			if format == "gray16" {
				return imageio.WriteGray16PNG(w, r.Labels, r.Width, r.Height)
			}
			return imageio.WritePalettePNG(w, r.Labels, r.Width, r.Height, pal)
		})
	}); err != nil {
		return err
	}
	overlay := freeseg.Overlay(img, r, nil, o.Background)
	overlayPath := filepath.Join(dir, base+".overlay.png")
	if err := g.writeFile(overlayPath, func(w io.Writer) error {
		return markedPNG(w, "overlay", func(w io.Writer) error { return imageio.EncodePNG(w, overlay) })
	}); err != nil {
		return err
	}
	rep := segmentReport{Generator: generator, Image: imgPath, Width: r.Width, Height: r.Height, InputWidth: r.InputWidth, InputHeight: r.InputHeight,
		LabelsFormat: format, Settings: settingsOf(o), Outputs: []string{labelsPath, overlayPath}}
	for c := 0; c < C; c++ {
		rep.Classes = append(rep.Classes, classInfo{Index: c, Name: r.Classes[c], Synonyms: synonyms[c], Color: pal[c],
			Fraction: round6(r.Fractions[c]), Score: round6(r.Scores[c]), Kept: r.Kept[c]})
	}
	return g.writeFile(filepath.Join(dir, base+".json"), func(w io.Writer) error { return writeJSON(w, rep) })
}

// generator marks freeseg's JSON outputs (as the PNG text chunk marks its
// images).
var generator = "freeseg " + version

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
