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

// acquire waits for a slot. It fails with errQueueFull when max are running
// and queue are waiting, errClosing once close was called (waiting requests
// included), or ctx's error. release must be called once when the work is
// done.
func (l *limiter) acquire(ctx context.Context) (release func(), err error) {
	select {
	case <-l.closing:
		return nil, errClosing
	default:
	}
	if l.pending.Add(1) > l.capacity {
		l.pending.Add(-1)
		return nil, errQueueFull
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		l.pending.Add(-1)
		return nil, ctx.Err()
	case <-l.closing:
		l.pending.Add(-1)
		return nil, errClosing
	}
	l.running.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.running.Add(-1)
			<-l.slots
			l.pending.Add(-1)
		})
	}, nil
}

// queued is how many requests wait for a slot.
func (l *limiter) queued() int64 { return max(0, l.pending.Load()-l.running.Load()) }

// inFlight is how many inferences run.
func (l *limiter) inFlight() int64 { return l.running.Load() }

// close makes waiting and new requests fail with errClosing; running ones
// go on.
func (l *limiter) close() { l.closeOnce.Do(func() { close(l.closing) }) }
