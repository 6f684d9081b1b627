package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/beam/pipeline"
	"github.com/freeseg/freeseg/beam/storage"
	"github.com/freeseg/freeseg/prompts"
)

func init() {
	commands["segment"] = &command{
		name:    "segment",
		summary: "segment images into the given classes: NAME.labels.png, NAME.overlay.png, NAME.json and PREFIX/summary.jsonl",
		usage:   "[--model DIR|ORG/NAME|s3://...] --classes \"cat, dog; sky\" --input GLOB|@LIST [--input ...] --output PREFIX [flags]",
		run:     runSegment,
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// vocabulary builds the classes the way freeseg segment does: --classes
// or --classes-file (read through any Beam filesystem), then the
// background rule of freeseg.WithBackground.
func vocabulary(ctx context.Context, classes, classesFile, background string) (*prompts.Vocabulary, []string, error) {
	var v *prompts.Vocabulary
	var err error
	switch {
	case classes != "" && classesFile != "":
		return nil, nil, usagef("give --classes or --classes-file, not both")
	case classes != "":
		v, err = prompts.ParseClassList(classes)
	case classesFile != "":
		st, oerr := storage.Open(ctx, classesFile)
		if oerr != nil {
			return nil, nil, oerr
		}
		b, rerr := st.Read(ctx, classesFile)
		st.Close()
		if rerr != nil {
			return nil, nil, rerr
		}
		v, err = prompts.ParseClassFile(bytes.NewReader(b), classesFile, prompts.SepSCLIP)
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

// maxLabelClasses is the most classes a label map holds (16-bit PNG).
const maxLabelClasses = 65536

func runSegment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := commands["segment"]
	fs := newFlags(c, stderr)
	model := fs.String("model", "", "model folder, checkpoint file, Hugging Face Hub id (hub cache) or object-store prefix (s3://bucket/models/clip); every worker loads it once")
	var inputs listFlag
	fs.Var(&inputs, "input", "images: a path or glob on any Beam filesystem (photos/*.jpg, s3://bucket/in/*.png) or @LIST, a file of one path or glob per line (repeatable)")
	output := fs.String("output", "", "output prefix (a folder or s3://bucket/out): NAME.labels.png, NAME.overlay.png, NAME.json, summary.jsonl")
	classes := fs.String("classes", "", "classes: \"cat, dog, sky\" (one name each) or \"cat, kitten; dog; sky\" (';' separates classes, ',' synonyms)")
	classesFile := fs.String("classes-file", "", "class file: one class per line, synonyms separated by \", \"")
	background := fs.String("background", "default", "background class 0: default (26 stuff names), none, file (line 0 of --classes-file), or your own \"sky, wall, floor\"")
	exif := fs.Bool("exif", true, "apply the EXIF orientation of photos")
	noCache := fs.Bool("no-cache", false, "do not read or write the on-disk text classifier cache")
	strict := fs.Bool("strict", false, "fail the job on an unreadable image (naming it) instead of listing it in summary.jsonl")
	quiet := fs.Bool("quiet", false, "no summary lines")
	settings := bindSettings(fs, freeseg.DefaultOptions(), freeseg.ForSegment)
	addBeamFlags(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		inputs = append(inputs, fs.Args()...)
	}
	if err := checkRunner(); err != nil {
		return err
	}
	if len(inputs) == 0 {
		return usagef("no input: give --input GLOB or --input @LIST")
	}
	if *output == "" {
		return usagef("--output PREFIX is required")
	}
	vocab, notes, err := vocabulary(ctx, *classes, *classesFile, *background)
	if err != nil {
		return err
	}
	if vocab.Len() > maxLabelClasses {
		return usagef("%d classes: a label map holds at most %d", vocab.Len(), maxLabelClasses)
	}
	cfg := pipeline.SegmentConfig{Model: *model, NoCache: *noCache, Classes: vocab.Names, Background: vocab.Background,
		Settings: settings.Given, Exif: *exif, Output: *output, Strict: *strict, Generator: "freeseg " + version}
	opts, err := cfg.Options()
	if err != nil {
		return usageError{err.Error()}
	}
	images, err := storage.Expand(ctx, inputs)
	if err != nil {
		return err
	}
	if err := checkWritable(ctx, *output, "--output"); err != nil {
		return err
	}
	if *runners.Runner == "prism" {
		// In-process workers share this process's model: load it now, so
		// that a bad model or option fails before the job starts.
		if err := pipeline.CheckModel(ctx, cfg.Model, cfg.NoCache, opts); err != nil {
			return err
		}
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	initBeam()
	p, s := beam.NewPipelineWithRoot()
	pipeline.BuildSegment(s, cfg, pipeline.Tasks(images, *output))
	if _, err := beam.Run(ctx, *runners.Runner, p); err != nil {
		return fmt.Errorf("the job failed: %w", jobError(err))
	}
	return reportSegment(ctx, *output, len(images), *quiet, stdout, stderr)
}

// reportSegment reads summary.jsonl back and prints the counts and the
// images that could not be read.
func reportSegment(ctx context.Context, output string, n int, quiet bool, stdout, stderr io.Writer) error {
	path := storage.Join(output, pipeline.SummaryName)
	st, err := storage.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := st.Read(ctx, path)
	if err != nil {
		return fmt.Errorf("the job finished but its summary is missing: %w", err)
	}
	var done, reused int
	var failed []pipeline.Row
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r pipeline.Row
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case r.Error != "":
			failed = append(failed, r)
		case r.Reused:
			reused++
		default:
			done++
		}
	}
	if !quiet {
		fmt.Fprintf(stderr, "%d images: %d segmented, %d already done, %d unreadable\n", n, done, reused, len(failed))
		for _, r := range failed {
			fmt.Fprintf(stderr, "  skipped %s: %s\n", r.Image, r.Error)
		}
	}
	fmt.Fprintln(stdout, path)
	return nil
}
