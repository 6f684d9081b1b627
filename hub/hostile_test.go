package hub

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg/hub/hubtest"
)

// A server that keeps the connection alive with one byte at a time is
// stalled: the attempt is aborted after Options.StallTimeout and resumed
// from the partial file.
func TestTrickleIsAStallAndResumes(t *testing.T) {
	r := fakeModel("org/trickle", 50_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{Trickle: 20 * time.Millisecond, Times: 1})
	opt, log := testOptions(t, s)
	opt.Retries, opt.StallTimeout = 1, 300*time.Millisecond
	dir, err := Pull(context.Background(), "org/trickle", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	if !strings.Contains(log.String(), "stalled: less than 1 KiB received in 300ms; resuming (retry 1 of 1)") {
		t.Errorf("no stall note in:\n%s", log)
	}
	var ranges []string
	for _, q := range s.Requests() {
		if q.Server == "cdn" {
			ranges = append(ranges, q.Range)
		}
	}
	// The first attempt got a few bytes (300 ms / 20 ms); the second asks
	// for the rest only.
	if len(ranges) != 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") || ranges[1] == "bytes=0-" {
		t.Errorf("CDN requests with ranges %q, want a fresh one then a resume", ranges)
	}
}

// A server that trickles forever costs Retries+1 stall timeouts, then a
// clear error; the partial download stays for the next run to resume.
func TestTrickleForeverFails(t *testing.T) {
	s := hubtest.New(t, fakeModel("org/trickle2", 50_000))
	s.SetFault("model.safetensors", hubtest.Fault{Trickle: 20 * time.Millisecond})
	opt, _ := testOptions(t, s)
	opt.Retries, opt.StallTimeout = 1, 200*time.Millisecond
	_, err := Pull(context.Background(), "org/trickle2", opt)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "stalled") ||
		!strings.Contains(err.Error(), "run the command again to resume") {
		t.Fatalf("err = %v, want a stall of model.safetensors", err)
	}
	if n := s.Count("cdn", "/blobs/"); n != 2 {
		t.Errorf("%d CDN requests, want 2 (Retries 1)", n)
	}
}

// Files of no declared size are capped: a chunked config.json that does not
// end is refused after 16 MiB and its partial deleted; a declared size
// over the cap is refused before any byte is read.
func TestDownloadCaps(t *testing.T) {
	t.Run("chunked config.json", func(t *testing.T) {
		r := fakeModel("org/bigcfg", 1000)
		s := hubtest.New(t, r)
		s.NoAPI = true // no listing: sizes are unknown
		s.SetFault("config.json", hubtest.Fault{Chunked: true, Extra: 20 << 20})
		opt, _ := testOptions(t, s)
		_, err := Pull(context.Background(), "org/bigcfg", opt)
		if err == nil || !strings.Contains(err.Error(), "config.json: more than 16 MiB arrived with no size declared") {
			t.Fatalf("err = %v", err)
		}
		parts, _ := filepath.Glob(filepath.Join(opt.CacheDir, "models", "*", "*", "config.json*"))
		if len(parts) != 0 {
			t.Errorf("left behind: %v", parts)
		}
	})
	t.Run("declared by Content-Length", func(t *testing.T) {
		s := hubtest.New(t, fakeModel("org/bigcfg2", 1000))
		s.NoAPI = true
		s.SetFault("config.json", hubtest.Fault{Extra: 20 << 20})
		opt, _ := testOptions(t, s)
		_, err := Pull(context.Background(), "org/bigcfg2", opt)
		if err == nil || !strings.Contains(err.Error(), "config.json: the server declares 21.0 MB, more than the 16 MiB") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("declared by the listing", func(t *testing.T) {
		r := fakeModel("org/bigcfg3", 1000)
		for i := range r.Files {
			if r.Files[i].Name == "vocab.json" {
				r.Files[i].Data = make([]byte, 17<<20)
			}
		}
		s := hubtest.New(t, r)
		opt, _ := testOptions(t, s)
		_, err := Pull(context.Background(), "org/bigcfg3", opt)
		if err == nil || !strings.Contains(err.Error(), "vocab.json: the server declares 17.8 MB") {
			t.Fatalf("err = %v", err)
		}
		if n := s.Count("", "vocab.json"); n != 0 {
			t.Errorf("vocab.json was requested %d times", n)
		}
	})
	// A checkpoint larger than a small file is fine: only its declared
	// size holds it.
	r := fakeModel("org/bigweights", 17<<20)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	dir, err := Pull(context.Background(), "org/bigweights", opt)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil || st.Size() != 17<<20 {
		t.Fatalf("weights: %v %v", st, err)
	}
}

// The models API listing is bounded by the stall timeout too.
func TestTrickledListingFails(t *testing.T) {
	s := hubtest.New(t, fakeModel("org/slowapi", 1000))
	s.APITrickle = 20 * time.Millisecond
	opt, _ := testOptions(t, s)
	opt.StallTimeout = 200 * time.Millisecond
	_, err := Pull(context.Background(), "org/slowapi", opt)
	if err == nil || !strings.Contains(err.Error(), "org/slowapi@main: the file listing stalled: less than 1 KiB received in 200ms") {
		t.Fatalf("err = %v", err)
	}
}
