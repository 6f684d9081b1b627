package server

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/freeseg/freeseg"
)

// latencyBuckets are the upper bounds (seconds) of the latency histograms.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(latencyBuckets)+1)
	}
	i := sort.SearchFloat64s(latencyBuckets, v) // first bound >= v
	h.counts[i]++
	h.sum += v
	h.n++
}

type codeKey struct {
	route string
	code  int
}

// metrics are the service's Prometheus metrics, rendered in the text
// exposition format (version 0.0.4) by write.
type metrics struct {
	mu        sync.Mutex
	requests  map[codeKey]uint64
	latency   map[string]*histogram // by route
	inference map[string]*histogram // by operation (segment, explain)
	rejected  map[string]uint64     // by reason
	ewma      float64               // recent inference seconds, for Retry-After
}

func newMetrics() *metrics {
	return &metrics{
		requests:  map[codeKey]uint64{},
		latency:   map[string]*histogram{},
		inference: map[string]*histogram{},
		rejected:  map[string]uint64{},
	}
}

func (m *metrics) request(route string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[codeKey{route, code}]++
	h := m.latency[route]
	if h == nil {
		h = &histogram{}
		m.latency[route] = h
	}
	h.observe(d.Seconds())
}

func (m *metrics) inferenceDone(op string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.inference[op]
	if h == nil {
		h = &histogram{}
		m.inference[op] = h
	}
	h.observe(d.Seconds())
	if m.ewma == 0 {
		m.ewma = d.Seconds()
	} else {
		m.ewma = 0.8*m.ewma + 0.2*d.Seconds()
	}
}

func (m *metrics) reject(reason string) {
	m.mu.Lock()
	m.rejected[reason]++
	m.mu.Unlock()
}

// typicalInference is a recent average inference time in seconds (0 before
// the first).
func (m *metrics) typicalInference() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ewma
}

// gauges are the values read at scrape time.
type gauges struct {
	queued, inFlight             int64
	maxConcurrent, queueCapacity int
	cache                        freeseg.CacheStats
	shuttingDown                 bool
	uptime                       time.Duration
}

func fmtFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// escapeLabel escapes a label value for the text format.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func writeHistogram(w io.Writer, name, label string, keys []string, hs map[string]*histogram) {
	for _, k := range keys {
		h := hs[k]
		var cum uint64
		for i, b := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "%s_bucket{%s=\"%s\",le=\"%s\"} %d\n", name, label, escapeLabel(k), fmtFloat(b), cum)
		}
		cum += h.counts[len(latencyBuckets)]
		fmt.Fprintf(w, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %d\n", name, label, escapeLabel(k), cum)
		fmt.Fprintf(w, "%s_sum{%s=\"%s\"} %s\n", name, label, escapeLabel(k), fmtFloat(h.sum))
		fmt.Fprintf(w, "%s_count{%s=\"%s\"} %d\n", name, label, escapeLabel(k), h.n)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func (m *metrics) write(w io.Writer, g gauges) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP freeseg_http_requests_total HTTP requests answered, by route and status code.")
	fmt.Fprintln(w, "# TYPE freeseg_http_requests_total counter")
	keys := make([]codeKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].route != keys[b].route {
			return keys[a].route < keys[b].route
		}
		return keys[a].code < keys[b].code
	})
	for _, k := range keys {
		fmt.Fprintf(w, "freeseg_http_requests_total{route=\"%s\",code=\"%d\"} %d\n", escapeLabel(k.route), k.code, m.requests[k])
	}
	fmt.Fprintln(w, "# HELP freeseg_http_request_duration_seconds Time from the request's arrival to the end of its response, by route.")
	fmt.Fprintln(w, "# TYPE freeseg_http_request_duration_seconds histogram")
	writeHistogram(w, "freeseg_http_request_duration_seconds", "route", sortedKeys(m.latency), m.latency)
	fmt.Fprintln(w, "# HELP freeseg_inference_duration_seconds Time an inference held its slot (decoding and model work), by operation.")
	fmt.Fprintln(w, "# TYPE freeseg_inference_duration_seconds histogram")
	writeHistogram(w, "freeseg_inference_duration_seconds", "op", sortedKeys(m.inference), m.inference)
	fmt.Fprintln(w, "# HELP freeseg_inference_rejected_total Inference requests refused without running, by reason.")
	fmt.Fprintln(w, "# TYPE freeseg_inference_rejected_total counter")
	for _, r := range []string{"queue_full", "shutting_down", "timeout", "budget"} {
		fmt.Fprintf(w, "freeseg_inference_rejected_total{reason=\"%s\"} %d\n", r, m.rejected[r])
	}
	gauge := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	counter := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %v\n", name, help, name, name, v)
	}
	gauge("freeseg_inference_queue_length", "Inference requests admitted and waiting for a slot (or still sending their bodies).", g.queued)
	gauge("freeseg_inference_in_flight", "Inferences running.", g.inFlight)
	gauge("freeseg_inference_max_concurrent", "Inference slots (--concurrency).", g.maxConcurrent)
	gauge("freeseg_inference_queue_capacity", "Requests that may wait for a slot before 429 (--queue).", g.queueCapacity)
	c := g.cache
	counter("freeseg_classifier_cache_hits_total", "Text-classifier rows served from the cache.", c.Hits)
	counter("freeseg_classifier_cache_misses_total", "Text-classifier rows computed.", c.Misses)
	counter("freeseg_classifier_cache_evictions_total", "Text-classifier rows dropped from memory (least recently used) to stay within --cache-rows.", c.Evictions)
	counter("freeseg_classifier_cache_disk_evictions_total", "Text-classifier cache files removed (least recently used) to stay within --cache-disk-mb.", c.DiskEvictions)
	gauge("freeseg_classifier_cache_rows", "Text-classifier rows held in memory.", c.Rows)
	gauge("freeseg_classifier_cache_max_rows", "Bound on the rows held in memory (--cache-rows).", c.MaxRows)
	gauge("freeseg_classifier_cache_memory_bytes", "Bytes of the rows held in memory.", c.MemBytes)
	gauge("freeseg_classifier_cache_disk_files", "Text-classifier cache files on disk (0 until first used, or without a disk cache).", c.DiskFiles)
	gauge("freeseg_classifier_cache_disk_bytes", "Bytes of those files, in 4 KiB blocks.", c.DiskBytes)
	gauge("freeseg_classifier_cache_disk_max_bytes", "Bound on the disk cache (--cache-disk-mb).", c.MaxDiskBytes)
	down := 0
	if g.shuttingDown {
		down = 1
	}
	gauge("freeseg_shutting_down", "1 while the server drains before exiting.", down)
	gauge("freeseg_uptime_seconds", "Seconds since the server started.", fmtFloat(math.Round(g.uptime.Seconds()*1000)/1000))
}
