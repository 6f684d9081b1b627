package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/export"
)

func init() {
	register(&command{
		name:    "features",
		summary: "write the dense token features of a method for one image (safetensors)",
		usage:   "[--model DIR|ORG/NAME] [--method M] [--square S | --short-side S] --out FILE.safetensors IMAGE",
		run:     runFeatures,
	})
}

func runFeatures(e *env, args []string) error {
	fs := newFlags(e, commands["features"])
	model := fs.String("model", "", modelHelp)
	image := fs.String("image", "", "image file (or give it as the positional argument)")
	opts := freeseg.DefaultOptions()
	settings := freeseg.BindFlags(fs, opts, freeseg.ForFeatures)
	out := fs.String("out", "", "output .safetensors file")
	vfm := vfmFlag(fs)
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos")
	force := forceFlag(fs)
	maxMem := fs.Int64("max-memory-mb", 0, "refuse an image whose decoding is estimated (from the header) to need more memory than this (0 = half of the available memory)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *image == "" && len(pos) == 1 {
		*image, pos = pos[0], nil
	}
	if len(pos) > 0 {
		return freeseg.Usagef("unexpected arguments %q: features takes one image", pos)
	}
	if *image == "" || *out == "" {
		return freeseg.Usagef("an image and --out are required")
	}
	if err := settings.Apply(&opts); err != nil {
		return err
	}
	usePrecision(opts.Precision)
	if err := batch.CheckImages([]string{*image}, *exif, *maxMem); err != nil {
		return err
	}
	cm, err := loadModel(*model)
	if err != nil {
		return err
	}
	img, err := batch.LoadImage(*image, *exif)
	if err != nil {
		return err
	}
	eng := freeseg.NewEngine(cm)
	eng.VFMSource = *vfm
	applyForce(eng, *force)
	f, b, err := eng.Features(context.Background(), img, opts)
	warnBudget(e, *image, b)
	var be *freeseg.BudgetError
	if errors.As(err, &be) {
		return budgetError(*image, err) // with the way out, --force
	} else if err != nil {
		return err
	}
	w, h := b.InputW, b.InputH
	if err := export.WriteFeatures(batch.NewGuard(*image), *out, *image, f, opts.Method.Name, w, h, cm.Config.Name(), generator); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: tokens [1, %d, %d] (input %dx%d, grid %dx%d, width x height; CLS at row 0)\n", *out, f.Tokens(), f.E, w, h, f.GW, f.GH)
	return nil
}
