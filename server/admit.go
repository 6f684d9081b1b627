package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

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
