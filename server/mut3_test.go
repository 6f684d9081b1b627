package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
)

// The defaults the README's `freeseg serve` flag table states: --concurrency
// max(1, cores/4), --timeout 2m, --read-header-timeout 10s, --read-timeout
// 60s, --max-gflops 4000, --max-text-gflops 10000; Config's doc says zero
// fields given to New take them.
func TestDefaultConfigAsDocumented(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	for _, c := range []struct{ cores, want int }{{2, 1}, {8, 2}, {13, 3}} {
		runtime.GOMAXPROCS(c.cores)
		if got := DefaultConfig().MaxConcurrent; got != c.want {
			t.Errorf("%d cores: %d concurrent inferences, the README says max(1, cores/4) = %d", c.cores, got, c.want)
		}
	}
	runtime.GOMAXPROCS(old)
	d := DefaultConfig()
	if d.InferenceTimeout != 2*time.Minute || d.ReadHeaderTimeout != 10*time.Second || d.ReadTimeout != 60*time.Second {
		t.Errorf("timeouts %v, %v, %v; the README says 2m, 10s, 60s", d.InferenceTimeout, d.ReadHeaderTimeout, d.ReadTimeout)
	}
	if d.IdleTimeout != 2*time.Minute {
		t.Errorf("idle timeout %v; docs/service.md says 2 minutes", d.IdleTimeout)
	}
	for _, b := range []freeseg.Limits{{}, {MaxGFLOPs: -1, MaxTextGFLOPs: -5}} {
		cfg := New(testEngine(t), Config{Budget: b}).Config()
		if cfg.Budget.MaxGFLOPs != 4000 || cfg.Budget.MaxTextGFLOPs != 10000 {
			t.Errorf("budget %+v given: GFLOPs limits %v and %v, want the defaults 4000 and 10000", b, cfg.Budget.MaxGFLOPs, cfg.Budget.MaxTextGFLOPs)
		}
	}
}

// The map-value limit counts every map a request holds: a segmentation
// holds (names + classes) maps of the image's size (README, --max-maps-mb),
// an explanation at least one per text. A limit one value short of that is
// refused.
func TestMapValuesCountEveryMap(t *testing.T) {
	const w, h = 8, 6
	img := string(photo(t, w, h))
	re := regexp.MustCompile(`(\d+) classes \((\d+) names\) at (\d+)x(\d+) need (\d+) map values`)
	for _, classes := range []string{"cat", "cat, dog, tree"} {
		C := strings.Count(classes, ",") + 1
		// Names are at least the classes: (C+C)·w·h − 1 is too few.
		_, ts := testServer(t, Config{Limits: Limits{MaxMapValues: int64(2*C*w*h - 1)}})
		resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", img}, part{"classes", "", classes}, part{"templates", "", "single"})
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("%q under a limit of %d values: %d %s", classes, 2*C*w*h-1, resp.StatusCode, b)
		}
		m := re.FindStringSubmatch(errorBody(t, b))
		if m == nil {
			t.Fatalf("%q: message %s", classes, b)
		}
		c, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		v, _ := strconv.Atoi(m[5])
		if c < C || n < c || m[3] != "8" || m[4] != "6" || v != (n+c)*w*h {
			t.Errorf("%q: %s; want at least %d classes and (names + classes) × %d pixels values", classes, m[0], C, w*h)
		}
	}
	for _, texts := range []string{"cat", "cat, dog"} {
		T := strings.Count(texts, ",") + 1
		_, ts := testServer(t, Config{Limits: Limits{MaxMapValues: int64(T*w*h - 1)}})
		resp, b := postForm(t, ts.URL+"/v1/explain", part{"image", "p.png", img}, part{"texts", "", texts}, part{"templates", "", "single"})
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(errorBody(t, b), fmt.Sprintf("%d texts at 8x6 need", T)) {
			t.Errorf("%d texts under a limit of %d values: %d %s", T, T*w*h-1, resp.StatusCode, b)
		}
	}
}

// An explanation's text budget counts one prompt per new text with the
// single template, plus the empty name whose ensemble the redundant
// feature surgery subtracts (the default for one text); a tiny text limit
// refuses it and says how many.
func TestExplainTextBudgetCountsPrompts(t *testing.T) {
	for _, c := range []struct {
		texts, surgery string
		prompts        int
	}{
		{"mut3 zebra", "redundant", 2},
		{"mut3 okapi", "auto", 2},
		{"mut3 tapir, mut3 quokka", "multi", 2},
		{"mut3 gerenuk", "off", 1},
	} {
		// A fresh classifier cache: nothing (the empty name included) is cached.
		s := New(freeseg.NewEngine(testEngine(t).Model), Config{Budget: freeseg.Limits{MaxTextGFLOPs: 1e-12}})
		ts := httptest.NewServer(s)
		resp, b := postForm(t, ts.URL+"/v1/explain", part{"image", "p.png", string(photo(t, 32, 24))},
			part{"texts", "", c.texts}, part{"templates", "", "single"}, part{"feature_surgery", "", c.surgery})
		ts.Close()
		want := fmt.Sprintf("needs %d prompts encoded", c.prompts)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(errorBody(t, b), want) {
			t.Errorf("%q, %s: %d %s; want 422 saying %q", c.texts, c.surgery, resp.StatusCode, b, want)
		}
	}
}

// An explanation at one patch (size = the patch, 16 here) is not "smaller
// than one patch".
func TestExplainSizeOfOnePatch(t *testing.T) {
	_, ts := testServer(t, Config{})
	for _, c := range []struct {
		size string
		code int
	}{{"16", http.StatusOK}, {"15", http.StatusBadRequest}} {
		resp, b := postForm(t, ts.URL+"/v1/explain", part{"image", "p.png", string(photo(t, 32, 24))},
			part{"texts", "", "cat"}, part{"templates", "", "single"}, part{"size", "", c.size})
		if resp.StatusCode != c.code {
			t.Errorf("size=%s: %d %s, want %d", c.size, resp.StatusCode, b, c.code)
		}
	}
}

// The phases of a request's timing are disjoint parts of its total: a
// large image that decodes slowly (a uniform 2000×2000 PNG, a few KiB
// uploaded, scaled down to 32) must not count its decoding twice.
func TestTimingPhasesWithinTotal(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 2000, 2000))
	for i := range g.Pix {
		g.Pix[i] = 120
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		t.Fatal(err)
	}
	_, ts := testServer(t, Config{})
	resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "big.png", buf.String()}, part{"classes", "", "cat"},
		part{"templates", "", "single"}, part{"max_side", "", "32"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var r struct{ Timing Timing }
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	tm := r.Timing
	sum := tm.QueueMS + tm.DecodeMS + tm.InferenceMS + tm.EncodeMS
	if tm.DecodeMS <= 0 || tm.InferenceMS < 0 || sum > tm.TotalMS+0.05 {
		t.Errorf("timing %+v: the phases add up to %.2f ms, more than the total", tm, sum)
	}
}

// panicHeader panics with v the first time the handler asks for headers.
type panicHeader struct {
	*httptest.ResponseRecorder
	v     any
	fired bool
}

func (p *panicHeader) Header() http.Header {
	if !p.fired {
		p.fired = true
		panic(p.v)
	}
	return p.ResponseRecorder.Header()
}

// A panic in a handler (outside an inference) is answered with 500 and
// counted; http.ErrAbortHandler goes on up to net/http, which drops the
// connection as that value asks.
func TestHandlerPanic(t *testing.T) {
	s := New(testEngine(t), Config{})
	w := &panicHeader{ResponseRecorder: httptest.NewRecorder(), v: "boom"}
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("panic %v escaped ServeHTTP", p)
			}
		}()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	}()
	if w.Code != 500 || !strings.Contains(w.Body.String(), "internal error") {
		t.Errorf("after a panic: %d %s", w.Code, w.Body)
	}
	m := httptest.NewRecorder()
	s.ServeHTTP(m, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(m.Body.String(), `freeseg_http_requests_total{route="/healthz",code="500"} 1`) {
		t.Errorf("the 500 is not counted:\n%s", m.Body)
	}

	w = &panicHeader{ResponseRecorder: httptest.NewRecorder(), v: http.ErrAbortHandler}
	var got any
	func() {
		defer func() { got = recover() }()
		s.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	}()
	if got != http.ErrAbortHandler || w.Body.Len() != 0 {
		t.Errorf("ErrAbortHandler: recovered %v, body %q; want it re-raised and nothing written", got, w.Body)
	}
}

// While an inference request is still sending its body, a shutdown keeps
// the port open (so /healthz answers 503 and load balancers see the
// drain) until that request is answered.
func TestShutdownWaitsForUploadingRequests(t *testing.T) {
	for _, route := range []string{"/v1/segment", "/v1/explain"} {
		t.Run(route[4:], func(t *testing.T) {
			s := New(testEngine(t), Config{})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- s.Serve(ctx, ln, 20*time.Second) }()
			field := "classes"
			if route == "/v1/explain" {
				field = "texts"
			}
			ct, body := formBody(t, part{"image", "p.png", string(photo(t, 32, 24))}, part{field, "", "cat"}, part{"templates", "", "single"})
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", route, ct, len(body))
			conn.Write(body[:10])
			for deadline := time.Now().Add(10 * time.Second); s.lim.queued() != 1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the request was not admitted")
				}
			}
			cancel()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
			health := func() (int, error) {
				resp, err := client.Get("http://" + ln.Addr().String() + "/healthz")
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
				code, err := health()
				if err != nil {
					t.Fatalf("port closed while a request is still being received: %v", err)
				}
				if code == 503 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("/healthz does not answer 503 after the shutdown began")
				}
			}
			time.Sleep(50 * time.Millisecond)
			if code, err := health(); code != 503 {
				t.Fatalf("50 ms later: /healthz %d, %v; want 503 while the request is still being received", code, err)
			}
			conn.Write(body[10:])
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 503 {
				t.Errorf("the request received during the shutdown: %d, want 503", resp.StatusCode)
			}
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Serve did not return")
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// An upload of exactly the limit is accepted whole, in memory or (past
// spillAt) in a temporary file, one byte more is a 413 after reading at
// most limit+1 bytes; spillAt 0 or negative never spills, a spilled file is
// unlinked at once and unreadable once closed.
func TestReadUploadBoundaries(t *testing.T) {
	const limit = 100
	body := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 3)
		}
		return b
	}
	for _, c := range []struct {
		spillAt int64
		size    int
		spilled bool
	}{
		{0, limit, false}, {-1, limit, false}, {limit, limit, false}, {limit + 5, limit, false},
		{10, 10, false}, {10, 11, true}, {10, limit, true}, {1, limit, true},
	} {
		dir := t.TempDir()
		want := body(c.size)
		u, err := readUpload(bytes.NewReader(want), limit, store{sizeHint: -1, spillAt: c.spillAt, dir: dir})
		if err != nil {
			t.Errorf("spillAt %d, %d bytes: %v", c.spillAt, c.size, err)
			continue
		}
		got, err := u.bytes()
		if err != nil || !bytes.Equal(got, want) || u.size != int64(c.size) {
			t.Errorf("spillAt %d, %d bytes: read back %d bytes (size %d), %v", c.spillAt, c.size, len(got), u.size, err)
		}
		if (u.file != nil) != c.spilled {
			t.Errorf("spillAt %d, %d bytes: in a file %v, want %v", c.spillAt, c.size, u.file != nil, c.spilled)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 || u.path != "" {
			t.Errorf("spillAt %d, %d bytes: %d files left in the upload folder, path %q kept", c.spillAt, c.size, len(left), u.path)
		}
		u.close()
		if c.spilled {
			if _, err := u.bytes(); err == nil {
				t.Errorf("spillAt %d, %d bytes: the closed upload still reads", c.spillAt, c.size)
			}
		}
	}
	for _, spillAt := range []int64{-1, 10} {
		src := &countingReader{r: bytes.NewReader(body(10 * limit))}
		_, err := readUpload(src, limit, store{sizeHint: -1, spillAt: spillAt, dir: t.TempDir()})
		if err == nil || asAPIError(err).Code != http.StatusRequestEntityTooLarge || src.n > limit+1 {
			t.Errorf("spillAt %d, %d bytes over a limit of %d: %v, %d bytes read", spillAt, 10*limit, limit, err, src.n)
		}
		src = &countingReader{r: bytes.NewReader(body(limit + 1))}
		if _, err := readUpload(src, limit, store{sizeHint: -1, spillAt: spillAt, dir: t.TempDir()}); err == nil {
			t.Errorf("spillAt %d: %d bytes over a limit of %d accepted", spillAt, limit+1, limit)
		}
	}
}

// Where a stored upload could not be unlinked at once, close removes it.
func TestUploadCloseRemovesKeptPath(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "freeseg-upload-*")
	if err != nil {
		t.Fatal(err)
	}
	u := &upload{file: f, path: f.Name()}
	u.close()
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("%s still there after close: %v", f.Name(), err)
	}
}

// /v1/models states the largest square input within the token limit:
// 1 + (side/16)² tokens at most (README, --max-tokens).
func TestModelsMaxSquare(t *testing.T) {
	for _, c := range []struct {
		tokens int
		square int
	}{{4097, 1024}, {4096, 1008}, {4098, 1024}, {2, 16}, {1 + 3*3, 48}} {
		_, ts := testServer(t, Config{Budget: freeseg.Limits{MaxTokens: c.tokens}})
		resp, err := http.Get(ts.URL + "/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Limits map[string]any }
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || m.Limits["max_square"] != float64(c.square) {
			t.Errorf("max_tokens %d: max_square %v (%v), want %d", c.tokens, m.Limits["max_square"], err, c.square)
		}
	}
}

// The connection's write deadline leaves a request its whole read time
// and its whole slot-plus-inference time, so that the 504 the timeout
// promises (Config.InferenceTimeout) can still be written; and it is a
// deadline (positive), not none.
func TestHTTPServerWriteTimeoutCoversReadAndInference(t *testing.T) {
	for _, c := range []struct{ read, infer time.Duration }{
		{60 * time.Second, 2 * time.Minute}, {10 * time.Second, 40 * time.Second}, {time.Second, time.Second},
	} {
		s := New(testEngine(t), Config{ReadTimeout: c.read, InferenceTimeout: c.infer})
		if wt := s.HTTPServer("").WriteTimeout; wt < c.read+c.infer || wt <= 0 {
			t.Errorf("read %v, inference %v: write timeout %v", c.read, c.infer, wt)
		}
	}
}

// A request admitted before the shutdown (still sending its body) gets
// errClosing (503) when it asks for a slot, even with every slot free: the
// README's --shutdown-timeout answers waiting requests with 503. (Before
// the fix, select chose between the free slot and closing at random.)
func TestSlotAfterCloseRefusedWithFreeSlots(t *testing.T) {
	for i := 0; i < 200; i++ {
		l := newLimiter(2, 1)
		leave, err := l.admit()
		if err != nil {
			t.Fatal(err)
		}
		l.close()
		if release, err := l.slot(context.Background(), leave); err != errClosing {
			if release != nil {
				release()
			}
			t.Fatalf("try %d: slot after close: %v, want errClosing", i, err)
		}
		leave()
		if l.inFlight() != 0 || l.pending.Load() != 0 {
			t.Fatalf("try %d: %d running, %d pending after leave", i, l.inFlight(), l.pending.Load())
		}
	}
}
