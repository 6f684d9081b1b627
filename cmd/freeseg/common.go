package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/prompts"
)

// loadModel opens a model folder, a checkpoint file or a Hugging Face Hub
// id (freeseg.LoadModel; Ctrl-C stops a download) at --precision.
func loadModel(path string) (*clip.Model, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := freeseg.LoadModel(ctx, path, modelLog)
	if err != nil {
		return nil, err
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

// buildVocabulary assembles the classes of segment: --classes or
// --classes-file, and the background rule.
func buildVocabulary(classes, classesFile, background string) (*prompts.Vocabulary, []string, error) {
	var v *prompts.Vocabulary
	var err error
	switch {
	case classes != "" && classesFile != "":
		return nil, nil, freeseg.Usagef("give --classes or --classes-file, not both")
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
		return nil, nil, freeseg.Usagef("no classes: give --classes \"cat, dog; sky\" or --classes-file FILE")
	}
	if err != nil {
		return nil, nil, err
	}
	if strings.EqualFold(strings.TrimSpace(background), "file") && classesFile == "" {
		return nil, nil, freeseg.Usagef("--background file needs --classes-file (line 0 is the background)")
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

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
