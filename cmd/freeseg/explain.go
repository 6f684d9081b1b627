package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

func init() {
	register(&command{
		name:    "explain",
		summary: "image-text similarity heat maps (CLIP Surgery), one PNG per text",
		usage:   "[--model DIR|ORG/NAME] --text \"cat, dog\" [--text TEXT]... [--out DIR] [flags] IMAGE|FOLDER...",
		run:     runExplain,
	})
}

// safeName makes a class name usable in a file name.
func safeName(s string) string {
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

func runExplain(e *env, args []string) error {
	fs := newFlags(e, commands["explain"])
	model := fs.String("model", "", modelHelp)
	var images, textFlags listFlag
	fs.Var(&images, "image", "image file or folder (repeatable; positional arguments work too)")
	fs.Var(&textFlags, "text", "texts to explain: repeatable, and each may list several separated by commas (or ';')")
	opt := freeseg.DefaultExplainOptions()
	settings := bindSettings(fs, opt, freeseg.ForExplain)
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
		return usagef("no image given: freeseg explain --text \"cat, dog\" IMAGE")
	}
	var texts []string
	seen := map[string]bool{}
	for _, t := range textFlags {
		if strings.TrimSpace(t) == "" {
			continue
		}
		v, err := prompts.ParseClassList(strings.ReplaceAll(t, ";", ","))
		if err != nil {
			return fmt.Errorf("--text: %w", err)
		}
		for _, n := range v.ClassNames() {
			if seen[n] {
				return usagef("--text: %q is given twice", n)
			}
			seen[n] = true
			texts = append(texts, n)
		}
	}
	if len(texts) == 0 {
		return usagef("--text is required: the texts to explain, e.g. \"cat, dog\" or --text cat --text dog")
	}
	if *size != 0 {
		if _, dup := settings.given["square"]; dup {
			return usagef("give --square or --size (its older name), not both")
		}
		settings.given["square"] = fmt.Sprint(*size)
	}
	if err := settings.apply(&opt); err != nil {
		return err
	}
	if opt.Resize.Mode != freeseg.ResizeSquare {
		return usagef("--square must be at least 1: explanations take a square input")
	}
	if opt.FeatureSurgery == freeseg.SurgeryMulti && len(texts) < 2 {
		return usagef("--feature-surgery multi needs two or more texts; use redundant or auto for one")
	}
	usePrecision(opt.Precision)
	bf.maxSide = opt.MaxSide // images are scaled as they are decoded
	if err := checkOutDir(*out); err != nil {
		return err
	}
	inputs, _, protected, bad, err := expandInputs(args, bf.recursive, *out)
	if err != nil {
		return err
	}
	fails := &failures{total: len(inputs) + len(bad), list: bad}
	if bf.strict && len(bad) > 0 {
		return bad[0].err
	}
	suffixes := []string{".explain.json"}
	for _, t := range texts {
		suffixes = append(suffixes, ".heat."+safeName(t)+".png")
	}
	limit, why := memLimit(bf.maxMemoryMB, "/proc/meminfo")
	// Per pixel: the maps of every text and the empty name, their
	// upsampled copies, the heat overlay and its RGBA encoder image.
	perPixel := int64(8*(len(texts)+1) + 10)
	var todo []input
	for _, in := range inputs {
		if err := checkImageMemory(&in, bf.maxSide, *exif, perPixel, limit, why); err != nil {
			if bf.strict {
				return err
			}
			fails.add(in.path, err)
			continue
		}
		todo = append(todo, in)
	}
	if len(todo) == 0 {
		return fails.err()
	}
	assignNames(todo, *out, suffixes, protected)
	var planned []string
	for _, in := range todo {
		for _, s := range suffixes {
			planned = append(planned, filepath.Join(*out, in.rel, in.base+s))
		}
	}
	if removed, err := imageio.RemoveStaleTemps(planned); err == nil && len(removed) > 0 {
		fmt.Fprintf(e.stderr, "note: removed %d temporary files left by an interrupted run (%s)\n", len(removed), strings.Join(removed, ", "))
	}
	eng, err := openEngine(*model, *noCache)
	if err == nil {
		applyForce(eng, *force)
		eng.VFMSource = *vfm
	}
	if err != nil {
		return err
	}
	guardPaths := protected
	for _, in := range inputs {
		guardPaths = append(guardPaths, in.path)
	}
	outs := &outputs{guard: newGuard(guardPaths...)}
	defer outs.removeEmpty()
	for _, in := range todo {
		err := explainOne(e, eng, outs, in, filepath.Join(*out, in.rel), texts, opt, *exif, bf.maxSide)
		if err != nil {
			if bf.strict {
				return err
			}
			fails.add(in.path, err)
			fmt.Fprintf(e.stderr, "error: %v\n", err)
		}
	}
	return fails.err()
}

func explainOne(e *env, eng *freeseg.Engine, outs *outputs, in input, dir string, texts []string, opt freeseg.Options, exif bool, maxSide int) error {
	img, err := loadImageMax(in.path, exif, maxSide)
	if err != nil {
		return err
	}
	if b, err := eng.ExplainBudget(img.W, img.H, len(texts), opt); err == nil {
		warnBudget(e, in.path, b)
	}
	ex, err := eng.Explain(context.Background(), img, texts, opt)
	if err != nil {
		return budgetError(in.path, err)
	}
	img = ex.Image
	HW := img.W * img.H
	var written []string
	for k, t := range texts {
		heat := imageio.HeatOverlay(img, ex.Maps[k*HW:(k+1)*HW])
		p := filepath.Join(dir, in.base+".heat."+safeName(t)+".png")
		if err := outs.writeFile(p, func(w io.Writer) error {
			return markedPNG(w, "heat", func(w io.Writer) error { return imageio.EncodePNG(w, heat) })
		}); err != nil {
			return err
		}
		written = append(written, p)
	}
	rep := struct {
		Generator string `json:"generator"`
		freeseg.ExplainReport
		Outputs []string `json:"outputs"`
	}{generator, freeseg.NewExplainReport(ex, &opt), written}
	rep.Image = in.path
	if err := outs.writeFile(filepath.Join(dir, in.base+".explain.json"), func(w io.Writer) error { return writeJSON(w, rep) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d heat maps in %s\n", filepath.Join(in.rel, in.base), len(texts), dir)
	return nil
}
