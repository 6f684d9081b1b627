package freeseg_test

import (
	"fmt"
	"log"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// Segment a photo into three classes plus background with the default
// setting (CLIP Surgery features, the FreeSeg stages on).
func ExampleEngine_Segment() {
	e, err := freeseg.Open("openai/clip-vit-base-patch16") // or a local model folder
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
	vocab, background, _, err := freeseg.WithBackground(classes, "default")
	if err != nil {
		log.Fatal(err)
	}
	opts := freeseg.DefaultOptions()
	opts.Background = background // class 0 is the 26 "stuff" names
	res, err := e.Segment(img, vocab, opts)
	if err != nil {
		log.Fatal(err)
	}
	for c, name := range res.Classes {
		fmt.Printf("%-12s %5.1f%% of the pixels, image score %.2f, kept %v\n", name, 100*res.Fractions[c], res.Scores[c], res.Kept[c])
	}
}
