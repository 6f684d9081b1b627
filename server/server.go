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
	"path/filepath"
	"runtime"
	"strconv"
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

// ticket is a request's admission (limiter.admit), taken before its body
// is read. done gives it back unless an inference slot took it over.
type ticket struct {
	leave func()
	owned atomic.Bool // the slot's release leaves
}

func (t *ticket) done() {
	if !t.owned.Load() {
		t.leave()
	}
}

// admit admits a request before its body is read: 429 (with Retry-After)
// when max_concurrent are running and queue more are admitted, 503 while
// shutting down. The caller must call done on the ticket.
func (s *Server) admit() (*ticket, error) {
	leave, err := s.lim.admit()
	if err != nil {
		return nil, s.admissionError(err)
	}
	return &ticket{leave: leave}, nil
}

func (s *Server) admissionError(err error) error {
	switch {
	case errors.Is(err, errQueueFull):
		s.met.reject("queue_full")
		return &apiError{Code: http.StatusTooManyRequests,
			Msg:    fmt.Sprintf("busy: %d inferences running and %d more admitted; retry later", s.cfg.MaxConcurrent, s.cfg.Queue),
			Header: map[string]string{"Retry-After": strconv.Itoa(s.retryAfter()), "Connection": "close"}}
	case errors.Is(err, errClosing):
		s.met.reject("shutting_down")
		return &apiError{Code: http.StatusServiceUnavailable, Msg: "the server is shutting down", Header: map[string]string{"Connection": "close"}}
	}
	return err
}

// run runs fn in an inference slot for the admitted request tk, waiting at
// most until ctx's deadline. It returns how long the request waited for
// the slot and how long fn ran. When ctx ends first, fn goes on in the
// background (it cannot be interrupted) and keeps its slot (and the
// admission) until it returns.
func (s *Server) run(ctx context.Context, op string, tk *ticket, fn func() error) (wait, ran time.Duration, err error) {
	t0 := time.Now()
	release, err := s.lim.slot(ctx, tk.leave)
	wait = time.Since(t0)
	switch {
	case errors.Is(err, errClosing):
		return wait, 0, s.admissionError(err)
	case err != nil:
		return wait, 0, s.contextError(ctx, err, "waiting for an inference slot")
	}
	tk.owned.Store(true)
	done := make(chan error, 1)
	s.bg.Add(1)
	t1 := time.Now()
	go func() {
		defer s.bg.Done()
		// The slot is released before the answer is handed over, so that
		// a client that has its answer sees the slot free.
		err := func() (err error) {
			defer release()
			defer func() {
				if p := recover(); p != nil {
					if s.cfg.Log != nil {
						buf := make([]byte, 8<<10)
						buf = buf[:runtime.Stack(buf, false)]
						s.cfg.Log.Printf("panic in %s: %v\n%s", op, p, buf)
					}
					err = errorf(http.StatusInternalServerError, "internal error in %s", op)
				}
			}()
			if s.hookInference != nil {
				s.hookInference()
			}
			err = fn()
			s.met.inferenceDone(op, time.Since(t1))
			return err
		}()
		done <- err
	}()
	select {
	case err := <-done:
		return wait, time.Since(t1), err
	case <-ctx.Done():
		return wait, time.Since(t1), s.contextError(ctx, ctx.Err(), "inferring")
	}
}

func (s *Server) contextError(ctx context.Context, err error, doing string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		s.met.reject("timeout")
		return errorf(http.StatusGatewayTimeout, "timed out after %s while %s (the limit is %s)", s.cfg.InferenceTimeout, doing, s.cfg.InferenceTimeout)
	}
	// The client went away; nobody reads this answer (499: nginx's
	// "client closed request", for the metrics).
	return errorf(499, "request cancelled while %s", doing)
}

// retryAfter estimates the seconds until a slot frees: the typical
// inference time times the requests ahead per slot.
func (s *Server) retryAfter() int {
	t := s.met.typicalInference()
	ahead := float64(s.lim.queued()+1) / float64(s.cfg.MaxConcurrent)
	return int(min(120, max(1, t*ahead+0.999)))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if s.closing.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "in_flight": s.lim.inFlight(), "queued": s.lim.queued()})
	return nil
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	cs := s.eng.Cache.Statistics()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.met.write(w, gauges{
		queued: s.lim.queued(), inFlight: s.lim.inFlight(),
		maxConcurrent: s.cfg.MaxConcurrent, queueCapacity: s.cfg.Queue,
		cache:        cs,
		shuttingDown: s.closing.Load(), uptime: time.Since(s.start),
	})
	return nil
}

// modelDigest starts computing the checkpoint digest on first use (it reads
// the whole file) and returns it if it is ready within wait.
func (s *Server) modelDigest(wait time.Duration) (string, bool) {
	s.digestOnce.Do(func() {
		go func() {
			s.digest, s.digestErr = s.eng.Model.Digest()
			close(s.digestDone)
		}()
	})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.digestDone:
		return s.digest, s.digestErr == nil
	case <-t.C:
		return "", false
	}
}

func (s *Server) modelName() string {
	if n := s.cfg.ModelName; n != "" {
		if filepath.IsAbs(n) {
			return filepath.Base(filepath.Clean(n))
		}
		return n
	}
	if p := s.eng.Model.Path; p != "" {
		b := filepath.Base(p)
		if b == "model.safetensors" || b == "pytorch_model.bin" {
			b = filepath.Base(filepath.Dir(p))
		}
		return b
	}
	return s.eng.Model.Config.Name()
}
