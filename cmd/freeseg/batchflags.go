package main

import (
	"flag"

	"github.com/freeseg/freeseg"
)

// batchFlags are the batch and safety flags of the image commands. The
// scaling bound, maxSide, is the max_side setting of the settings table
// (--max-side), copied here once the flags are parsed.
type batchFlags struct {
	strict, recursive bool
	maxSide           int
	maxMemoryMB       int64
}

func (b *batchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&b.strict, "strict", false, "stop at the first image that fails (default: go on, list the failures at the end and exit 1)")
	fs.BoolVar(&b.recursive, "recursive", false, "take the images of subfolders too; outputs mirror the input tree")
	fs.Int64Var(&b.maxMemoryMB, "max-memory-mb", 0, "refuse images whose run is estimated (from the header) to need more memory than this (0 = half of the available memory)")
}

func (b *batchFlags) validate() error {
	if b.maxSide < 0 {
		return freeseg.Usagef("--max-side %d must not be negative", b.maxSide)
	}
	if b.maxMemoryMB < 0 {
		return freeseg.Usagef("--max-memory-mb %d must not be negative", b.maxMemoryMB)
	}
	return nil
}
