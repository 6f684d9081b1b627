package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/beam/storage"
	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/evaljob"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// EvalConfig is what an evaluation worker needs (exported fields travel
// with the pipeline).
type EvalConfig struct {
	Model   string
	NoCache bool
	// Protocol and Like name the preset (prompts.Protocols(Protocol,
	// Like)); Folder and WithBackground adjust it as freeseg eval does for
	// --dataset folder; Settings are the settings given over the preset.
	Protocol, Like         string
	Folder, WithBackground bool
	Settings               map[string]string
	// Classes are the vocabulary's synonyms (Background: class 0 is the
	// background), Names the class names of the overlays' legends.
	Classes    [][]string
	Background bool
	Names      []string
	// NumClasses and ReduceZeroLabel are the dataset's label conventions.
	NumClasses      int
	ReduceZeroLabel bool
	Report          string // report folder or prefix
	Overlays        int    // overlays for the first N images of the list
	Strict          bool
}

// Preset is the protocol's options, adjusted for a folder dataset, before
// the settings given (freeseg eval's preset).
func (c *EvalConfig) Preset() (freeseg.Options, error) {
	_, o, err := evaljob.Preset(c.Protocol, c.Like, c.Folder, c.WithBackground)
	return o, err
}

// Options are the segmentation options: the settings over the preset.
func (c *EvalConfig) Options() (freeseg.Options, error) {
	o, err := c.Preset()
	if err != nil {
		return o, err
	}
	err = freeseg.Apply(&o, c.Settings, freeseg.ForEval)
	return o, err
}

// EvalTask is one sample: N is its position in the evaluated list, K its
// index in the dataset.
type EvalTask struct {
	N, K             int
	ID, Image, Label string
}

// ImageResult is a scored (or skipped) image.
type ImageResult struct {
	K         int
	ID        string
	Skip      string
	Confusion []int64 // this image's confusion matrix; nil when skipped
	Seconds   float64
	Oriented  bool
	Overlay   string // overlay file relative to the report folder
}

// EvalAcc is the accumulator of the evaluation's CombineFn: the summed
// confusion matrix and the images seen (without their matrices).
type EvalAcc struct {
	Images    int64
	Confusion []int64
	Results   []ImageResult
}

func init() {
	register.DoFn3x1[context.Context, EvalTask, func(ImageResult), error](&evalFn{})
	register.Emitter1[ImageResult]()
	register.Combiner3[EvalAcc, ImageResult, EvalAcc](&confusionFn{})
	register.DoFn2x1[context.Context, EvalAcc, error](&reportFn{})
	beam.RegisterType(reflect.TypeOf((*EvalTask)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*ImageResult)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*EvalAcc)(nil)).Elem())
}

// evalFn reads, segments and scores one sample.
type evalFn struct {
	Config EvalConfig

	eng   *freeseg.Engine
	vocab *prompts.Vocabulary
	opts  freeseg.Options
	ds    *eval.Dataset
	store *storage.Store
	fail  map[string]bool
}

func (f *evalFn) Setup(ctx context.Context) error {
	var err error
	if f.opts, err = f.Config.Options(); err != nil {
		return err
	}
	if f.eng, err = engineFor(ctx, f.Config.Model, f.Config.NoCache); err != nil {
		return err
	}
	if err := f.eng.Validate(f.opts); err != nil {
		return err
	}
	f.vocab = &prompts.Vocabulary{Names: f.Config.Classes, Background: f.Config.Background}
	if err := warmClassifier(f.eng, f.vocab, f.opts.Templates); err != nil {
		return err
	}
	// LoadLabel needs only the label conventions.
	f.ds = &eval.Dataset{Spec: eval.Spec{Classes: f.Config.NumClasses, ReduceZeroLabel: f.Config.ReduceZeroLabel}}
	f.fail = failHook()
	f.store, err = storage.Open(ctx, f.Config.Report)
	return err
}

func (f *evalFn) Teardown() error {
	if f.store != nil {
		return f.store.Close()
	}
	return nil
}

func (f *evalFn) ProcessElement(ctx context.Context, t EvalTask, emit func(ImageResult)) error {
	start := time.Now()
	s := eval.Sample{ID: t.ID, Image: t.Image, Label: t.Label}
	// eval.Run's step for one image, its counts kept apart for the
	// CombineFn.
	l, skip, err := f.ds.LoadSample(s)
	if err != nil {
		return err
	}
	if skip != "" {
		if f.Config.Strict {
			return fmt.Errorf("%s: %s (--strict)", t.ID, skip)
		}
		emit(ImageResult{K: t.K, ID: t.ID, Skip: skip})
		return nil
	}
	res, err := f.eng.Segment(ctx, l.Image, f.vocab, f.opts)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Image, err)
	}
	if f.fail[t.ID] {
		return fmt.Errorf("%s: failure injected by %s", t.ID, FailHook)
	}
	m, err := eval.NewMetric(f.Config.NumClasses)
	if err != nil {
		return err
	}
	if err := m.Add(res.Labels, l.Image.W, l.Image.H, l.Label); err != nil {
		return fmt.Errorf("%s: %w", s.ID, err)
	}
	r := ImageResult{K: t.K, ID: t.ID, Confusion: m.Confusion, Seconds: time.Since(start).Seconds(), Oriented: l.Orientation > 1}
	if t.N < f.Config.Overlays {
		r.Overlay = "overlays/" + fmt.Sprintf("%05d-%s.png", t.K, eval.FileName(t.ID))
		var b bytes.Buffer
		if err := imageio.EncodePNG(&b, eval.OverlayImage(l.Image, res.Labels, l.Label, f.Config.Names)); err != nil {
			return err
		}
		if err := f.store.Write(ctx, storage.Join(f.Config.Report, r.Overlay), b.Bytes()); err != nil {
			return err
		}
	}
	emit(r)
	return nil
}

// confusionFn sums the images' confusion matrices. Integer sums do not
// depend on the order, so any split of the images into bundles, and any
// combiner lifting, gives the matrix of a sequential run bit for bit. A
// retried bundle's partial sums are discarded by the runner, never added
// twice.
type confusionFn struct {
	Classes int
}

func (f *confusionFn) CreateAccumulator() EvalAcc {
	return EvalAcc{Confusion: make([]int64, f.Classes*f.Classes)}
}

func (f *confusionFn) AddInput(a EvalAcc, r ImageResult) EvalAcc {
	if len(a.Confusion) == 0 {
		a.Confusion = make([]int64, f.Classes*f.Classes)
	}
	if r.Skip == "" {
		for i, v := range r.Confusion {
			a.Confusion[i] += v
		}
		a.Images++
	}
	r.Confusion = nil
	a.Results = append(a.Results, r)
	return a
}

func (f *confusionFn) MergeAccumulators(a, b EvalAcc) EvalAcc {
	// A new accumulator: neither input is changed, so a runner may reuse
	// either (Beam allows mutating the first; not relying on it costs one
	// C·C copy per merge).
	out := EvalAcc{Confusion: make([]int64, f.Classes*f.Classes), Images: a.Images + b.Images}
	for _, x := range []EvalAcc{a, b} {
		for i, v := range x.Confusion {
			out.Confusion[i] += v
		}
	}
	out.Results = append(append(out.Results, a.Results...), b.Results...)
	return out
}

func (f *confusionFn) ExtractOutput(a EvalAcc) EvalAcc { return a }

// reportFn writes state.json, report.json and report.md from the combined
// accumulator: once, at the end, so a failed job leaves no report.
type reportFn struct {
	Report  string
	State   string // JSON of the eval.State to fill (settings, names, ...)
	Version string
}

// StateOf fills the state template with the combined results, in the
// order of the list (as a sequential freeseg eval records them).
func StateOf(template string, a EvalAcc) (*eval.State, error) {
	var st eval.State
	if err := json.Unmarshal([]byte(template), &st); err != nil {
		return nil, err
	}
	m, err := eval.NewMetric(st.Settings.Classes)
	if err != nil {
		return nil, err
	}
	if len(a.Confusion) != len(m.Confusion) {
		return nil, fmt.Errorf("combined confusion matrix has %d cells, want %d", len(a.Confusion), len(m.Confusion))
	}
	if err := m.Merge(&eval.Metric{Classes: st.Settings.Classes, Images: a.Images, Confusion: a.Confusion}); err != nil {
		return nil, err
	}
	st.Metric = m
	rs := append([]ImageResult(nil), a.Results...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].K < rs[j].K })
	st.Done, st.Skipped, st.Oriented, st.Overlays, st.Seconds = nil, nil, nil, nil, 0
	for _, r := range rs {
		if r.Skip != "" {
			st.Skipped = append(st.Skipped, eval.Skip{ID: r.ID, Reason: r.Skip})
			continue
		}
		st.Done = append(st.Done, r.ID)
		st.Seconds += r.Seconds
		if r.Oriented {
			st.Oriented = append(st.Oriented, r.ID)
		}
		if r.Overlay != "" {
			st.Overlays = append(st.Overlays, eval.Overlay{Index: r.K, ID: r.ID, File: r.Overlay})
		}
	}
	if int64(len(st.Done)) != st.Metric.Images {
		return nil, fmt.Errorf("%d images scored but %d counted", len(st.Done), st.Metric.Images)
	}
	return &st, nil
}

func (f *reportFn) ProcessElement(ctx context.Context, a EvalAcc) error {
	st, err := StateOf(f.State, a)
	if err != nil {
		return err
	}
	store, err := storage.Open(ctx, f.Report)
	if err != nil {
		return err
	}
	defer store.Close()
	// state.json through eval.State.Save (its checksummed format), then
	// copied to the report folder's filesystem.
	tmp, err := os.MkdirTemp("", "freeseg-beam-state")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := st.Save(filepath.Join(tmp, eval.StateFile)); err != nil {
		return err
	}
	stateBytes, err := os.ReadFile(filepath.Join(tmp, eval.StateFile))
	if err != nil {
		return err
	}
	rep := eval.BuildReport(st, f.Version)
	rj, err := marshalJSON(rep)
	if err != nil {
		return err
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		return err
	}
	for _, w := range []struct {
		name string
		b    []byte
	}{{eval.StateFile, stateBytes}, {"report.json", rj}, {"report.md", md.Bytes()}} {
		if err := store.Write(ctx, storage.Join(f.Report, w.name), w.b); err != nil {
			return err
		}
	}
	return nil
}

// BuildEval adds the evaluation of tasks to the pipeline: one evalFn per
// sample, the confusion matrices summed by a CombineFn, the report
// written from the single combined value.
func BuildEval(s beam.Scope, c EvalConfig, tasks []EvalTask, state *eval.State, version string) error {
	s = s.Scope("freeseg.eval")
	tmpl, err := json.Marshal(state)
	if err != nil {
		return err
	}
	in := beam.Reshuffle(s, beam.CreateList(s, tasks))
	results := beam.ParDo(s, &evalFn{Config: c}, in)
	total := beam.Combine(s, &confusionFn{Classes: c.NumClasses}, results)
	beam.ParDo0(s, &reportFn{Report: c.Report, State: string(tmpl), Version: version}, total)
	return nil
}
