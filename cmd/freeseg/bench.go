package main

import (
	"context"
	"fmt"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/bench"
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/internal/profiling"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure speed: the machine's FMA/bf16 peaks, GEMM GFLOP/s and efficiency, ms per 224 crop, per 448 image, per SCLIP-protocol VOC image, text classifier time, peak memory",
		usage:   "[--model DIR | --arch ViT-B/16] [--precision fp32|bf16] [--repeat N] [--format text|json]",
		run:     runBench,
	})
}

// runBench parses the flags and prints bench.Run's report.
func runBench(e *env, args []string) error {
	fs := newFlags(e, commands["bench"])
	model := fs.String("model", "", "model folder or checkpoint (default: random weights of --arch)")
	arch := fs.String("arch", "ViT-B/16", "architecture of the random-weight model: ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336")
	c := bench.Config{}
	fs.IntVar(&c.Repeat, "repeat", 5, "runs per measurement (the median is reported)")
	fs.IntVar(&c.TextRepeat, "text-repeat", 1, "runs of the cold 171-class x 80-template classifier (slow)")
	format := fs.String("format", "text", "text or json")
	fs.BoolVar(&c.SkipText, "skip-text", false, "skip the text classifier measurements")
	fs.BoolVar(&c.ProxyCLIP, "proxyclip", false, "also measure --method proxyclip: ms per 336 window and per VOC image (slow: DINO ViT-B/8)")
	fs.StringVar(&c.VFM, "vfm", "", "with --proxyclip: the DINO to measure (default: ViT-B/8 with random weights)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run (model set-up and measurements) to this new file (read it with go tool pprof)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return freeseg.Usagef("unexpected arguments %q", pos)
	}
	if err := c.Check(); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return freeseg.Usagef("--format %q: want text or json", *format)
	}
	if *cpuprofile != "" {
		stop, err := profiling.StartCPU(*cpuprofile)
		if err != nil {
			return freeseg.AsUsage(err)
		}
		defer stop()
	}
	if *model != "" {
		c.Model, err = loadModel(*model)
	} else if c.Model, err = bench.RandomModel(*arch); err == nil {
		c.Model, err = applyPrecision(c.Model)
	}
	if err != nil {
		return err
	}
	if *format == "text" {
		c.Logf = func(msg string, a ...any) { fmt.Fprintf(e.stdout, msg, a...) }
	}
	rep, err := bench.Run(context.Background(), c)
	if err != nil || *format == "text" {
		return err
	}
	return export.WriteJSONLine(e.stdout, rep)
}
