package freeseg

import (
	"sync"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/prompts"
)

// bf16Variant is an engine's model converted to bf16 on the first request
// for it, with its own classifier cache (bf16 text embeddings differ from
// the fp32 ones; on disk they are kept apart by precision as well).
type bf16Variant struct {
	once  sync.Once
	model *clip.Model
	cache *ClassifierCache
	err   error
}

// modelFor returns the engine's model in precision p: the loaded model for
// clip.PrecisionDefault or its own precision, else the bf16 copy of an fp32
// model (made once, then kept: the engine then holds both, about 1.5 times
// the weight memory; load the model in bf16 to hold only that).
func (e *Engine) modelFor(p clip.Precision) (*clip.Model, error) {
	if p == clip.PrecisionDefault || p == e.Model.Precision() {
		return e.Model, nil
	}
	if p != clip.BF16 {
		return e.Model.WithPrecision(p) // the error naming why
	}
	v := &e.bf16
	v.once.Do(func() {
		v.model, v.err = e.Model.WithPrecision(clip.BF16)
		v.cache = NewClassifierCache(e.Cache.Dir)
	})
	return v.model, v.err
}

// classifierFor is Classifier for the model m (the engine's or its bf16
// variant).
func (e *Engine) classifierFor(m *clip.Model, names []string, set prompts.TemplateSet) ([]float32, error) {
	if m == e.Model {
		return e.Classifier(names, set)
	}
	tpl, err := set.List()
	if err != nil {
		return nil, err
	}
	return e.bf16.cache.Get(m, names, string(set), tpl)
}
