package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/beam/pipeline"
	"github.com/freeseg/freeseg/beam/storage"
	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/prompts"
)

// version is written into report.json as freeseg eval writes its own
// (a test checks it against `freeseg version`).
const version = "0.1.0"

func init() {
	commands["eval"] = &command{
		name:    "eval",
		summary: "score a method on a benchmark as freeseg eval does (same flags and report), images scored in parallel",
		usage:   "--model DIR --dataset NAME --root PATH --report DIR [--protocol sclip|naclip|naclip+pamr|clearclip] [--shard I/N] [--limit N] [pipeline flags]",
		run:     runEval,
	}
}

type evalFlags struct {
	model, dataset, root, split, protocol, report, classesFile string
	images, labels, labelSuffix, like                          string
	withBackground, reduceZero                                 bool
	limit, overlays                                            int
	shard                                                      string
	strict, noCache, quiet                                     bool
}

func (f *evalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "model folder, checkpoint file, hub id or object-store prefix")
	fs.StringVar(&f.dataset, "dataset", "", "benchmark: "+strings.Join(eval.BenchmarkNames(), ", ")+"; or "+eval.Folder+" for your own images and labels")
	fs.StringVar(&f.root, "root", "", "dataset root (MMSeg's data_root); for --dataset folder, a folder holding images/, labels/ and classes.txt")
	fs.StringVar(&f.split, "split", "", "split file to use instead of the benchmark's (one image ID per line)")
	fs.StringVar(&f.protocol, "protocol", "sclip", "published protocol preset: "+strings.Join(prompts.ProtocolMethods(), ", ")+"; only the pipeline flags you give override it")
	fs.StringVar(&f.report, "report", "", "report folder (or object-store prefix): state.json, report.md, report.json, overlays/")
	fs.StringVar(&f.classesFile, "classes-file", "", "class file to use instead of the protocol's")
	fs.StringVar(&f.images, "images", "", "folder dataset: image folder (default ROOT/images)")
	fs.StringVar(&f.labels, "labels", "", "folder dataset: label folder (default ROOT/labels)")
	fs.StringVar(&f.labelSuffix, "label-suffix", ".png", "folder dataset: ending of the label file names")
	fs.StringVar(&f.like, "like", "", "folder dataset: benchmark whose protocol settings to use (default context60 with --with-background, else context59)")
	fs.BoolVar(&f.withBackground, "with-background", false, "folder dataset: class 0 is background")
	fs.BoolVar(&f.reduceZero, "reduce-zero-label", false, "folder dataset: label 0 is ignored and label k is class k-1")
	fs.IntVar(&f.limit, "limit", 0, "evaluate only the first N images (of the shard); 0 = all")
	fs.StringVar(&f.shard, "shard", "", "evaluate shard I of N (\"I/N\"); merge the shards with 'freeseg eval merge'")
	fs.BoolVar(&f.strict, "strict", false, "fail the job on an image that would be skipped (missing label, unreadable image or label), naming it")
	fs.IntVar(&f.overlays, "overlays", 3, "write prediction | ground-truth overlays for the first N images")
	fs.BoolVar(&f.noCache, "no-cache", false, "do not read or write the on-disk text classifier cache")
	fs.BoolVar(&f.quiet, "quiet", false, "no summary line")
}

func newEvalFlagSet(c *command, stderr io.Writer, preset freeseg.Options) (*flag.FlagSet, *evalFlags, *settingFlags) {
	fs := newFlags(c, stderr)
	ef := &evalFlags{}
	ef.register(fs)
	sf := bindSettings(fs, preset, freeseg.ForEval)
	addBeamFlags(fs)
	return fs, ef, sf
}

// likeOf is the benchmark whose protocol a dataset uses.
func likeOf(ef *evalFlags) string {
	if !strings.EqualFold(ef.dataset, eval.Folder) {
		return ef.dataset
	}
	if ef.like != "" {
		return ef.like
	}
	if ef.withBackground {
		return "context60"
	}
	return "context59"
}

func parseShard(s string) (int, int, error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, usagef("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return i, n, nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := commands["eval"]
	// Two passes, as freeseg eval: the first finds --protocol and
	// --dataset, the second binds the pipeline flags with that preset's
	// values as defaults; only the flags given override the preset.
	base, _ := prompts.Protocols("sclip", "voc21")
	baseOpts, err := freeseg.ProtocolOptions(base)
	if err != nil {
		return err
	}
	fs1, ef1, _ := newEvalFlagSet(c, io.Discard, baseOpts)
	fs1.Usage = func() {}
	err = fs1.Parse(args)
	help := errors.Is(err, flag.ErrHelp)
	if err != nil && !help {
		return usageError{err.Error()}
	}
	cfg := pipeline.EvalConfig{Protocol: ef1.protocol, Like: likeOf(ef1), Folder: strings.EqualFold(ef1.dataset, eval.Folder), WithBackground: ef1.withBackground}
	preset := baseOpts
	if ef1.dataset != "" {
		if preset, err = cfg.Preset(); err != nil && !help {
			return usageError{err.Error()}
		} else if err != nil {
			preset = baseOpts
		}
	}
	fs, ef, sf := newEvalFlagSet(c, stderr, preset)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (eval takes flags only)", fs.Arg(0))
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	if err := checkRunner(); err != nil {
		return err
	}
	if ef.dataset == "" {
		return usagef("--dataset is required: %s, or %s", strings.Join(eval.BenchmarkNames(), ", "), eval.Folder)
	}
	if ef.report == "" {
		return usagef("--report DIR is required")
	}
	if ef.limit < 0 {
		return usagef("--limit %d must not be negative", ef.limit)
	}
	if ef.overlays < 0 {
		return usagef("--overlays %d must not be negative", ef.overlays)
	}
	shard, shards, err := parseShard(ef.shard)
	if err != nil {
		return err
	}
	cfg.Settings = sf.Given
	opts, err := cfg.Options()
	if err != nil {
		return usageError{err.Error()}
	}
	if opts.Method.Proxy {
		return usagef("--method %s needs a vision foundation model (--vfm), which freeseg-beam does not take yet", opts.Method.Name)
	}
	overrides := sf.overrides()

	// The dataset (read on this machine to list it; the workers read the
	// images and labels by path, so a cluster needs the root on a shared
	// filesystem) and its vocabulary.
	var ds *eval.Dataset
	if cfg.Folder {
		fo := eval.FolderOptions{Images: ef.images, Labels: ef.labels, ClassFile: ef.classesFile, LabelSuffix: ef.labelSuffix,
			Split: ef.split, Background: ef.withBackground, ReduceZeroLabel: ef.reduceZero}
		if ef.root != "" {
			if fo.Images == "" {
				fo.Images = filepath.Join(ef.root, "images")
			}
			if fo.Labels == "" {
				fo.Labels = filepath.Join(ef.root, "labels")
			}
			if fo.ClassFile == "" {
				fo.ClassFile = filepath.Join(ef.root, "classes.txt")
			}
		}
		if fo.Images == "" || fo.Labels == "" || fo.ClassFile == "" {
			return usagef("--dataset folder needs --root DIR (with images/, labels/, classes.txt) or --images, --labels and --classes-file")
		}
		ds, err = eval.OpenFolder(fo)
	} else {
		for _, n := range []string{"with-background", "reduce-zero-label", "like", "images", "labels", "label-suffix"} {
			if _, ok := set[n]; ok {
				return usagef("--with-background, --reduce-zero-label, --like, --images and --labels are for --dataset folder; the benchmarks fix them")
			}
		}
		if ef.root == "" {
			return usagef("--root is required: the dataset root of %s", ef.dataset)
		}
		ds, err = eval.Open(ef.dataset, ef.root, eval.OpenOptions{Split: ef.split})
	}
	if err != nil {
		return err
	}
	proto, err := prompts.Protocols(cfg.Protocol, cfg.Like)
	if err != nil {
		return usageError{err.Error()}
	}
	vocab := ds.Vocabulary
	if vocab == nil {
		if ef.classesFile != "" {
			st, err := storage.Open(ctx, ef.classesFile)
			if err != nil {
				return err
			}
			b, err := st.Read(ctx, ef.classesFile)
			st.Close()
			if err != nil {
				return err
			}
			if vocab, err = prompts.ParseClassFileWith(bytes.NewReader(b), ef.classesFile, prompts.ParseOptions{Sep: proto.Sep, AllowDuplicates: true}); err != nil {
				return err
			}
		} else if vocab, err = proto.Vocabulary(); err != nil {
			return fmt.Errorf("%w; give --classes-file", err)
		}
	}
	if vocab.Len() != ds.Classes {
		return fmt.Errorf("the vocabulary has %d classes but %s has %d", vocab.Len(), ds.Name, ds.Classes)
	}
	vocab.Background = ds.Background
	names := vocab.DisplayNames()
	protoLabel := protocolName(proto)
	if cfg.Folder {
		protoLabel = fmt.Sprintf("%s (settings of %s)", protoLabel, proto.Name)
	}
	cfg.Model, cfg.NoCache, cfg.Classes, cfg.Background, cfg.Names = ef.model, ef.noCache, vocab.Names, vocab.Background, names
	cfg.NumClasses, cfg.ReduceZeroLabel = ds.Classes, ds.ReduceZeroLabel
	cfg.Report, cfg.Overlays, cfg.Strict = ef.report, ef.overlays, ef.strict

	// The report folder: a finished run is never overwritten.
	if err := checkWritable(ctx, ef.report, "--report"); err != nil {
		return err
	}
	rst, err := storage.Open(ctx, ef.report)
	if err != nil {
		return err
	}
	statePath := storage.Join(ef.report, eval.StateFile)
	saved, err := rst.Exists(ctx, statePath)
	rst.Close()
	if err != nil {
		return err
	}
	if saved {
		return fmt.Errorf("%s already holds a run (%s); choose another --report folder", ef.report, eval.StateFile)
	}

	// The model: its name and digest go into the report's settings.
	eng, err := pipeline.Engine(ctx, cfg.Model, cfg.NoCache)
	if err != nil {
		return err
	}
	if err := opts.Validate(len(eng.Model.Vision.Blocks)); err != nil {
		return usageError{err.Error()}
	}
	digest, err := eng.Model.Digest()
	if err != nil {
		return err
	}
	settings := eval.Settings{
		Dataset: ds.Name, Classes: ds.Classes, ReduceZeroLabel: ds.ReduceZeroLabel,
		ListImages: len(ds.Samples), ListDigest: ds.ListDigest(), Protocol: protoLabel,
		Vocabulary: vocabularyDigest(vocab), Pipeline: pipelineSettings(opts, vocab.Background),
		Model: eng.Model.Config.Name(), ModelDigest: digest, ShardCount: shards,
	}
	state, err := eval.NewState(settings, shard)
	if err != nil {
		return err
	}
	state.Root, state.SplitFile, state.Title, state.ClassNames = ds.Root, ds.SplitFile, ds.Title, names
	state.ModelPath, state.Overrides = eng.Model.Path, overrides
	state.Limit = ef.limit
	positions := ds.Shard(shard, shards)
	state.ShardImages = len(positions)
	if ef.limit > 0 && ef.limit < len(positions) {
		positions = positions[:ef.limit]
	}
	tasks := make([]pipeline.EvalTask, len(positions))
	for n, k := range positions {
		s := ds.Samples[k]
		tasks[n] = pipeline.EvalTask{N: n, K: k, ID: s.ID, Image: s.Image, Label: s.Label}
	}

	initBeam()
	p, s := beam.NewPipelineWithRoot()
	if err := pipeline.BuildEval(s, cfg, tasks, state, version); err != nil {
		return err
	}
	if _, err := beam.Run(ctx, *runners.Runner, p); err != nil {
		return fmt.Errorf("the job failed: %w", jobError(err))
	}
	return reportEval(ctx, ef.report, ef.quiet, stdout, stderr)
}

// reportEval prints freeseg eval's summary line from report.json.
func reportEval(ctx context.Context, dir string, quiet bool, stdout, stderr io.Writer) error {
	path := storage.Join(dir, "report.json")
	st, err := storage.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := st.Read(ctx, path)
	if err != nil {
		return fmt.Errorf("the job finished but its report is missing: %w", err)
	}
	var r eval.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !quiet {
		f := func(p *float64) string {
			if p == nil {
				return "n/a"
			}
			return fmt.Sprintf("%.2f", *p)
		}
		fmt.Fprintf(stderr, "%s, %s: mIoU %s, mAcc %s, aAcc %s (%d images evaluated, %d skipped, %.3f s per image)\n",
			r.Dataset, r.Protocol, f(r.MIoU), f(r.MAcc), f(r.AAcc), r.Evaluated, r.Skipped, r.SecondsPerImage)
		for _, s := range r.SkippedImages {
			fmt.Fprintf(stderr, "  skipped %s: %s\n", s.ID, s.Reason)
		}
	}
	fmt.Fprintln(stdout, storage.Join(dir, "report.md"))
	return nil
}

// protocolName is the --protocol name of p (freeseg eval's label).
func protocolName(p prompts.Protocol) string {
	for _, name := range prompts.ProtocolMethods() {
		if q, err := prompts.Protocols(name, p.Name); err == nil && reflect.DeepEqual(p, q) {
			return name
		}
	}
	return p.Method
}

// pipelineSettings describes every option that changes the labels, as
// freeseg eval records them (they are compared on merge and resume).
func pipelineSettings(o freeseg.Options, background bool) map[string]string {
	m := map[string]string{}
	for _, v := range freeseg.ReportSettings(&o, freeseg.ForEval, background) {
		m[v.Name] = fmt.Sprint(v.Value)
	}
	m["max_long"] = fmt.Sprint(o.Resize.MaxLong)
	m["pad_windows_to_patch"] = fmt.Sprint(o.Window.PadToPatch)
	m["pamr_dilations"] = fmt.Sprint(o.PAMRDilations)
	m["method_params"] = o.Method.Describe()
	return m
}

// vocabularyDigest hashes the queries and their classes (freeseg eval's).
func vocabularyDigest(v *prompts.Vocabulary) string {
	h := sha256.New()
	for c, syn := range v.Names {
		for _, n := range syn {
			fmt.Fprintf(h, "%d\t%s\n", c, n)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
