package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/evaljob"
	"github.com/freeseg/freeseg/prompts"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "score a method on a benchmark as the published protocols do (mIoU as MMSeg); 'eval merge' joins shards",
		usage: "--model DIR --dataset NAME --root PATH --report DIR [--protocol sclip|naclip|naclip+pamr|clearclip] [--shard I/N] [--limit N] [--resume] [pipeline flags]\n" +
			"       freeseg eval merge --report OUT DIR1 DIR2 ...",
		run: runEval,
	})
}

// evalFlags are eval's flags besides the pipeline's: most set the job's
// fields directly.
type evalFlags struct {
	job                          evaljob.Job
	model, protocol, like, shard string
	noCache, quiet               bool
}

func (f *evalFlags) register(fs *flag.FlagSet) {
	j := &f.job
	fs.StringVar(&f.model, "model", "", modelHelp)
	fs.StringVar(&j.Dataset, "dataset", "", "benchmark: "+strings.Join(eval.BenchmarkNames(), ", ")+"; or "+eval.Folder+" for your own images and labels")
	fs.StringVar(&j.Root, "root", "", "dataset root, MMSeg's data_root (e.g. .../VOCdevkit/VOC2012); for --dataset folder, a folder holding images/, labels/ and classes.txt")
	fs.StringVar(&j.Split, "split", "", "split file to use instead of the benchmark's (one image ID per line)")
	fs.StringVar(&f.protocol, "protocol", "sclip", "published protocol preset: "+strings.Join(prompts.ProtocolMethods(), ", ")+"; only the pipeline flags you give override it (the defaults listed here are the preset's on --dataset when both are given with --help, else SCLIP's VOC21 setting)")
	fs.StringVar(&j.Report, "report", "", "report folder: state.json (resumable), report.md, report.json, overlays/")
	fs.StringVar(&j.ClassesFile, "classes-file", "", "class file to use instead of the protocol's (one class per line, synonyms separated by the protocol's separator)")
	fs.StringVar(&j.FolderOpts.Images, "images", "", "folder dataset: image folder (default ROOT/images)")
	fs.StringVar(&j.FolderOpts.Labels, "labels", "", "folder dataset: label folder of palette or greyscale PNGs named like the images (default ROOT/labels)")
	fs.StringVar(&j.FolderOpts.LabelSuffix, "label-suffix", ".png", "folder dataset: ending of the label file names")
	fs.StringVar(&f.like, "like", "", "folder dataset: benchmark whose protocol settings to use (default context60 with --with-background, else context59)")
	fs.BoolVar(&j.FolderOpts.Background, "with-background", false, "folder dataset: class 0 (the class file's first line) is background and gets the pixels below --prob-thd")
	fs.BoolVar(&j.FolderOpts.ReduceZeroLabel, "reduce-zero-label", false, "folder dataset: label 0 is ignored and label k is class k-1 (MMSeg reduce_zero_label)")
	fs.IntVar(&j.Limit, "limit", 0, "evaluate only the first N images (of the shard); 0 = all")
	fs.StringVar(&f.shard, "shard", "", "evaluate shard I of N (\"I/N\": every N-th image starting at I, 0-based); merge the shards with 'freeseg eval merge'")
	fs.BoolVar(&j.Resume, "resume", false, "continue the run saved in the report folder, skipping the images already counted")
	fs.BoolVar(&j.Strict, "strict", false, "stop on an image that would be skipped (missing label, unreadable image or label)")
	fs.IntVar(&j.Overlays, "overlays", 3, "write prediction | ground-truth overlays for the first N images")
	fs.DurationVar(&j.SaveEvery, "save-every", 5*time.Second, "save the accumulators at most this often (and at the end); 0 = after every image")
	fs.BoolVar(&f.noCache, "no-cache", false, "do not read or write the on-disk text classifier cache")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fs.StringVar(&j.VFM, "vfm", freeseg.DefaultVFM, "proxyclip: the DINO ViT guiding the attention (folder, checkpoint or hub id, pulled on first use)")
}

func newEvalFlagSet(e *env, preset freeseg.Options) (*flag.FlagSet, *evalFlags, *freeseg.SettingFlags) {
	fs := newFlags(e, commands["eval"])
	ef := &evalFlags{}
	ef.register(fs)
	return fs, ef, freeseg.BindFlags(fs, preset, freeseg.ForEval)
}

// evalPreset is the protocol of the flags' method on their dataset (for a
// folder dataset, on the benchmark named by --like) as pipeline options.
func evalPreset(ef *evalFlags) (prompts.Protocol, freeseg.Options, error) {
	bg := ef.job.FolderOpts.Background
	like, folder := eval.Like(ef.job.Dataset, ef.like, bg)
	return evaljob.Preset(ef.protocol, like, folder, bg)
}

// parseEvalConfig parses in two passes: the first finds --protocol and
// --dataset, the second registers the pipeline flags with that preset's
// values as defaults (so --help shows them), and fs.Visit then tells which
// flags the user set: only those override the preset.
func parseEvalConfig(e *env, args []string) (*evalFlags, error) {
	base, _ := prompts.Protocols("sclip", "voc21")
	baseOpts, err := freeseg.ProtocolOptions(base)
	if err != nil {
		return nil, err
	}
	fs1, ef1, _ := newEvalFlagSet(e, baseOpts)
	fs1.SetOutput(io.Discard)
	fs1.Usage = func() {}
	_, err = parseInterleaved(fs1, args)
	help := errors.Is(err, flag.ErrHelp)
	if err != nil && !help {
		return nil, err
	}
	p, preset := base, baseOpts
	if ef1.job.Dataset != "" {
		if pp, po, perr := evalPreset(ef1); perr == nil {
			p, preset = pp, po
		} else if !help {
			return nil, perr
		}
	}
	fs, ef, sf := newEvalFlagSet(e, preset)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, freeseg.Usagef("unexpected argument %q (eval takes flags only; 'freeseg eval merge' joins shards)", pos[0])
	}
	j := &ef.job
	if err := j.Check(); err != nil {
		return nil, err
	}
	if err := j.SetShard(ef.shard); err != nil {
		return nil, err
	}
	j.Protocol, j.Options = p, preset
	if err := sf.Apply(&j.Options); err != nil {
		return nil, err
	}
	usePrecision(j.Options.Precision)
	j.Overrides = sf.Overrides()
	if !strings.EqualFold(j.Dataset, eval.Folder) && given(fs, "with-background", "reduce-zero-label", "like", "images", "labels", "label-suffix") {
		return nil, freeseg.Usagef("--with-background, --reduce-zero-label, --like, --images and --labels are for --dataset folder; the benchmarks fix them")
	}
	return ef, nil
}

func runEval(e *env, args []string) error {
	if len(args) > 0 && args[0] == "merge" {
		return runEvalMerge(e, args[1:])
	}
	ef, err := parseEvalConfig(e, args)
	if err != nil {
		return err
	}
	var prog *evalBar
	job := &ef.job
	job.Version = version
	job.Open = func() (*freeseg.Engine, error) { return openEngine(ef.model, ef.noCache) }
	// The first Ctrl-C (or SIGTERM) finishes the current image and saves;
	// a second one stops at once.
	job.Context = func() (context.Context, context.CancelFunc) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		go func() {
			<-ctx.Done()
			stop()
		}()
		return ctx, stop
	}
	job.Start = func(total int) func(string, bool, float64) {
		prog = newEvalBar(e.stderr, total, ef.quiet)
		return prog.step
	}
	if !ef.quiet {
		job.Note = func(n string) { fmt.Fprintf(e.stderr, "note: %s\n", n) }
	}
	rep, err := job.Do(context.Background())
	if prog != nil {
		prog.finish()
	}
	if err != nil {
		return err
	}
	if !ef.quiet {
		fmt.Fprintf(e.stderr, "%s\n", rep.Summary())
	}
	fmt.Fprintln(e.stdout, filepath.Join(job.Report, "report.md"))
	return nil
}

// given reports whether any of the flags was set.
func given(fs *flag.FlagSet, names ...string) (set bool) {
	fs.Visit(func(f *flag.Flag) { set = set || slices.Contains(names, f.Name) })
	return set
}

func runEvalMerge(e *env, args []string) error {
	c := &command{name: "eval merge", summary: "merge the report folders of the shards of one run into one report",
		usage: "--report OUT DIR1 DIR2 ..."}
	fs := newFlags(e, c)
	out := fs.String("report", "", "output report folder (must not be one of the inputs)")
	quiet := fs.Bool("quiet", false, "no summary line")
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return freeseg.Usagef("eval merge: --report OUT is required")
	}
	if len(dirs) == 0 {
		return freeseg.Usagef("eval merge: give the report folders of the shards")
	}
	// Keep the overlays of the first images of the list.
	rep, err := eval.MergeReport(*out, dirs, 3, version)
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintln(e.stderr, rep.Summary())
	}
	fmt.Fprintln(e.stdout, filepath.Join(*out, "report.md"))
	return nil
}

// evalBar is the progress bar: redrawn in place on a terminal, a line at
// most every few seconds otherwise.
type evalBar struct {
	w          io.Writer
	total, pos int
	quiet      bool
	term       bool
	start      time.Time
	lastLine   time.Time
	secs       float64 // inference seconds in this invocation
	evaluated  int
}

func newEvalBar(w io.Writer, total int, quiet bool) *evalBar {
	return &evalBar{w: w, total: total, quiet: quiet, term: isTerminal(w), start: time.Now()}
}

func (b *evalBar) step(id string, evaluated bool, secs float64) {
	b.pos++
	if evaluated {
		b.evaluated++
		b.secs += secs
	}
	if b.quiet {
		return
	}
	if !b.term && time.Since(b.lastLine) < 2*time.Second && b.pos < b.total {
		return
	}
	b.lastLine = time.Now()
	per := 0.0
	if b.evaluated > 0 {
		per = b.secs / float64(b.evaluated)
	}
	eta := time.Duration(per * float64(b.total-b.pos) * float64(time.Second)).Round(time.Second)
	frac := float64(b.pos) / float64(max(b.total, 1))
	const width = 30
	fill := int(frac * width)
	bar := strings.Repeat("#", fill) + strings.Repeat(".", width-fill)
	line := fmt.Sprintf("[%s] %d/%d %5.1f%% %.2f s/img ETA %s  %s", bar, b.pos, b.total, 100*frac, per, eta, id)
	if b.term {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(b.w, line)
	}
}

func (b *evalBar) finish() {
	if !b.quiet && b.term && b.pos > 0 {
		fmt.Fprintln(b.w)
	}
}
