package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
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

// checkOutDir refuses an output folder that is a file or cannot be
// created or written, before any work: the nearest existing folder must
// take a new file.
func checkOutDir(dir string) error {
	if dir == "" {
		return freeseg.Usagef("--out DIR is required")
	}
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return fmt.Errorf("output folder %s is a file", dir)
				}
				return fmt.Errorf("output folder %s: %s is a file", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output folder %s: %w", dir, err)
		}
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
	}
	f, err := os.CreateTemp(d, ".freeseg-write-test*")
	if err != nil {
		return fmt.Errorf("output folder %s cannot be written: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkImages refuses, before any work, images that cannot be read or
// whose decoding needs more memory than the bound (for the commands that
// reduce an image to a fixed-size input: features, embed, classify).
func checkImages(paths []string, exif bool, maxMemoryMB int64) error {
	if maxMemoryMB < 0 {
		return freeseg.Usagef("--max-memory-mb %d must not be negative", maxMemoryMB)
	}
	return batch.CheckImages(paths, exif, maxMemoryMB)
}
