package main

import (
	"flag"
	"fmt"

	"github.com/freeseg/freeseg/clip"
)

// modelCommands are the commands that run the model: they take
// --precision.
var modelCommands = map[string]bool{
	"segment": true, "explain": true, "features": true, "embed": true, "classify": true,
	"eval": true, "serve": true, "bench": true,
}

// modelPrecision is the --precision of the command being run (a process
// runs one command; tests run them one after another). loadModel converts
// the model to it.
var modelPrecision = clip.FP32

// registerPrecision adds --precision to a model command's flags.
func registerPrecision(fs *flag.FlagSet) {
	modelPrecision = clip.FP32
	fs.Func("precision", "fp32 or bf16: bf16 stores the weights in half the memory, rounds the matrix inputs to bf16 and sums in float32; about twice as fast on CPUs with AVX512-BF16 (see the README's speed section)", func(v string) (err error) {
		modelPrecision, err = clip.ParsePrecision(v)
		return err
	})
}

// applyPrecision converts a freshly loaded model to --precision (the fp32
// weights are then dropped), with a note where bf16 is not faster.
func applyPrecision(m *clip.Model) (*clip.Model, error) {
	if modelPrecision == clip.BF16 {
		if note := clip.BF16Note(); note != "" {
			fmt.Fprintln(modelLog, note)
		}
	}
	return m.IntoPrecision(modelPrecision)
}
