package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
)

func init() {
	register(&command{
		name:    "testmodel",
		summary: "write a tiny CLIP with RANDOM weights to try the commands without downloading a model (its segmentations are meaningless)",
		usage:   "--out DIR [--seed N]",
		run:     runTestModel,
	})
}

// testModelReadme goes beside the weights, so the folder explains itself.
const testModelReadme = `This folder holds a CLIP model with RANDOM weights, written by
"freeseg testmodel". It is NOT a trained model: its labels, heat maps and
scores are meaningless. It has the shapes of a small ViT (width 128, 8
vision layers, patch 16) and lets you try every freeseg command quickly.
For real results use a real model: freeseg pull openai/clip-vit-base-patch16.
`

func runTestModel(e *env, args []string) error {
	fs := newFlags(e, commands["testmodel"])
	out := fs.String("out", "", "folder to create (must not exist, or be empty)")
	seed := fs.Uint64("seed", 1, "random seed (the same seed writes the same model)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return freeseg.Usagef("unexpected argument %q", pos[0])
	}
	if *out == "" {
		return freeseg.Usagef("--out DIR is required")
	}
	// Never write into a folder that holds anything: it could be a real
	// model whose weights this would replace.
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; give a new folder", *out)
	} else if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("%s: %w", *out, err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, "model.safetensors")
	if err := imageio.WriteFileAtomic(path, func(w io.Writer) error { return clip.WriteRandom(w, clip.TinyConfig, *seed) }); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "README.txt"), []byte(testModelReadme), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote a RANDOM-weight test model (not a real CLIP; results are meaningless) to %s\n", *out)
	return nil
}
