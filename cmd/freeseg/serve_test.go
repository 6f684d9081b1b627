package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/internal/golden"
)

// syncBuffer is a bytes.Buffer safe for the server's log and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeUsage(t *testing.T) {
	if code, out, _ := run(t, "serve", "--help"); code != 0 || !strings.Contains(out, "max-megapixels") || !strings.Contains(out, "127.0.0.1:8080") {
		t.Fatalf("serve --help: %d %s", code, out)
	}
	for _, args := range [][]string{
		{"serve", "--concurrency", "0"},
		{"serve", "--queue", "-1"},
		{"serve", "--timeout", "0s"},
		{"serve", "--max-classes", "0"},
		{"serve", "--max-tokens", "1"},
		{"serve", "--max-gflops", "0"},
		{"serve", "--max-inference-mb", "0"},
		{"serve", "--cache-rows", "0"},
		{"serve", "--cache-disk-mb", "0"},
		{"serve", "extra"},
	} {
		if code, _, errs := run(t, args...); code != 2 || !strings.Contains(errs, "usage: freeseg serve") {
			t.Fatalf("%q: code %d, %q", args, code, errs)
		}
	}
}

// freeseg serve with the tiny model: it listens, answers, and stops
// cleanly on the stop signal.
func TestServeCommand(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	photo, err := os.ReadFile(golden.Path(t, "cases", "coffee.png"))
	if err != nil {
		t.Fatal(err)
	}
	type ready struct {
		addr string
		stop func()
	}
	got := make(chan ready, 1)
	serveHook = func(addr string, stop func()) { got <- ready{addr, stop} }
	defer func() { serveHook = nil }()
	var stderr syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- runMain([]string{"serve", "--model", model, "--addr", "127.0.0.1:0", "--no-cache", "--queue", "2"},
			&env{stdout: io.Discard, stderr: &stderr, stdin: strings.NewReader("")})
	}()
	var r ready
	select {
	case r = <-got:
	case code := <-exit:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	base := "http://" + r.addr

	resp, err := http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Models []struct{ Name, Path string }
		Server struct {
			Queue int `json:"queue"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Models) != 1 || models.Models[0].Name != "tiny-clip" || models.Server.Queue != 2 {
		t.Fatalf("models: %+v", models)
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "coffee.png")
	fw.Write(photo)
	mw.WriteField("classes", "coffee cup; table")
	mw.WriteField("templates", "single")
	mw.WriteField("pamr", "0")
	mw.Close()
	resp, err = http.Post(base+"/v1/segment", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var seg struct {
		Width   int
		Classes []struct{ Name string }
		Error   string
	}
	json.NewDecoder(resp.Body).Decode(&seg)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(seg.Classes) != 3 || seg.Classes[1].Name != "coffee cup" {
		t.Fatalf("segment: %d %+v", resp.StatusCode, seg)
	}

	r.stop() // as SIGINT
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit code %d: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	log := stderr.String()
	for _, want := range []string{"serving", "POST /v1/segment 200", "shutting down", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// segment's flag defaults give DefaultOptions through freeseg.Params.
func TestSegmentFlagsRoundTrip(t *testing.T) {
	var sf segmentFlags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	d := freeseg.DefaultOptions()
	sf.register(fs, d)
	o, err := sf.options(d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, d) {
		t.Fatalf("flags give %+v, want %+v", o, d)
	}
	if got, want := sf.params(), freeseg.ParamsOf(d); !reflect.DeepEqual(got, want) {
		t.Fatalf("flag defaults %+v, ParamsOf %+v", got, want)
	}
	fs.Parse([]string{"--crop", "0"})
	if _, err := sf.options(d); err == nil || !strings.Contains(err.Error(), "--crop 0 must be positive") {
		t.Fatalf("--crop 0: %v", err)
	}
}
