package server

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Numbers are written in the shortest form that reads back exactly.
func TestFmtFloatShortest(t *testing.T) {
	for v, want := range map[float64]string{0.25: "0.25", 1234.5: "1234.5", 3: "3", 0.1: "0.1"} {
		if got := fmtFloat(v); got != want {
			t.Errorf("fmtFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

// Request counters are listed by route, then by status code, and the
// uptime is given in seconds rounded to the millisecond.
func TestMetricsOrderAndUptime(t *testing.T) {
	m := newMetrics()
	for _, r := range []struct {
		route string
		code  int
	}{{"/v1/segment", 500}, {"/healthz", 200}, {"/v1/segment", 200}, {"/v1/explain", 429}, {"/v1/segment", 200}} {
		m.request(r.route, r.code, time.Millisecond)
	}
	var b bytes.Buffer
	m.write(&b, gauges{uptime: 1234567 * time.Microsecond})
	var got []string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "freeseg_http_requests_total{") {
			got = append(got, line)
		}
	}
	want := []string{
		`freeseg_http_requests_total{route="/healthz",code="200"} 1`,
		`freeseg_http_requests_total{route="/v1/explain",code="429"} 1`,
		`freeseg_http_requests_total{route="/v1/segment",code="200"} 2`,
		`freeseg_http_requests_total{route="/v1/segment",code="500"} 1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("request counters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(b.String(), "\nfreeseg_uptime_seconds 1.235\n") {
		t.Errorf("uptime line missing or wrong in:\n%s", b.String())
	}
}
