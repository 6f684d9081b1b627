package freeseg_test

import (
	"context"
	"fmt"
	"log"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// Open a model by hub id (downloaded into the cache on first use), a local
// model folder or a checkpoint file, and segment a photo. (Compiled, not
// run: it needs the network or a real model.)
func ExampleOpen() {
	e, err := freeseg.Open("openai/clip-vit-base-patch16")
	if err != nil {
		log.Fatal(err)
	}
	img, _, err := imageio.Open("photo.jpg")
	if err != nil {
		log.Fatal(err)
	}
	classes, err := prompts.ParseClassList("cat; dog; sofa")
	if err != nil {
		log.Fatal(err)
	}
	vocab, _, err := freeseg.WithBackground(classes, "default")
	if err != nil {
		log.Fatal(err)
	}
	opts := freeseg.DefaultOptions()
	res, err := e.Segment(context.Background(), img, vocab, opts)
	if err != nil {
		log.Fatal(err)
	}
	for c, name := range res.Classes {
		fmt.Printf("%-12s %5.1f%% of the pixels, image score %.2f\n", name, 100*res.Fractions[c], res.Scores[c])
	}
}

// Segment an image into three classes plus the default background (class 0,
// made of 26 "stuff" names) with the recommended setting. The model here has
// random weights, so the labels mean nothing; the shapes and the bookkeeping
// are those of a real run.
func ExampleEngine_Segment() {
	m, err := clip.Random(clip.Config{VisionWidth: 64, VisionLayers: 6, VisionHeads: 1, Patch: 16, Grid: 4, EmbedDim: 32,
		TextWidth: 64, TextLayers: 1, TextHeads: 1, ContextLength: 77, VocabSize: 49408}, 1)
	if err != nil {
		log.Fatal(err)
	}
	e := freeseg.NewEngine(m)
	img := imageio.NewRGB(96, 64)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	classes, err := prompts.ParseClassList("cat; dog, puppy; sofa")
	if err != nil {
		log.Fatal(err)
	}
	vocab, _, err := freeseg.WithBackground(classes, "default")
	if err != nil {
		log.Fatal(err)
	}
	opts := freeseg.DefaultOptions()
	res, err := e.Segment(context.Background(), img, vocab, opts)
	if err != nil {
		log.Fatal(err)
	}
	total := 0.0
	for _, f := range res.Fractions {
		total += f
	}
	fmt.Println("classes:", res.Classes[1:], "after", len(vocab.Names[0]), "background names")
	fmt.Println("queries encoded:", len(res.Queries))
	fmt.Printf("label map %dx%d, fractions sum to %.3f\n", res.Width, res.Height, total)
	// Output:
	// classes: [cat dog sofa] after 26 background names
	// queries encoded: 30
	// label map 96x64, fractions sum to 1.000
}
