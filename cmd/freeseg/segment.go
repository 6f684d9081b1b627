package main

import (
	"context"
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
	opts := freeseg.DefaultOptions()
	settings := bindSettings(fs, opts, freeseg.ForSegment)
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
	vocab, notes, err := buildVocabulary(*classes, *classesFile, *background)
	if err != nil {
		return err
	}
	if err := settings.apply(&opts); err != nil {
		return err
	}
	if err := prepareOutDir(*out); err != nil {
		return err
	}
	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	if err := eng.Validate(opts); err != nil {
		return usageError{err.Error()}
	}
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	// Ctrl-C stops the image in progress (between windows) and the run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	guard := newGuard(append(append([]string{}, inputs...), *classesFile)...)
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
		res, err := eng.Segment(ctx, img, vocab, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		base := bases[i]
		if err := writeSegmentOutputs(guard, *out, base, path, res, vocab, opts); err != nil {
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

// segmentReport is NAME.json: the report the service also answers with,
// and the files written.
type segmentReport struct {
	freeseg.SegmentReport
	Outputs []string `json:"outputs"`
}

func writeSegmentOutputs(g guardInputs, dir, base, imgPath string, r *freeseg.Result, vocab *prompts.Vocabulary, o freeseg.Options) error {
	C := len(r.Classes)
	if C > 256 {
		return fmt.Errorf("%d classes do not fit a palette PNG (256 at most)", C)
	}
	pal := freeseg.ClassColors(C, r.Background)
	labelsPath := filepath.Join(dir, base+".labels.png")
	if err := g.writeFile(labelsPath, func(w io.Writer) error {
		return imageio.WritePalettePNG(w, r.Labels, r.Width, r.Height, pal)
	}); err != nil {
		return err
	}
	overlay := freeseg.Overlay(r)
	overlayPath := filepath.Join(dir, base+".overlay.png")
	if err := g.writeFile(overlayPath, func(w io.Writer) error { return imageio.EncodePNG(w, overlay) }); err != nil {
		return err
	}
	rep := segmentReport{SegmentReport: freeseg.NewSegmentReport(r, vocab, &o), Outputs: []string{labelsPath, overlayPath}}
	rep.Image = imgPath
	return g.writeFile(filepath.Join(dir, base+".json"), func(w io.Writer) error { return writeJSON(w, rep) })
}

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
