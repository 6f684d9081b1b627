package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/export"
)

func init() {
	register(&command{
		name:    "explain",
		summary: "image-text similarity heat maps (CLIP Surgery), one PNG per text",
		usage:   "[--model DIR|ORG/NAME] --text \"cat, dog\" [--text TEXT]... [--out DIR] [flags] IMAGE|FOLDER...",
		run:     runExplain,
	})
}

func runExplain(e *env, args []string) error {
	fs := newFlags(e, commands["explain"])
	model := fs.String("model", "", modelHelp)
	var images, textFlags listFlag
	fs.Var(&images, "image", "image file or folder (repeatable; positional arguments work too)")
	fs.Var(&textFlags, "text", "texts to explain: repeatable, and each may list several separated by commas (or ';')")
	opt := freeseg.DefaultExplainOptions()
	settings := freeseg.BindFlags(fs, opt, freeseg.ForExplain)
	vfm := vfmFlag(fs)
	size := fs.Int("size", 0, "deprecated alias of --square")
	out := fs.String("out", "freeseg-out", "output folder (created if needed; inputs are never overwritten)")
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos")
	noCache := fs.Bool("no-cache", false, "do not use the on-disk text classifier cache")
	force := forceFlag(fs)
	var bf batchFlags
	bf.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if err := bf.validate(); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "size" {
			fmt.Fprintln(e.stderr, "note: --size is deprecated; use --square (the same flag as segment's)")
		}
	})
	args = append(images, pos...)
	if len(args) == 0 {
		return freeseg.Usagef("no image given: freeseg explain --text \"cat, dog\" IMAGE")
	}
	texts, err := freeseg.ParseTexts(textFlags)
	if err != nil {
		return err
	}
	if len(texts) == 0 {
		return freeseg.Usagef("--text is required: the texts to explain, e.g. \"cat, dog\" or --text cat --text dog")
	}
	if *size != 0 {
		if _, dup := settings.Given["square"]; dup {
			return freeseg.Usagef("give --square or --size (its older name), not both")
		}
		settings.Given["square"] = fmt.Sprint(*size)
	}
	if err := settings.Apply(&opt); err != nil {
		return err
	}
	if opt.Resize.Mode != freeseg.ResizeSquare {
		return freeseg.Usagef("--square must be at least 1: explanations take a square input")
	}
	if opt.FeatureSurgery == freeseg.SurgeryMulti && len(texts) < 2 {
		return freeseg.Usagef("--feature-surgery multi needs two or more texts; use redundant or auto for one")
	}
	usePrecision(opt.Precision)
	bf.maxSide = opt.MaxSide // images are scaled as they are decoded
	if err := batch.CheckOutDir(*out); err != nil {
		return err
	}
	suffixes := []string{".explain.json"}
	for _, t := range texts {
		suffixes = append(suffixes, ".heat."+export.SafeName(t)+".png")
	}
	// Per pixel: the maps of every text and the empty name, their
	// upsampled copies, the heat overlay and its RGBA encoder image.
	perPixel := int64(8*(len(texts)+1) + 10)
	plan, err := batch.NewPlan(args, batch.PlanOptions{Recursive: bf.recursive, Strict: bf.strict, Out: *out,
		Suffixes: suffixes, MaxMemoryMB: bf.maxMemoryMB,
		Check: func(in *batch.Input, limit int64, why string) (string, error) {
			return "", batch.CheckImageMemory(in, bf.maxSide, *exif, perPixel, limit, why)
		}})
	if err != nil {
		return err
	}
	fails := plan.Fails
	if len(plan.Todo) == 0 {
		return fails.Err()
	}
	if len(plan.Removed) > 0 {
		fmt.Fprintf(e.stderr, "note: removed %d temporary files left by an interrupted run (%s)\n", len(plan.Removed), strings.Join(plan.Removed, ", "))
	}
	eng, err := openEngine(*model, *noCache)
	if err == nil {
		applyForce(eng, *force)
		eng.VFMSource = *vfm
	}
	if err != nil {
		return err
	}
	outs := batch.NewOutputs(plan.Inputs, plan.Protected...)
	defer outs.RemoveEmpty()
	for _, in := range plan.Todo {
		err := explainOne(e, eng, outs, in, filepath.Join(*out, in.Rel), texts, opt, *exif, bf.maxSide)
		if err != nil {
			if bf.strict {
				return err
			}
			fails.Add(in.Path, err)
			fmt.Fprintf(e.stderr, "error: %v\n", err)
		}
	}
	return fails.Err()
}

func explainOne(e *env, eng *freeseg.Engine, outs *batch.Outputs, in batch.Input, dir string, texts []string, opt freeseg.Options, exif bool, maxSide int) error {
	img, err := batch.LoadImageMax(in.Path, exif, maxSide)
	if err != nil {
		return err
	}
	if b, err := eng.ExplainBudget(img.W, img.H, len(texts), opt); err == nil {
		warnBudget(e, in.Path, b)
	}
	ex, err := eng.Explain(context.Background(), img, texts, opt)
	if err != nil {
		return budgetError(in.Path, err)
	}
	if err := export.WriteExplain(outs, dir, in.Base, in.Path, ex, texts, opt, generator); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d heat maps in %s\n", filepath.Join(in.Rel, in.Base), len(texts), dir)
	return nil
}
