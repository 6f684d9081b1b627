package main

import (
	"fmt"
	"io"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/weights"
)

func init() {
	register(&command{
		name:    "embed",
		summary: "CLIP image and text embeddings (encode_image/encode_text), as safetensors or cosine similarities",
		usage:   "[--model DIR|ORG/NAME] [--text TEXT]... [--preprocess openai|square] [--size N] [--out FILE.safetensors] [IMAGE...]",
		run:     runEmbed,
	})
	register(&command{
		name:    "classify",
		summary: "zero-shot classification of images over class names (prompt ensemble)",
		usage:   "[--model DIR|ORG/NAME] --classes \"cat, kitten; dog\" [--templates openai80|surgery85|single] IMAGE|FOLDER...",
		run:     runClassify,
	})
}

func runEmbed(e *env, args []string) error {
	fs := newFlags(e, commands["embed"])
	model := fs.String("model", "", modelHelp)
	var images, texts listFlag
	fs.Var(&images, "image", "image file (repeatable; positional arguments work too)")
	fs.Var(&texts, "text", "text (repeatable)")
	pre := fs.String("preprocess", "openai", "openai (short side + center crop) or square (CLIP Surgery)")
	size := fs.Int("size", 0, "input size (default: the model's, 224 for ViT-B/16)")
	out := fs.String("out", "", "write image_embeds [n,E] and text_embeds [m,E] to this safetensors file instead of printing cosines")
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos")
	maxMem := fs.Int64("max-memory-mb", 0, "refuse images whose decoding is estimated (from the header) to need more memory than this (0 = half of the available memory)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	images = append(images, pos...)
	if len(images) == 0 && len(texts) == 0 {
		return freeseg.Usagef("give at least one image or --text")
	}
	if err := batch.CheckImages(images, *exif, *maxMem); err != nil {
		return err
	}
	m, err := loadModel(*model)
	if err != nil {
		return err
	}
	em, err := freeseg.Embed(m, images, loadFiles(images, *exif), *pre, *size, texts)
	if err != nil {
		return err
	}
	if *out != "" {
		g := batch.NewGuard(images...)
		if err := g.WriteFile(*out, func(w io.Writer) error { return weights.WriteSafetensors(w, em.Tensors(), nil) }); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote %s: %d image and %d text embeddings of %d\n", *out, len(images), len(texts), em.E)
		return nil
	}
	return export.WriteJSON(e.stdout, em.Report())
}

func runClassify(e *env, args []string) error {
	fs := newFlags(e, commands["classify"])
	model := fs.String("model", "", modelHelp)
	var images listFlag
	fs.Var(&images, "image", "image file or folder (repeatable; positional arguments work too)")
	classes := fs.String("classes", "", "classes: \"cat, dog, sky\" (one name each) or \"cat, kitten; dog; sky\" (';' separates classes, ',' synonyms; a class scores as its best synonym), as in segment")
	classesFile := fs.String("classes-file", "", "class file: one class per line, synonyms separated by \", \" (the SCLIP/NACLIP format)")
	templates := fs.String("templates", "openai80", "prompt templates: openai80, surgery85 or single")
	pre := fs.String("preprocess", "openai", "openai (short side + center crop) or square")
	top := fs.Int("top", 5, "print the best N classes per image (0 = all)")
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos")
	recursive := fs.Bool("recursive", false, "take the images of subfolders too")
	maxMem := fs.Int64("max-memory-mb", 0, "refuse images whose decoding is estimated (from the header) to need more memory than this (0 = half of the available memory)")
	noCache := fs.Bool("no-cache", false, "do not read or write the on-disk text classifier cache")
	quiet := fs.Bool("quiet", false, "no progress lines")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(images)+len(pos) == 0 {
		return freeseg.Usagef("no image given")
	}
	vocab, err := freeseg.ParseClasses(*classes, *classesFile)
	if err != nil {
		return err
	}
	if vocab == nil {
		return freeseg.Usagef("--classes is required: \"cat, dog\" or \"cat, kitten; dog\"")
	}
	ins, _, _, bad, err := batch.Expand(append(images, pos...), *recursive, "")
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return bad[0].Err
	}
	paths := batch.Paths(ins)
	if err := batch.CheckImages(paths, *exif, *maxMem); err != nil {
		return err
	}
	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	queries, _ := vocab.Queries()
	if err := buildClassifier(e.stderr, eng, queries, prompts.TemplateSet(*templates), *quiet); err != nil {
		return err
	}
	img, err := freeseg.EncodeImages(eng.Model, len(paths), loadFiles(paths, *exif), *pre, 0)
	if err != nil {
		return err
	}
	tops, err := eng.ZeroShot(img, len(paths), vocab, prompts.TemplateSet(*templates), *top)
	if err != nil {
		return err
	}
	for i, p := range paths {
		if err := export.WriteJSONLine(e.stdout, map[string]any{"image": p, "top": tops[i]}); err != nil {
			return err
		}
	}
	return nil
}

// loadFiles reads the image i of paths.
func loadFiles(paths []string, exif bool) func(i int) (*imageio.RGB, error) {
	return func(i int) (*imageio.RGB, error) { return batch.LoadImage(paths[i], exif) }
}
