package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/server"
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
	// The defaults shown in units (megapixels, MiB of float32 maps) are the
	// service's own limits.
	d := server.DefaultConfig()
	_, out, _ := run(t, "serve", "--help")
	for _, want := range []string{fmt.Sprintf("(default %g)", float64(d.MaxPixels)/1e6), fmt.Sprintf("(default %d)", d.MaxMapValues*4/(1<<20))} {
		if !strings.Contains(out, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
	for _, args := range [][]string{
		{"serve", "--concurrency", "0"},
		{"serve", "--queue", "-1"},
		{"serve", "--timeout", "0s"},
		{"serve", "--max-classes", "0"},
		{"serve", "--max-tokens", "1"},
		{"serve", "--max-side", "0"},
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
	// A relative --model path is shown by its name only, as an absolute one.
	wd, _ := os.Getwd()
	model, err := filepath.Rel(wd, golden.Path(t, "tiny-clip"))
	if err != nil {
		t.Fatal(err)
	}
	photo, err := os.ReadFile(golden.Path(t, "cases", "coffee.png"))
	if err != nil {
		t.Fatal(err)
	}
	addr, stderr, stop := startServe(t, "--model", model, "--addr", "127.0.0.1:0", "--no-cache", "--queue", "2",
		"--max-tokens", "500", "--max-gflops", "123", "--max-text-gflops", "456", "--max-inference-mb", "300", "--max-side", "2000", "--cache-rows", "7",
		"--max-megapixels", "3", "--max-maps-mb", "64", "--max-body-mb", "5")
	base := "http://" + addr

	resp, err := http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Models []struct{ Name, Path string }
		Server struct {
			Queue int `json:"queue"`
		}
		Limits map[string]float64
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Models) != 1 || models.Models[0].Name != "tiny-clip" || models.Server.Queue != 2 {
		t.Fatalf("models: %+v", models)
	}
	// The budget flags reach the service (max_square: floor(sqrt(499))·16).
	for k, v := range map[string]float64{"max_tokens": 500, "max_gflops": 123, "max_text_gflops": 456, "max_inference_bytes": 300 << 20, "max_side": 2000, "max_square": 22 * 16,
		"max_pixels": 3e6, "max_map_values": 64 << 20 / 4, "max_body_bytes": 5 << 20} {
		if models.Limits[k] != v {
			t.Errorf("limits %s = %v, want %v", k, models.Limits[k], v)
		}
	}
	if resp, err := http.Get(base + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "freeseg_classifier_cache_max_rows 7\n") {
			t.Errorf("metrics lack the --cache-rows bound")
		}
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

	if code := stop(); code != 0 { // as SIGINT
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	log := stderr.String()
	for _, want := range []string{"serving", "queue 2, body 5 MiB, 3 megapixels", "POST /v1/segment 200", "shutting down", "stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// Flags bound from the settings table: their defaults are the preset's
// (so parsing nothing gives the preset back), a flag given changes only its
// setting, and a value out of range is refused naming the flag's setting.
func TestSettingFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := freeseg.DefaultOptions()
	sf := freeseg.BindFlags(fs, d, freeseg.ForSegment)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	o := d
	if err := sf.Apply(&o); err != nil || !reflect.DeepEqual(o, d) {
		t.Fatalf("no flags give %+v (%v), want %+v", o, err, d)
	}
	if f := fs.Lookup("short-side"); f == nil || f.DefValue != "336" {
		t.Fatalf("--short-side default: %+v", f)
	}
	if err := fs.Parse([]string{"--whole", "--method", "naclip", "--partial-labels=off"}); err != nil {
		t.Fatal(err)
	}
	if err := sf.Apply(&o); err != nil || !o.Whole || o.Method.Name != "naclip" || o.Partial.Enabled || o.LogitScale != d.LogitScale {
		t.Fatalf("applied: %v %+v", err, o)
	}
	if got := sf.Overrides(); !reflect.DeepEqual(got, []string{"--method=naclip", "--whole=true", "--partial-labels=off"}) {
		t.Fatalf("overrides %q", got)
	}
	if err := fs.Parse([]string{"--crop", "0"}); err == nil || !strings.Contains(err.Error(), "crop: 0 is outside [1, 8192]") {
		t.Fatalf("--crop 0: %v", err)
	}
}

// startServe runs freeseg serve with args until it listens; stop sends it
// the stop signal and returns its exit code.
func startServe(t *testing.T, args ...string) (addr string, stderr *syncBuffer, stop func() int) {
	t.Helper()
	type ready struct {
		addr string
		stop func()
	}
	got := make(chan ready, 1)
	serveHook = func(addr string, stop func()) { got <- ready{addr, stop} }
	t.Cleanup(func() { serveHook = nil })
	stderr = &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- runMain(append([]string{"serve"}, args...), &env{stdout: io.Discard, stderr: stderr, stdin: strings.NewReader("")})
	}()
	var r ready
	select {
	case r = <-got:
	case code := <-exit:
		t.Fatalf("%q: serve exited with %d: %s", args, code, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%q: serve did not start", args)
	}
	return r.addr, stderr, func() int {
		r.stop()
		select {
		case code := <-exit:
			return code
		case <-time.After(30 * time.Second):
			t.Fatalf("%q: serve did not stop", args)
			return -1
		}
	}
}
