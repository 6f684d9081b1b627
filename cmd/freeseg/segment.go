package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/export"
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
	settings := freeseg.BindFlags(fs, opts, freeseg.ForSegment)
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
	vocab, notes, err := freeseg.SegmentVocabulary(*classes, *classesFile, *background)
	if err != nil {
		return err
	}
	if vocab.Len() > maxLabelClasses {
		return freeseg.Usagef("%d classes: a label map holds at most %d", vocab.Len(), maxLabelClasses)
	}
	if err := settings.Apply(&opts); err != nil {
		return err
	}
	bf.maxSide = opts.MaxSide // images are scaled as they are decoded
	usePrecision(opts.Precision)
	if err := batch.CheckOutDir(*out); err != nil {
		return err
	}
	args = append(images, pos...)
	if len(args) == 0 {
		return freeseg.Usagef("no image given")
	}
	queries, _ := vocab.Queries()
	plan, err := batch.NewPlan(args, batch.PlanOptions{Recursive: bf.recursive, Strict: bf.strict, Out: *out,
		Suffixes: batch.SegmentSuffixes, MaxMemoryMB: bf.maxMemoryMB,
		Expanded: func(inputs, skipped int) error {
			if *saveTensors != "" && inputs > 1 && !strings.Contains(*saveTensors, "{name}") {
				return freeseg.Usagef("--save-tensors with %d images needs {name} in the path", inputs)
			}
			if skipped > 0 && !*quiet {
				fmt.Fprintf(e.stderr, "note: skipped %d of freeseg's own outputs (*.labels.png, *.overlay.png, *.heat.*.png or marked PNGs) in the input folders\n", skipped)
			}
			return nil
		},
		Check: func(in *batch.Input, limit int64, why string) (string, error) {
			return batch.PlanSegment(in, len(queries), vocab.Len(), opts, bf.maxSide, *exif, *saveTensors != "", limit, why)
		},
		Warn: func(warn string) {
			if !*quiet {
				fmt.Fprintln(e.stderr, "warning:", warn)
			}
		}})
	if err != nil {
		return err
	}
	fails, todo, inputs, protected := plan.Fails, plan.Todo, plan.Inputs, plan.Protected
	if len(todo) == 0 {
		return fails.Err()
	}
	if len(plan.Removed) > 0 && !*quiet {
		fmt.Fprintf(e.stderr, "note: removed %d temporary files left by an interrupted run (%s)\n", len(plan.Removed), strings.Join(plan.Removed, ", "))
	}

	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	eng.VFMSource = *vfm
	if err := eng.Validate(opts); err != nil {
		return freeseg.AsUsage(err)
	}
	applyForce(eng, *force)
	// The last check that needs the model: every input holds a patch.
	if todo, err = fails.Keep(todo, bf.strict, batch.HoldsPatch(eng.Model.Vision.Patch), nil); err != nil {
		return err
	}
	if len(todo) == 0 {
		return fails.Err()
	}
	for _, n := range notes {
		fmt.Fprintln(e.stderr, "note:", n)
	}
	if err := buildClassifier(e.stderr, eng, queries, opts.Templates, *quiet); err != nil {
		return err
	}
	outs := batch.NewOutputs(inputs, append([]string{*classesFile}, protected...)...)
	defer outs.RemoveEmpty()
	prog := newProgress(e.stderr, len(todo), *quiet)
	exp, err := newExporter(xf, batch.Paths(todo), outs.Guard) // --masks, --coco, --instances
	if err != nil {
		return err
	}
	defer exp.Close()
	files := &export.SegmentFiles{Outputs: outs, Exporter: exp, Tensors: *saveTensors, Generator: generator}
	// Ctrl-C stops the image in progress (between windows) and the run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	defer close(done)
	decoded := batch.Prefetch(todo, *exif, bf.maxSide, done)
	wrote := 0
	for i, in := range todo {
		start := time.Now()
		l := <-decoded
		err := l.Err
		var res *freeseg.Result
		if err == nil {
			if b, berr := eng.SegmentBudget(l.Img.W, l.Img.H, len(queries), vocab.Len(), opts); berr == nil {
				warnBudget(e, in.Path, b)
			}
			res, err = eng.Segment(ctx, l.Img, vocab, opts)
			if err != nil {
				err = budgetError(in.Path, err)
			}
		}
		if err == nil {
			err = files.Write(i, *out, in, res, vocab, opts)
		}
		if err != nil {
			if bf.strict {
				return err
			}
			fails.Add(in.Path, err)
			if !*quiet {
				fmt.Fprintf(e.stderr, "error: %v\n", err)
			}
			continue
		}
		wrote++
		prog.done(i, filepath.Join(in.Rel, in.Base), freeseg.Summary(res, time.Since(start)))
	}
	if err := exp.Finish(outs.Guard); err != nil {
		return err
	}
	if wrote > 0 && !*quiet {
		fmt.Fprintf(e.stderr, "outputs in %s\n", *out)
	}
	return fails.Err()
}

// maxLabelClasses is the most classes a label map holds: a 16-bit PNG.
const maxLabelClasses = 65536

// generator marks freeseg's JSON outputs (as the PNG text chunk marks its
// images).
var generator = "freeseg " + version
