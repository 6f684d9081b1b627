package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// loadModel opens a model folder, a checkpoint file or a Hugging Face Hub
// id, which is downloaded into the cache on first use (see package hub);
// an empty path means hub.DefaultModel.
func loadModel(path string) (*clip.Model, error) {
	id := path
	if id == "" {
		id = hub.DefaultModel
	}
	opt := hub.DefaultOptions()
	opt.Progress = modelLog
	if _, err := os.Stat(id); err != nil && hub.IsID(id) && !opt.Offline {
		if _, ok := hub.Cached(id, opt); !ok {
			if path == "" {
				fmt.Fprintf(modelLog, "freeseg: no --model given: downloading the default model %s into %s (first use only; --model takes a folder, a checkpoint file or another hub id)\n", id, opt.CacheDir)
			} else {
				fmt.Fprintf(modelLog, "freeseg: downloading %s into %s (first use only)\n", id, opt.CacheDir)
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dir, err := hub.Resolve(ctx, id, opt)
	if err != nil {
		return nil, err
	}
	m, err := clip.Load(dir)
	if err != nil {
		return nil, err
	}
	if m.BuiltinVocabulary {
		fmt.Fprintf(modelLog, "note: %s has no vocab.json/merges.txt; using the built-in CLIP vocabulary (the same for every CLIP model)\n", dir)
	}
	return applyPrecision(m)
}

// openEngine loads the model with the on-disk classifier cache enabled
// (unless noCache).
func openEngine(path string, noCache bool) (*freeseg.Engine, error) {
	m, err := loadModel(path)
	if err != nil {
		return nil, err
	}
	e := freeseg.NewEngine(m)
	if !noCache {
		e.Cache.Dir = freeseg.DefaultCacheDir()
	}
	return e, nil
}

// imageExts are the file types expanded from a folder argument.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".bmp": true, ".tif": true, ".tiff": true}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// loadImage decodes an image and applies its EXIF orientation unless told
// not to (parity with the reference pipelines, which ignore EXIF).
func loadImage(path string, exif bool) (*imageio.RGB, error) {
	img, meta, err := imageio.Open(path)
	if err != nil {
		return nil, err
	}
	if exif && meta.Orientation > 1 {
		img = imageio.ApplyOrientation(img, meta.Orientation)
	}
	return img, nil
}

// outputNames gives each input a distinct base name for its outputs.
func outputNames(paths []string) []string {
	names := make([]string, len(paths))
	used := map[string]int{}
	for i, p := range paths {
		b := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		used[b]++
		if used[b] > 1 {
			b = fmt.Sprintf("%s-%d", b, used[b])
		}
		names[i] = b
	}
	return names
}

// writeFile writes atomically after checking the guard.
func (g guardInputs) writeFile(path string, write func(io.Writer) error) error {
	if err := g.check(path); err != nil {
		return err
	}
	return imageio.WriteFileAtomic(path, write)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// buildVocabulary assembles the classes of segment: --classes or
// --classes-file, and the background rule.
func buildVocabulary(classes, classesFile, background string) (*prompts.Vocabulary, []string, error) {
	var v *prompts.Vocabulary
	var err error
	switch {
	case classes != "" && classesFile != "":
		return nil, nil, usagef("give --classes or --classes-file, not both")
	case classes != "":
		v, err = prompts.ParseClassList(classes)
	case classesFile != "":
		f, ferr := os.Open(classesFile)
		if ferr != nil {
			return nil, nil, ferr
		}
		defer f.Close()
		v, err = prompts.ParseClassFile(f, classesFile, prompts.SepSCLIP)
	default:
		return nil, nil, usagef("no classes: give --classes \"cat, dog; sky\" or --classes-file FILE")
	}
	if err != nil {
		return nil, nil, err
	}
	if strings.EqualFold(strings.TrimSpace(background), "file") && classesFile == "" {
		return nil, nil, usagef("--background file needs --classes-file (line 0 is the background)")
	}
	out, notes, err := freeseg.WithBackground(v, background)
	if err != nil {
		if classesFile != "" {
			return nil, nil, fmt.Errorf("%s: %w", classesFile, err)
		}
		return nil, nil, fmt.Errorf("--background: %w", err)
	}
	return out, notes, nil
}

func sortSlice[T any](s []T, less func(a, b int) bool) { sort.SliceStable(s, less) }

func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

type loadedImage struct {
	img *imageio.RGB
	err error
}

// prefetchImages decodes the images in order, one ahead of the consumer,
// so that decoding the next photo overlaps the inference of the current
// one; a failed image is passed on with its error and the next one
// follows. Images are scaled down to maxSide (0 = off) after decoding.
// Closing done stops it.
func prefetchImages(ins []input, exif bool, maxSide int, done <-chan struct{}) <-chan loadedImage {
	ch := make(chan loadedImage, 1)
	go func() {
		defer close(ch)
		for _, in := range ins {
			img, err := loadImageMax(in.path, exif, maxSide)
			select {
			case ch <- loadedImage{img, err}:
			case <-done:
				return
			}
		}
	}()
	return ch
}

// loadImageMax is loadImage followed by a scaling down to maxSide.
func loadImageMax(path string, exif bool, maxSide int) (*imageio.RGB, error) {
	img, err := loadImage(path, exif)
	if err != nil {
		return nil, err
	}
	if w, h := imageio.FitLongSide(img.W, img.H, maxSide); w != img.W || h != img.H {
		img = imageio.ResizePIL(img, w, h, imageio.Bicubic)
	}
	return img, nil
}
func softmaxScaled(x []float64, scale float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v*scale)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(v*scale - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
