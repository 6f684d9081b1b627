package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
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
