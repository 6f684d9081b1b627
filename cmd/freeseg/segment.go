package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
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
	vfm := vfmFlag(fs)
	opts := freeseg.DefaultOptions()
	settings := bindSettings(fs, opts, freeseg.ForSegment)
	var xf exportFlags
	xf.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := bf.validate(); err != nil {
		return err
	}
	// Everything that can be checked without the model is checked first.
	vocab, notes, err := buildVocabulary(*classes, *classesFile, *background)
	if err != nil {
		return err
	}
	if vocab.Len() > maxLabelClasses {
		return usagef("%d classes: a label map holds at most %d", vocab.Len(), maxLabelClasses)
	}
	if err := settings.apply(&opts); err != nil {
		return err
	}
	bf.maxSide = opts.MaxSide // images are scaled as they are decoded
	usePrecision(opts.Precision)
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
	eng.VFMSource = *vfm
	if err := eng.Validate(opts); err != nil {
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
	var inputPaths []string
	for _, in := range todo {
		inputPaths = append(inputPaths, in.path)
	}
	exp, err := newExporter(xf, inputPaths, outs.guard) // --masks, --coco, --instances
	if err != nil {
		return err
	}
	defer exp.close()
	// Ctrl-C stops the image in progress (between windows) and the run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
			res, err = eng.Segment(ctx, l.img, vocab, opts)
			if err != nil {
				err = budgetError(in.path, err)
			}
		}
		if err == nil {
			dir := filepath.Join(*out, in.rel)
			var x *imageExports
			x, err = exp.image(i, outs, dir, in.base, in.path, res, res.Background) // exports, segment_export.go
			if err == nil {
				err = writeSegmentOutputs(outs, dir, in.base, in.path, res, vocab, opts, x)
			}
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
	if err := exp.finish(outs.guard); err != nil {
		return err
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
	case freeseg.ResizeShort:
		iw, ih = imageio.KeepRatioSize(w, hh, o.Resize.Size, o.Resize.MaxLong)
		need := (max(w, hh)*o.Resize.Size + min(w, hh) - 1) / min(w, hh)
		if iw < 1 || ih < 1 {
			return "", fmt.Errorf("%s: %dx%d would be resized to %dx%d (short side %d, long side at most %d): give --max-long %d, or --square",
				in.path, w, hh, iw, ih, o.Resize.Size, o.Resize.MaxLong, need)
		}
		if short := min(iw, ih); short < o.Resize.Size {
			warn = fmt.Sprintf("%s: %dx%d is resized to %dx%d: the long side is capped at %d, so the short side is %d pixels, not %d",
				in.path, w, hh, iw, ih, o.Resize.MaxLong, short, o.Resize.Size)
			if c := o.Window.Crop; !o.Whole && short < c {
				warn += fmt.Sprintf(", smaller than the %d crop", c)
			}
			warn += fmt.Sprintf("; --max-long %d keeps the short side", need)
		}
	case freeseg.ResizeSquare:
		iw, ih = o.Resize.Size, o.Resize.Size
	}
	in.inW, in.inH = iw, ih
	if c := o.Window.Crop; !o.Whole && c > iw && c > ih {
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

// segmentReport is NAME.json: the report the service also answers with,
// the files written and the exports.
type segmentReport struct {
	freeseg.SegmentReport
	Outputs []string `json:"outputs"`
	// With --instances (segment_export.go).
	Instances        []export.Region `json:"instances,omitzero"`
	InstancesDropped int             `json:"instances_dropped,omitempty"`
}

func writeSegmentOutputs(g *outputs, dir, base, imgPath string, r *freeseg.Result, vocab *prompts.Vocabulary, o freeseg.Options, x *imageExports) error {
	C := len(r.Classes)
	pal := freeseg.ClassColors(C, r.Background)
	labelsPath := filepath.Join(dir, base+".labels.png")
	format := freeseg.LabelsFormat(C)
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
	overlay := freeseg.Overlay(r)
	overlayPath := filepath.Join(dir, base+".overlay.png")
	if err := g.writeFile(overlayPath, func(w io.Writer) error {
		return markedPNG(w, "overlay", func(w io.Writer) error { return imageio.EncodePNG(w, overlay) })
	}); err != nil {
		return err
	}
	rep := segmentReport{SegmentReport: freeseg.NewSegmentReport(r, vocab, &o), Outputs: []string{labelsPath, overlayPath}}
	rep.Generator, rep.Image = generator, imgPath
	x.addTo(&rep)
	return g.writeFile(filepath.Join(dir, base+".json"), func(w io.Writer) error { return writeJSON(w, rep) })
}

// generator marks freeseg's JSON outputs (as the PNG text chunk marks its
// images).
var generator = "freeseg " + version

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
