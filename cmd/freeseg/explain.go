package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

func init() {
	register(&command{
		name:    "explain",
		summary: "image-text similarity heat maps (CLIP Surgery), one PNG per text",
		usage:   "--model DIR --image FILE --text \"cat, dog\" --out DIR [flags]",
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
	image := fs.String("image", "", "image file")
	text := fs.String("text", "", "texts to explain, separated by commas (or ';')")
	d := freeseg.DefaultExplainOptions()
	method := fs.String("method", d.Method.Name, "dense method: "+strings.Join(dense.Names(), ", "))
	fsMode := fs.String("feature-surgery", "auto", "multi (two or more texts), redundant (subtract the empty-name feature), off, or auto (multi for several texts, redundant for one)")
	size := fs.Int("size", d.Size, "square input size (224 as in CLIP Surgery's demo; 512 for finer maps)")
	templates := fs.String("templates", d.Templates, "prompt templates: surgery85, openai80 or single")
	out := fs.String("out", "freeseg-out", "output folder (created if needed)")
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos")
	noCache := fs.Bool("no-cache", false, "do not use the on-disk text classifier cache")
	force := forceFlag(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *image == "" && len(pos) == 1 {
		*image, pos = pos[0], nil
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if *image == "" {
		return usagef("--image FILE is required")
	}
	if strings.TrimSpace(*text) == "" {
		return usagef("--text is required: the texts to explain, e.g. \"cat, dog\"")
	}
	v, err := prompts.ParseClassList(strings.ReplaceAll(*text, ";", ","))
	if err != nil {
		return fmt.Errorf("--text: %w", err)
	}
	texts := v.ClassNames()
	m, err := dense.ByName(*method)
	if err != nil {
		return usageError{err.Error()}
	}
	opt := freeseg.ExplainOptions{Method: m, Templates: *templates, Size: *size, FeatureSurgery: *fsMode}
	if opt.FeatureSurgery == "auto" {
		opt.FeatureSurgery = "multi"
		if len(texts) == 1 {
			opt.FeatureSurgery = "redundant"
		}
	}
	if err := prepareOutDir(*out); err != nil {
		return err
	}
	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	img, err := loadImage(*image, *exif)
	if err != nil {
		return err
	}
	applyForce(eng, *force)
	if b, err := eng.ExplainBudget(img.W, img.H, len(texts), opt); err == nil {
		warnBudget(e, *image, b)
	}
	ex, err := eng.Explain(img, texts, opt)
	if err != nil {
		return budgetError(*image, err)
	}
	g := newGuard(*image)
	base := outputNames([]string{*image})[0]
	HW := img.W * img.H
	var written []string
	for k, t := range texts {
		heat := imageio.HeatOverlay(img, ex.Maps[k*HW:(k+1)*HW])
		p := filepath.Join(*out, base+".heat."+safeName(t)+".png")
		if err := g.writeFile(p, func(w io.Writer) error { return imageio.EncodePNG(w, heat) }); err != nil {
			return err
		}
		written = append(written, p)
	}
	rep := map[string]any{
		"image": *image, "width": img.W, "height": img.H, "texts": texts, "method": m.Name,
		"feature_surgery": opt.FeatureSurgery, "size": opt.Size, "templates": opt.Templates, "outputs": written,
	}
	if err := g.writeFile(filepath.Join(*out, base+".explain.json"), func(w io.Writer) error { return writeJSON(w, rep) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s: %d heat maps in %s\n", base, len(texts), *out)
	return nil
}
