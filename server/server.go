// Package server is freeseg's HTTP service: segmentation and heat maps of
// uploaded images with a model loaded once, a page to try them
// (embedded, no build step), and the operational endpoints (/healthz,
// Prometheus /metrics).
//
//	POST /v1/segment  multipart: image, classes, options  → JSON with PNGs (base64)
//	POST /v1/explain  multipart: image, texts, options    → JSON with heat-map PNGs
//	GET  /v1/models   the loaded model, methods, template sets, limits
//	GET  /v1/params   every setting: name, help, type, default, range
//	GET  /healthz     {"status":"ok"} (503 while shutting down)
//	GET  /metrics     Prometheus text format
//	GET  /            the page
//
// Inference is bounded: at most Config.MaxConcurrent run at once, at most
// Config.Queue more wait (then 429 with Retry-After), each within
// Config.InferenceTimeout (then 504). Every error is JSON {"error": "..."}.
package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/freeseg/freeseg"
)

// Config sets the service's limits and timeouts. DefaultConfig has the
// defaults; zero fields of a Config given to New take them too.
type Config struct {
	Limits
	// MaxConcurrent inferences run at once (each already uses every core
	// for its matrix products; more mostly adds memory).
	MaxConcurrent int
	// Queue is how many more requests may wait for a slot before 429.
	Queue int
	// InferenceTimeout bounds a request's wait for a slot plus its
	// inference (504 past it; the computation is not interruptible, so it
	// finishes in the background, holding its slot).
	InferenceTimeout time.Duration
	// ReadHeaderTimeout and ReadTimeout (the whole request, body included:
	// slow clients are cut off), IdleTimeout for keep-alive connections;
	// used by HTTPServer.
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// SpillBytes is how much of an upload is kept in memory while its
	// request waits; larger uploads go to a temporary file under
	// UploadDir ("" = the system's temporary folder), unlinked at once.
	// Negative: always in memory.
	SpillBytes int64
	UploadDir  string
	// Budget bounds each inference's network input, working memory and
	// work, checked from the image header and the settings before the
	// request waits for a slot (422/413 with what to send instead).
	Budget freeseg.Limits
	// ModelName is shown by /v1/models (e.g. the --model argument or the
	// hub id); the checkpoint's folder or file name when empty, never a
	// path.
	ModelName string
	// Log receives one line per request; nil for none.
	Log *log.Logger
}

// DefaultConfig returns the defaults: 32 MiB bodies, 50 megapixels, 2^28
// map values (1 GiB of float32 maps), 512 classes, 2048 names, sides up to
// 4096, the budget of ServiceLimits, max(1, cores/4) concurrent inferences
// with 8 more admitted, 2 minutes per inference, 10 s for headers, 60 s for
// a whole request.
func DefaultConfig() Config {
	return Config{
		Limits: Limits{
			MaxBodyBytes: 32 << 20,
			MaxPixels:    50_000_000,
			MaxMapValues: 1 << 28,
			MaxClasses:   512,
			MaxNames:     2048,
			MaxSide:      4096,
		},
		Budget:            ServiceLimits(),
		SpillBytes:        1 << 20,
		MaxConcurrent:     max(1, runtime.GOMAXPROCS(0)/4),
		Queue:             8,
		InferenceTimeout:  2 * time.Minute,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

// ServiceLimits are the service's default inference budget: one pass of at
// most 4,097 tokens (a 1024×1024 input of /16 patches, 896×896 of /14),
// 2 GiB of estimated working memory, 4,000 GFLOPs (about 110 windows of
// ViT-B/16 at 224, some seconds to a minute on a CPU), and 10,000 GFLOPs
// of text encoding for names not yet cached (about 130 new names with the
// 80 ImageNet templates on ViT-B/16's text tower).
func ServiceLimits() freeseg.Limits {
	return freeseg.Limits{MaxTokens: 4097, MaxBytes: 2 << 30, MaxGFLOPs: 4000, MaxTextGFLOPs: 10_000}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *int64, dv int64) {
		if *v <= 0 {
			*v = dv
		}
	}
	seti := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	setd := func(v *time.Duration, dv time.Duration) {
		if *v <= 0 {
			*v = dv
		}
	}
	set(&c.MaxBodyBytes, d.MaxBodyBytes)
	set(&c.MaxPixels, d.MaxPixels)
	set(&c.MaxMapValues, d.MaxMapValues)
	seti(&c.MaxClasses, d.MaxClasses)
	seti(&c.MaxNames, d.MaxNames)
	seti(&c.MaxSide, d.MaxSide)
	seti(&c.MaxConcurrent, d.MaxConcurrent)
	if c.SpillBytes == 0 {
		c.SpillBytes = d.SpillBytes
	}
	seti(&c.Budget.MaxTokens, d.Budget.MaxTokens)
	set(&c.Budget.MaxBytes, d.Budget.MaxBytes)
	if !(c.Budget.MaxGFLOPs > 0) {
		c.Budget.MaxGFLOPs = d.Budget.MaxGFLOPs
	}
	if !(c.Budget.MaxTextGFLOPs > 0) {
		c.Budget.MaxTextGFLOPs = d.Budget.MaxTextGFLOPs
	}
	if c.Queue < 0 {
		c.Queue = 0
	}
	setd(&c.InferenceTimeout, d.InferenceTimeout)
	setd(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setd(&c.ReadTimeout, d.ReadTimeout)
	setd(&c.IdleTimeout, d.IdleTimeout)
	return c
}

// Server answers the service's requests with one engine. It is an
// http.Handler; HTTPServer wraps it with the configured timeouts.
type Server struct {
	eng     *freeseg.Engine
	cfg     Config
	lim     *limiter
	met     *metrics
	routes  map[string]route
	start   time.Time
	closing atomic.Bool
	// active counts requests being handled on the inference routes.
	active atomic.Int64
	// bg counts inferences running, including those whose request has
	// already been answered (504) or abandoned.
	bg sync.WaitGroup

	// hookInference, when set (by tests), runs in the slot before each
	// inference.
	hookInference func()

	digestOnce sync.Once
	digestDone chan struct{}
	digest     string
	digestErr  error
}

type route struct {
	methods []string // GET routes take HEAD too
	handle  func(http.ResponseWriter, *http.Request) error
}

// New makes a server for the engine. A zero Config means DefaultConfig;
// zero fields take the defaults.
func New(e *freeseg.Engine, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{eng: e, cfg: cfg, lim: newLimiter(cfg.MaxConcurrent, cfg.Queue), met: newMetrics(), start: time.Now(), digestDone: make(chan struct{})}
	s.routes = map[string]route{
		"/v1/segment": {[]string{http.MethodPost}, s.handleSegment},
		"/v1/explain": {[]string{http.MethodPost}, s.handleExplain},
		"/v1/models":  {[]string{http.MethodGet, http.MethodHead}, s.handleModels},
		"/v1/params":  {[]string{http.MethodGet, http.MethodHead}, s.handleParams},
		"/healthz":    {[]string{http.MethodGet, http.MethodHead}, s.handleHealth},
		"/metrics":    {[]string{http.MethodGet, http.MethodHead}, s.handleMetrics},
	}
	for p := range staticFiles {
		s.routes[p] = route{[]string{http.MethodGet, http.MethodHead}, s.handleStatic}
	}
	return s
}

// Config returns the configuration in force (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// statusWriter records the status code and whether anything was written.
type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.code, w.written = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP routes the request, answering unknown paths with 404 and
// unsupported methods with 405 (and Allow), in JSON, and records metrics.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	rt, ok := s.routes[r.URL.Path]
	label := r.URL.Path
	if !ok {
		label = "other"
	} else if _, static := staticFiles[r.URL.Path]; static {
		label = "static"
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			if s.cfg.Log != nil {
				buf := make([]byte, 8<<10)
				buf = buf[:runtime.Stack(buf, false)]
				s.cfg.Log.Printf("panic serving %s %s: %v\n%s", r.Method, r.URL.Path, p, buf)
			}
			if !w.written {
				writeError(w, errorf(http.StatusInternalServerError, "internal error"))
			}
		}
		d := time.Since(start)
		code := w.code
		if !w.written {
			code = http.StatusOK
		}
		s.met.request(label, code, d)
		if s.cfg.Log != nil {
			s.cfg.Log.Printf("%s %s %d %.3fs %s", r.Method, r.URL.Path, code, d.Seconds(), r.RemoteAddr)
		}
	}()
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "no such route %s (see GET /v1/models, POST /v1/segment, POST /v1/explain, /healthz, /metrics, and the page at /)", r.URL.Path))
		return
	}
	allowed := false
	for _, m := range rt.methods {
		if r.Method == m {
			allowed = true
		}
	}
	if !allowed {
		allow := rt.methods[0]
		for _, m := range rt.methods[1:] {
			allow += ", " + m
		}
		writeError(w, &apiError{Code: http.StatusMethodNotAllowed, Msg: fmt.Sprintf("%s does not take %s (allowed: %s)", r.URL.Path, r.Method, allow),
			Header: map[string]string{"Allow": allow}})
		return
	}
	if label == "/v1/segment" || label == "/v1/explain" {
		s.active.Add(1)
		defer s.active.Add(-1)
	}
	if err := rt.handle(w, r); err != nil {
		if !w.written {
			writeError(w, err)
		}
	}
}

// HTTPServer returns an http.Server for addr serving s with the
// configured timeouts. WriteTimeout covers reading the body, waiting and
// inferring, and writing the answer.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.ReadTimeout + s.cfg.InferenceTimeout + time.Minute,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// BeginShutdown makes new and waiting inference requests fail with 503 and
// /healthz answer 503; running inferences go on.
func (s *Server) BeginShutdown() {
	s.closing.Store(true)
	s.lim.close()
}

// WaitInferences waits until no inference runs (including those whose
// requests were already answered with 504), or ctx ends.
func (s *Server) WaitInferences(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve serves on ln until ctx is cancelled (e.g. by SIGINT or SIGTERM),
// then shuts down gracefully, for at most drain: it answers new and
// waiting inference requests with 503 and keeps the listener open while
// the running ones finish, so that /healthz answers 503 (and load
// balancers take the instance out) during the drain; then it stops
// accepting connections and closes the idle ones. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	hs := s.HTTPServer(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if s.cfg.Log != nil {
		s.cfg.Log.Printf("shutting down: /healthz answers 503, new requests get 503; finishing running requests (at most %s)", drain)
	}
	s.BeginShutdown()
	hs.SetKeepAlivesEnabled(false) // answers from now on close their connections
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := s.waitDrained(sctx)
	if serr := hs.Shutdown(sctx); err == nil {
		err = serr
	}
	if werr := s.WaitInferences(sctx); err == nil {
		err = werr
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// waitDrained waits until no inference request is being handled and no
// inference runs, or ctx ends.
func (s *Server) waitDrained(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.active.Load() > 0 || s.lim.inFlight() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
