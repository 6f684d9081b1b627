// Package evaljob runs a whole evaluation (dataset, report folder, saved
// run, model, report) for freeseg eval and freeseg-beam eval. It sits
// above package eval so that eval itself never imports the engine: eval
// takes a segment function, this package supplies the engine's.
package evaljob

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// Job is one evaluation run as freeseg eval makes it (docs/protocols.md): the
// dataset opened and its vocabulary checked, the report folder and the
// run saved there, the model, the images of the shard, the report.
type Job struct {
	// Dataset is a benchmark (BenchmarkNames) under Root, or Folder: then
	// FolderOpts gives the images, labels and class file (by default
	// under Root) and the label rules. Split replaces the image list.
	Dataset, Root, Split string
	FolderOpts           eval.FolderOptions
	// ClassesFile replaces the protocol's classes (a benchmark's).
	ClassesFile string
	Protocol    prompts.Protocol
	Options     freeseg.Options
	Overrides   []string // the settings given, for the report
	VFM         string   // the proxy methods' DINO (Engine.VFMSource)

	Report                         string // the report folder
	Shard, Shards, Limit, Overlays int
	Resume, Strict                 bool // continue the saved run; stop on an image that would be skipped
	SaveEvery                      time.Duration
	Version                        string // written into the report

	// Open loads the model, once the dataset and the report folder are
	// checked.
	Open func() (*freeseg.Engine, error)
	// Context, when set, makes the context of the image loop as it starts
	// (freeseg eval's Ctrl-C then finishes the image and saves); else the
	// loop runs under Do's.
	Context func() (context.Context, context.CancelFunc)
	// Note, when set, receives notes for the user; Start is told how many
	// images the run goes through and returns Run.Progress.
	Note  func(string)
	Start func(total int) func(id string, evaluated bool, seconds float64)
}

func (j *Job) note(format string, args ...any) {
	if j.Note != nil {
		j.Note(fmt.Sprintf(format, args...))
	}
}

// Check refuses, as usage errors, a job without a dataset or a report
// folder and negative counts.
func (j *Job) Check() error {
	switch {
	case j.Dataset == "":
		return freeseg.Usagef("--dataset is required: %s, or %s", strings.Join(eval.BenchmarkNames(), ", "), eval.Folder)
	case j.Report == "":
		return freeseg.Usagef("--report DIR is required")
	case j.Limit < 0:
		return freeseg.Usagef("--limit %d must not be negative", j.Limit)
	case j.Overlays < 0:
		return freeseg.Usagef("--overlays %d must not be negative", j.Overlays)
	}
	return nil
}

// SetShard sets Shard and Shards from "I/N" (ParseShard; "" is the whole
// list); another text is a usage error.
func (j *Job) SetShard(s string) error {
	i, n, ok := eval.ParseShard(s)
	if !ok {
		return freeseg.Usagef("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	j.Shard, j.Shards = i, n
	return nil
}

// OpenDataset opens the job's dataset.
func (j *Job) OpenDataset() (*eval.Dataset, error) {
	if !strings.EqualFold(j.Dataset, eval.Folder) {
		if j.Root == "" {
			return nil, freeseg.Usagef("--root is required: the dataset root of %s", j.Dataset)
		}
		return eval.Open(j.Dataset, j.Root, eval.OpenOptions{Split: j.Split})
	}
	fo := j.FolderOpts
	fo.ClassFile, fo.Split = j.ClassesFile, j.Split
	eval.FolderDefaults(&fo, j.Root)
	if fo.Images == "" || fo.Labels == "" || fo.ClassFile == "" {
		return nil, freeseg.Usagef("--dataset folder needs --root DIR (with images/, labels/, classes.txt) or --images, --labels and --classes-file")
	}
	return eval.OpenFolder(fo)
}

// Do runs the job: a run already saved in the report folder is an error
// unless Resume, which continues it. Interrupted, it saves and returns an
// error wrapping ErrInterrupted.
func (j *Job) Do(ctx context.Context) (*eval.Report, error) {
	if err := j.Check(); err != nil {
		return nil, err
	}
	if j.Shards == 0 {
		j.Shards = 1 // the whole list
	}
	ds, err := j.OpenDataset()
	if err != nil {
		return nil, err
	}
	vocab, err := eval.RunVocabulary(ds, j.Protocol, j.ClassesFile)
	if err != nil {
		return nil, err
	}
	names := vocab.DisplayNames()
	protoLabel := eval.ProtocolName(j.Protocol)
	if strings.EqualFold(j.Dataset, eval.Folder) {
		protoLabel = fmt.Sprintf("%s (settings of %s)", protoLabel, j.Protocol.Name)
	}

	// The report folder and the saved state.
	if st, err := os.Stat(j.Report); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("report folder %s is a file", j.Report)
	}
	// A run that fails before writing anything leaves no empty folder.
	repDirs := &batch.Outputs{}
	if err := repDirs.EnsureDir(j.Report); err != nil {
		return nil, err
	}
	defer repDirs.RemoveEmpty()
	statePath := filepath.Join(j.Report, eval.StateFile)
	// A run killed while saving leaves temporaries of these files.
	if removed, err := imageio.RemoveStaleTemps([]string{statePath, filepath.Join(j.Report, "report.json"), filepath.Join(j.Report, "report.md")}); err == nil && len(removed) > 0 {
		j.note("removed %d temporary files left by an interrupted run (%s)", len(removed), strings.Join(removed, ", "))
	}
	_, statErr := os.Stat(statePath)
	saved := statErr == nil
	if saved && !j.Resume {
		return nil, fmt.Errorf("%s already holds a run (%s); continue it with --resume, or choose another --report folder", j.Report, eval.StateFile)
	}

	eng, err := j.Open()
	if err != nil {
		return nil, err
	}
	eng.VFMSource = j.VFM
	opts := j.Options
	if err := opts.Validate(len(eng.Model.Vision.Blocks)); err != nil {
		return nil, freeseg.AsUsage(err)
	}
	digest, err := eng.Model.Digest()
	if err != nil {
		return nil, err
	}
	settings := eval.Settings{
		Dataset: ds.Name, Classes: ds.Classes, ReduceZeroLabel: ds.ReduceZeroLabel,
		ListImages: len(ds.Samples), ListDigest: ds.ListDigest(), Protocol: protoLabel,
		Vocabulary: eval.VocabularyDigest(vocab), Pipeline: freeseg.EvalSettings(opts, vocab.Background),
		Model: eng.Model.Config.Name(), ModelDigest: digest, ShardCount: j.Shards,
	}
	if opts.Method.Proxy {
		// A resumed run must use the same VFM.
		settings.Pipeline["vfm"] = j.VFM
	}
	var state *eval.State
	if saved {
		if state, err = eval.ResumeState(statePath, j.Report, ds, j.Shard, j.Shards, settings); err != nil {
			return nil, err
		}
	} else {
		if j.Resume {
			j.note("%s holds no saved run; starting from the beginning", j.Report)
		}
		if state, err = eval.NewState(settings, j.Shard); err != nil {
			return nil, err
		}
	}
	state.Root, state.SplitFile, state.Title, state.ClassNames = ds.Root, ds.SplitFile, ds.Title, names
	state.ModelPath, state.Overrides = eng.Model.Path, j.Overrides

	positions := state.Positions(ds, j.Shard, j.Shards, j.Limit)

	// Encode the text classifier once, so that it does not count as the
	// first image's time.
	if queries, _ := vocab.Queries(); len(positions) > len(state.Done) {
		if _, err := eng.Classifier(queries, opts.Templates); err != nil {
			return nil, err
		}
	}
	if j.Context != nil {
		var stop context.CancelFunc
		ctx, stop = j.Context()
		defer stop()
	}
	run := &eval.Run{
		Dataset: ds, State: state, Positions: positions, Strict: j.Strict,
		Segment: func(ctx context.Context, img *imageio.RGB) ([]int32, error) {
			res, err := eng.Segment(ctx, img, vocab, opts)
			if err != nil {
				return nil, err
			}
			return res.Labels, nil
		},
		Overlays: j.Overlays, ReportDir: j.Report, ClassNames: names,
		Save:      func(st *eval.State) error { return st.Save(statePath) },
		SaveEvery: j.SaveEvery,
	}
	if j.Start != nil {
		run.Progress = j.Start(len(positions))
	}
	if err := run.Do(ctx); err != nil {
		return nil, err
	}
	return eval.WriteReport(j.Report, state, j.Version)
}

// Preset is the published protocol of method on the benchmark like
// (prompts.Protocols) as pipeline options; a folder dataset without a
// background class drops the preset's area rule, which is for a
// background set. An unknown method or benchmark is a usage error.
func Preset(method, like string, folder, withBackground bool) (prompts.Protocol, freeseg.Options, error) {
	p, err := prompts.Protocols(method, like)
	if err != nil {
		return p, freeseg.Options{}, freeseg.AsUsage(err)
	}
	o, err := freeseg.ProtocolOptions(p)
	if err != nil {
		return p, o, err
	}
	if folder && !withBackground {
		o.AreaThd = 0
	}
	return p, o, nil
}
