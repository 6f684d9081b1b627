package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

var (
	errQueueFull = errors.New("queue full")
	errClosing   = errors.New("shutting down")
)

// limiter admits at most max inferences at once and lets at most queue more
// wait for a slot; beyond that requests are refused at once (429). Waiting
// requests are served in arrival order (a channel's blocked senders are
// woken first in, first out).
type limiter struct {
	slots    chan struct{}
	capacity int64        // max + queue
	pending  atomic.Int64 // waiting + running
	running  atomic.Int64

	closing   chan struct{}
	closeOnce sync.Once
}

func newLimiter(max, queue int) *limiter {
	return &limiter{slots: make(chan struct{}, max), capacity: int64(max + queue), closing: make(chan struct{})}
}

// admit takes a place among the max + queue requests the service holds
// (running, waiting, or still reading their bodies), before the request's
// body is read: a request refused here costs no memory. It fails with
// errQueueFull or errClosing. leave gives the place back and must be
// called once, unless slot succeeded (then its release does).
func (l *limiter) admit() (leave func(), err error) {
	select {
	case <-l.closing:
		return nil, errClosing
	default:
	}
	if l.pending.Add(1) > l.capacity {
		l.pending.Add(-1)
		return nil, errQueueFull
	}
	var once sync.Once
	return func() { once.Do(func() { l.pending.Add(-1) }) }, nil
}

// slot waits for an inference slot for an admitted request. On success
// release ends both the slot and the admission (call it once, and not
// leave); on failure the request is still admitted (call leave).
func (l *limiter) slot(ctx context.Context, leave func()) (release func(), err error) {
	// Closing first: select picks at random among ready cases, and a
	// request admitted before close (still sending its body) must get
	// errClosing even when a slot is free.
	select {
	case <-l.closing:
		return nil, errClosing
	default:
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.closing:
		return nil, errClosing
	}
	l.running.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.running.Add(-1)
			<-l.slots
			leave()
		})
	}, nil
}

// acquire is admit and slot together. It fails with errQueueFull when max
// are running and queue are waiting, errClosing once close was called
// (waiting requests included), or ctx's error. release must be called once
// when the work is done.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	leave, err := l.admit()
	if err != nil {
		return nil, err
	}
	release, err = l.slot(ctx, leave)
	if err != nil {
		leave()
		return nil, err
	}
	return release, nil
}

// queued is how many admitted requests wait for a slot (or still read
// their bodies).
func (l *limiter) queued() int64 { return max(0, l.pending.Load()-l.running.Load()) }

// inFlight is how many inferences run.
func (l *limiter) inFlight() int64 { return l.running.Load() }

// close makes waiting and new requests fail with errClosing; running ones
// go on.
func (l *limiter) close() { l.closeOnce.Do(func() { close(l.closing) }) }
