// Package pipeline holds freeseg's Apache Beam pipelines: bulk segmentation
// (Segment) and benchmark evaluation (Eval). Their outputs are those of
// freeseg segment and freeseg eval (docs/beam.md).
package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/beam/storage"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/prompts"
)

// engines are the models loaded in this worker process, by model path:
// a runner may create many DoFn instances per process (one per bundle
// processor), and each would otherwise hold its own copy of the weights.
var engines struct {
	sync.Mutex
	m map[string]*engineSlot
}

type engineSlot struct {
	once sync.Once
	eng  *freeseg.Engine
	err  error
}

// engineFor loads model once per process. An object-store path
// (s3://bucket/models/clip) is copied into the local cache first, so that
// workers of a cluster read the model from the store; a hub id comes from
// the hub cache (downloaded on first use, or offline with HF_HUB_OFFLINE).
func engineFor(ctx context.Context, model string, noCache bool) (*freeseg.Engine, error) {
	key := fmt.Sprintf("%s\x00%v", model, noCache)
	engines.Lock()
	if engines.m == nil {
		engines.m = map[string]*engineSlot{}
	}
	s := engines.m[key]
	if s == nil {
		s = &engineSlot{}
		engines.m[key] = s
	}
	engines.Unlock()
	s.once.Do(func() { s.eng, s.err = loadEngine(ctx, model, noCache) })
	return s.eng, s.err
}

func loadEngine(ctx context.Context, model string, noCache bool) (*freeseg.Engine, error) {
	dir := model
	var err error
	if !storage.IsLocal(model) {
		if dir, err = fetchModel(ctx, model); err != nil {
			return nil, err
		}
	} else {
		id := model
		if id == "" {
			id = hub.DefaultModel
		}
		if dir, err = hub.Resolve(ctx, id, hub.DefaultOptions()); err != nil {
			return nil, err
		}
	}
	m, err := clip.Load(dir)
	if err != nil {
		return nil, err
	}
	e := freeseg.NewEngine(m)
	if !noCache {
		e.Cache.Dir = freeseg.DefaultCacheDir()
	}
	return e, nil
}

// fetchModel copies the files directly under an object-store prefix into
// a local folder named by the prefix's hash, and returns that folder.
// Files already there with the same size are kept.
func fetchModel(ctx context.Context, prefix string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	h := sha256.Sum256([]byte(prefix))
	dir := filepath.Join(base, "freeseg", "beam-models", hex.EncodeToString(h[:8]))
	st, err := storage.Open(ctx, prefix)
	if err != nil {
		return "", err
	}
	defer st.Close()
	var files []string
	glob := strings.TrimSuffix(prefix, "/") + "/*"
	err = st.Retry.Do(ctx, "listing "+glob, func() error {
		var err error
		files, err = st.FS.List(ctx, glob)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("model %s: %w", prefix, err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("model %s: no files under the prefix", prefix)
	}
	for _, f := range files {
		local := filepath.Join(dir, storage.Base(f))
		if fi, err := os.Stat(local); err == nil {
			if n, err := st.FS.Size(ctx, f); err == nil && n == fi.Size() {
				continue
			}
		}
		b, err := st.Read(ctx, f)
		if err != nil {
			return "", fmt.Errorf("model %s: %w", prefix, err)
		}
		if err := st.Write(ctx, local, b); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// warmClassifier encodes the text classifier of vocab once per engine (the
// engine caches it), so that it is not counted in the first image's time.
func warmClassifier(e *freeseg.Engine, vocab *prompts.Vocabulary, templates prompts.TemplateSet) error {
	q, _ := vocab.Queries()
	_, err := e.Classifier(q, templates)
	return err
}

// CheckModel loads the model into this process's cache and validates the
// options against it.
func CheckModel(ctx context.Context, model string, noCache bool, o freeseg.Options) error {
	e, err := engineFor(ctx, model, noCache)
	if err != nil {
		return err
	}
	return o.Validate(len(e.Model.Vision.Blocks))
}

// Engine returns this process's engine for model (loaded once).
func Engine(ctx context.Context, model string, noCache bool) (*freeseg.Engine, error) {
	return engineFor(ctx, model, noCache)
}
