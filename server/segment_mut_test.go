package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Durations in the JSON are milliseconds with two decimals.
func TestMillisecondsTwoDecimals(t *testing.T) {
	if got := ms(1234567 * time.Microsecond); got != 1234.57 {
		t.Errorf("ms(1.234567 s) = %v, want 1234.57", got)
	}
}

// A request whose maps need exactly MaxMapValues values is served; one
// value more is refused with 413 and the size of the maps in float32
// bytes.
func TestCheckMapValuesInclusive(t *testing.T) {
	s := &Server{cfg: Config{Limits: Limits{MaxMapValues: 3 * 512 * 1024}}} // 6 MiB of float32
	if err := s.checkMapValues(3, 512, 1024, "3 heat maps"); err != nil {
		t.Errorf("exactly at the limit: %v", err)
	}
	err := s.checkMapValues(3, 513, 1024, "3 heat maps")
	if err == nil || !strings.Contains(err.Error(), "need 1575936 map values (6303744 bytes of float32)") {
		t.Errorf("over the limit: %v", err)
	}
	s.cfg.MaxMapValues = 3*512*1024 - 1
	if err := s.checkMapValues(3, 512, 1024, "3 heat maps"); err == nil || !strings.Contains(err.Error(), "(6 MiB of float32)") {
		t.Errorf("one value over: %v, want the size in MiB", err)
	}
}

// A body whose declared length equals MaxBodyBytes is read; one byte
// more is refused before reading.
func TestLimitBodyInclusive(t *testing.T) {
	s := &Server{cfg: Config{Limits: Limits{MaxBodyBytes: 100}}}
	r := httptest.NewRequest(http.MethodPost, "/v1/segment", strings.NewReader(strings.Repeat("x", 100)))
	if err := s.limitBody(httptest.NewRecorder(), r); err != nil {
		t.Errorf("body of exactly the limit: %v", err)
	}
	r = httptest.NewRequest(http.MethodPost, "/v1/segment", strings.NewReader(strings.Repeat("x", 101)))
	if err := s.limitBody(httptest.NewRecorder(), r); err == nil || !strings.Contains(err.Error(), "101 bytes") {
		t.Errorf("body one byte over: %v", err)
	}
}

// queued counts the admitted requests not yet running.
func TestLimiterQueued(t *testing.T) {
	var l limiter
	l.pending.Store(5)
	l.running.Store(2)
	if got := l.queued(); got != 3 {
		t.Errorf("queued = %d, want 3 (5 pending, 2 running)", got)
	}
}
