package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/weights"
)

func init() {
	register(&command{
		name:    "features",
		summary: "write the dense token features of a method for one image (safetensors)",
		usage:   "[--model DIR|ORG/NAME] --method M (--square S | --short-side S) --out FILE.safetensors IMAGE",
		run:     runFeatures,
	})
}

func runFeatures(e *env, args []string) error {
	fs := newFlags(e, commands["features"])
	model := fs.String("model", "", modelHelp)
	image := fs.String("image", "", "image file (or give it as the positional argument)")
	method := fs.String("method", "surgery", "dense method: "+strings.Join(dense.Names(), ", "))
	square := fs.Int("square", 0, "resize to SxS with PIL bicubic and CLIP normalisation (CLIP Surgery)")
	short := fs.Int("short-side", 0, "resize the short side to S keeping the ratio, cv2 bilinear and mmseg normalisation (SCLIP/NACLIP)")
	out := fs.String("out", "", "output .safetensors file")
	vfm := fs.String("vfm", freeseg.DefaultVFM, "proxyclip: the DINO ViT guiding the attention (folder, checkpoint or hub id)")
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
		return usagef("unexpected arguments %q: features takes one image", pos)
	}
	if *image == "" || *out == "" {
		return usagef("an image and --out are required")
	}
	if (*square > 0) == (*short > 0) {
		return usagef("give exactly one of --square S and --short-side S")
	}
	m, err := dense.ByName(*method)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := checkImages([]string{*image}, *exif, *maxMem); err != nil {
		return err
	}
	cm, err := loadModel(*model)
	if err != nil {
		return err
	}
	img, err := loadImage(*image, *exif)
	if err != nil {
		return err
	}
	bw, bh := *square, *square
	if *short > 0 {
		bw, bh = imageio.KeepRatioSize(img.W, img.H, *short, imageio.MMSegMaxLong)
	}
	b := freeseg.FeaturesBudget(cm, nil, m, bh, bw)
	warnBudget(e, *image, b)
	limits := freeseg.DefaultLimits()
	if *force {
		limits = freeseg.NoLimits()
	}
	if err := b.Check(limits, cm.Vision.Patch); err != nil {
		return budgetError(*image, err)
	}
	var x []float32
	var w, h int
	if *square > 0 {
		x, w, h = imageio.PreprocessSquare(img, *square), *square, *square
	} else {
		x, w, h = imageio.PreprocessMMSeg(img, *short)
	}
	var guide *dino.Model
	if m.Proxy {
		eng := freeseg.NewEngine(cm)
		eng.VFMSource = *vfm
		if guide, err = eng.LoadVFM(); err != nil {
			return err
		}
	}
	f, err := m.FeaturesWith(context.Background(), cm, guide, x, 1, h, w)
	if err != nil {
		return err
	}
	// Both sizes are width x height, as everywhere in freeseg's outputs;
	// the tokens after CLS are in row-major order (grid_height rows of
	// grid_width).
	meta := map[string]string{
		"method": m.Name, "image": *image, "grid": fmt.Sprintf("%dx%d", f.GW, f.GH),
		"input": fmt.Sprintf("%dx%d", w, h), "size_order": "width x height", "model": cm.Config.Name(),
		"generator": generator,
	}
	g := newGuard(*image)
	if err := g.writeFile(*out, func(wr io.Writer) error {
		return weights.WriteSafetensors(wr, []*weights.Tensor{{Name: "tokens", Shape: []int{1, f.Tokens(), f.E}, F32: f.Data}}, meta)
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s: tokens [1, %d, %d] (input %dx%d, grid %dx%d, width x height; CLS at row 0)\n", *out, f.Tokens(), f.E, w, h, f.GW, f.GH)
	return nil
}
