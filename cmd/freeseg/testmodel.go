package main

import (
	"fmt"

	"github.com/freeseg/freeseg"
)

func init() {
	register(&command{
		name:    "testmodel",
		summary: "write a tiny CLIP with RANDOM weights to try the commands without downloading a model (its segmentations are meaningless)",
		usage:   "--out DIR [--seed N]",
		run:     runTestModel,
	})
}

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
	if err := freeseg.WriteTestModel(*out, *seed); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote a RANDOM-weight test model (not a real CLIP; results are meaningless) to %s\n", *out)
	return nil
}
