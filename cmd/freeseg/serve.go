package main

import (
	"context"
	"fmt"
	"log"
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/server"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "HTTP service: POST /v1/segment and /v1/explain, a page to try them at /, /healthz, /metrics",
		usage:   "[--model DIR|ORG/NAME] [--addr 127.0.0.1:8080] [flags]",
		run:     runServe,
	})
}

// serveHook, when set (by tests), is called once the server listens, with
// its address and a function that stops it as SIGINT would.
var serveHook func(addr string, stop func())

func runServe(e *env, args []string) error {
	fs := newFlags(e, commands["serve"])
	d := server.DefaultConfig()
	cfg := d // the flags without a unit conversion set it directly
	model := fs.String("model", "", modelHelp)
	vfm := fs.String("vfm", freeseg.DefaultVFM, "vision foundation model of --method proxyclip (folder, checkpoint or hub id, pulled on the first proxyclip request)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; :8080 for every interface)")
	noCache := fs.Bool("no-cache", false, "keep text classifiers in memory only (no on-disk cache)")
	fs.IntVar(&cfg.MaxConcurrent, "concurrency", d.MaxConcurrent, "inferences run at once (each uses every core)")
	fs.IntVar(&cfg.Queue, "queue", d.Queue, "requests that may wait for an inference slot; more get 429 with Retry-After")
	maxBodyMB := fs.Int("max-body-mb", int(d.MaxBodyBytes>>20), "largest request body in MiB (413 past it)")
	maxMpx := fs.Float64("max-megapixels", float64(d.MaxPixels)/1e6, "largest image in megapixels (413 past it)")
	fs.IntVar(&cfg.MaxClasses, "max-classes", d.MaxClasses, "most classes (segment) or texts (explain) per request (400 past it)")
	fs.IntVar(&cfg.MaxNames, "max-names", d.MaxNames, "most names to encode per segmentation, synonyms and background names included (400 past it)")
	maxMapsMB := fs.Int("max-maps-mb", int(d.MaxMapValues*4>>20), "largest float32 maps of one request, (names+classes)×pixels×4 bytes, in MiB (413 past it: use max_side or fewer classes)")
	fs.IntVar(&cfg.MaxSide, "max-side", d.MaxSide, "largest short_side, square, crop, stride, size and max_side a request may give (400 past it)")
	fs.IntVar(&cfg.Budget.MaxTokens, "max-tokens", d.Budget.MaxTokens, "most tokens of one encoder pass, 1 + (side/patch)² for a square input (422 past it: send a smaller square, size or crop, or whole=0)")
	maxInferMB := fs.Int("max-inference-mb", int(d.Budget.MaxBytes>>20), "largest estimated working memory of one inference in MiB: activations, attention, maps (413 past it)")
	fs.Float64Var(&cfg.Budget.MaxGFLOPs, "max-gflops", d.Budget.MaxGFLOPs, "largest estimated work of one inference's vision encoder, in GFLOPs (422 past it)")
	fs.Float64Var(&cfg.Budget.MaxTextGFLOPs, "max-text-gflops", d.Budget.MaxTextGFLOPs, "largest estimated text-encoder work of one request for the names not yet cached, in GFLOPs (422 past it: fewer new names or templates=single)")
	cacheRows := fs.Int("cache-rows", freeseg.DefaultCacheRows, "text-classifier rows kept in memory, least recently used evicted")
	cacheDiskMB := fs.Int("cache-disk-mb", freeseg.DefaultCacheDiskBytes>>20, "on-disk text-classifier cache bound in MiB, least recently used files removed")
	fs.StringVar(&cfg.UploadDir, "upload-dir", "", "folder for uploads larger than 1 MiB while they wait for a slot (default: the system's temporary folder)")
	fs.DurationVar(&cfg.InferenceTimeout, "timeout", d.InferenceTimeout, "per-request limit on waiting for a slot plus inference (504 past it)")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", d.ReadTimeout, "time a client has to send a whole request, body included")
	fs.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "time a client has to send the request headers")
	drain := fs.Duration("shutdown-timeout", 2*time.Minute, "on SIGINT/SIGTERM, how long to wait for running requests before exiting")
	quiet := fs.Bool("quiet", false, "no request log")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return freeseg.Usagef("unexpected arguments %q", pos)
	}
	b := &cfg.Budget
	switch {
	case cfg.MaxConcurrent < 1:
		return freeseg.Usagef("--concurrency %d must be at least 1", cfg.MaxConcurrent)
	case cfg.Queue < 0:
		return freeseg.Usagef("--queue %d must not be negative", cfg.Queue)
	case *maxBodyMB < 1 || *maxMpx <= 0 || cfg.MaxClasses < 1 || cfg.MaxNames < 1 || *maxMapsMB < 1 || cfg.MaxSide < 1 || b.MaxTokens < 2 || *maxInferMB < 1 || !(b.MaxGFLOPs > 0) || math.IsInf(b.MaxGFLOPs, 0) || !(b.MaxTextGFLOPs > 0) || math.IsInf(b.MaxTextGFLOPs, 0):
		return freeseg.Usagef("the --max-* limits must be positive (and --max-tokens at least 2)")
	case *cacheRows < 1 || *cacheDiskMB < 1:
		return freeseg.Usagef("the --cache-* bounds must be positive")
	case cfg.InferenceTimeout <= 0 || cfg.ReadTimeout <= 0 || cfg.ReadHeaderTimeout <= 0 || *drain <= 0:
		return freeseg.Usagef("the timeouts must be positive")
	}
	cfg.MaxBodyBytes = int64(*maxBodyMB) << 20
	cfg.MaxPixels = int64(*maxMpx * 1e6)
	cfg.MaxMapValues = int64(*maxMapsMB) << 20 / 4
	b.MaxBytes = int64(*maxInferMB) << 20
	cfg.ModelName = *model
	if *model == "" {
		cfg.ModelName = hub.DefaultModel // not the cache folder it was downloaded to
	}
	if _, err := os.Stat(*model); err == nil {
		cfg.ModelName = filepath.Base(filepath.Clean(*model)) // a folder or file: its name, not the server's paths
	}
	logger := log.New(e.stderr, "", log.LstdFlags)
	if !*quiet {
		cfg.Log = logger
	}

	eng, err := openEngine(*model, *noCache)
	if err != nil {
		return err
	}
	eng.Cache.MaxRows, eng.Cache.MaxDiskBytes = *cacheRows, int64(*cacheDiskMB)<<20
	eng.VFMSource = *vfm
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := server.New(eng, cfg)
	c := srv.Config()
	logger.Printf("serving %s on http://%s/ (the page; API: POST /v1/segment, POST /v1/explain, GET /v1/models, /healthz, /metrics)", eng, ln.Addr())
	logger.Printf("limits: %d concurrent, queue %d, body %d MiB, %.0f megapixels, %d classes, timeout %s",
		c.MaxConcurrent, c.Queue, c.MaxBodyBytes>>20, float64(c.MaxPixels)/1e6, c.MaxClasses, c.InferenceTimeout)
	logger.Printf("budget per inference: %d tokens a pass, %d MiB, %.0f GFLOPs, %.0f text GFLOPs; classifier cache: %d rows, %d MiB on disk",
		c.Budget.MaxTokens, c.Budget.MaxBytes>>20, c.Budget.MaxGFLOPs, c.Budget.MaxTextGFLOPs, *cacheRows, *cacheDiskMB)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if serveHook != nil {
		serveHook(ln.Addr().String(), stop)
	}
	go func() {
		<-ctx.Done()
		stop() // a second signal now ends the process at once
	}()
	if err := srv.Serve(ctx, ln, *drain); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Printf("stopped")
	return nil
}
