package freeseg

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/imageio"
)

// LoadModel opens a model folder, a checkpoint file or a Hugging Face Hub
// id, which is downloaded into the cache on first use (see package hub);
// an empty path means hub.DefaultModel. Download progress and notes (the
// first download, a model without its own tokenizer files) go to log, in
// the command line's words.
func LoadModel(ctx context.Context, path string, log io.Writer) (*clip.Model, error) {
	id := path
	if id == "" {
		id = hub.DefaultModel
	}
	opt := hub.DefaultOptions()
	opt.Progress = log
	if _, err := os.Stat(id); err != nil && hub.IsID(id) && !opt.Offline {
		if _, ok := hub.Cached(id, opt); !ok {
			if path == "" {
				fmt.Fprintf(log, "freeseg: no --model given: downloading the default model %s into %s (first use only; --model takes a folder, a checkpoint file or another hub id)\n", id, opt.CacheDir)
			} else {
				fmt.Fprintf(log, "freeseg: downloading %s into %s (first use only)\n", id, opt.CacheDir)
			}
		}
	}
	dir, err := hub.Resolve(ctx, id, opt)
	if err != nil {
		return nil, err
	}
	// Reading a checkpoint leaves a buffer of garbage per tensor; collect
	// it sooner while loading, or the peak memory holds much of it
	// beside the weights (ViT-B/16 in bf16, 448 image: 0.90 GB → 0.73 GB).
	gc := debug.SetGCPercent(25)
	m, err := clip.Load(dir)
	debug.SetGCPercent(gc)
	if err != nil {
		return nil, err
	}
	if m.BuiltinVocabulary {
		fmt.Fprintf(log, "note: %s has no vocab.json/merges.txt; using the built-in CLIP vocabulary (the same for every CLIP model)\n", dir)
	}
	return m, nil
}

// testModelReadme goes beside a test model's weights, so the folder explains
// itself.
const testModelReadme = `This folder holds a CLIP model with RANDOM weights, written by
"freeseg testmodel". It is NOT a trained model: its labels, heat maps and
scores are meaningless. It has the shapes of a small ViT (width 128, 8
vision layers, patch 16) and lets you try every freeseg command quickly.
For real results use a real model: freeseg pull openai/clip-vit-base-patch16.
`

// WriteTestModel writes a tiny CLIP with random weights (clip.TinyConfig,
// from seed: the same seed writes the same model) and a README saying so
// into the folder dir, created if needed (freeseg testmodel). A folder that
// holds anything is refused.
func WriteTestModel(dir string, seed uint64) error {
	// Never write into a folder that holds anything: it could be a real
	// model whose weights this would replace.
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; give a new folder", dir)
	} else if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, "model.safetensors")
	if err := imageio.WriteFileAtomic(path, func(w io.Writer) error { return clip.WriteRandom(w, clip.TinyConfig, seed) }); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "README.txt"), []byte(testModelReadme), 0o644)
}
