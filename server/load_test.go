package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent clients on loopback against one slot and a queue of two: the
// server answers 200 to some and 429 (with Retry-After) to the rest, never
// a 5xx, and /healthz keeps answering promptly throughout.
func TestLoadQueueFull(t *testing.T) {
	cfg := Config{MaxConcurrent: 1, Queue: 2}
	s, ts := testServer(t, cfg)
	// Each inference takes at least 40 ms, so 16 clients at once overflow
	// the queue whatever the machine's speed.
	s.hookInference = func() { time.Sleep(40 * time.Millisecond) }
	ct, body := formBody(t, part{"image", "p.png", string(photo(t, 32, 24))}, part{"classes", "", "cat; dog"}, part{"templates", "", "single"},
		part{"short_side", "", "64"}, part{"whole", "", "1"})

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	const clients, perClient = 16, 3
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < perClient; j++ {
				resp, err := client.Post(ts.URL+"/v1/segment", ct, bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
				switch resp.StatusCode {
				case 200:
				case 429:
					if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
						t.Errorf("429 without a Retry-After: %q", ra)
					}
					if !strings.Contains(errorBody(t, b), "busy") {
						t.Errorf("429 body %s", b)
					}
				default:
					t.Errorf("status %d: %s", resp.StatusCode, b)
				}
			}
		}()
	}

	// /healthz is not behind the inference queue.
	stopHealth := make(chan struct{})
	var healthOK, healthSlow atomic.Int32
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() {
		defer hwg.Done()
		for {
			select {
			case <-stopHealth:
				return
			case <-time.After(10 * time.Millisecond):
			}
			t0 := time.Now()
			resp, err := client.Get(ts.URL + "/healthz")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("healthz %d under load", resp.StatusCode)
			}
			if time.Since(t0) > 2*time.Second {
				healthSlow.Add(1)
			}
			healthOK.Add(1)
		}
	}()
	close(start)
	wg.Wait()
	close(stopHealth)
	hwg.Wait()
	t.Logf("codes %v; /healthz answered %d times during the run", codes, healthOK.Load())
	if codes[200] == 0 || codes[429] == 0 || codes[200]+codes[429] != clients*perClient {
		t.Fatalf("codes %v: want both 200 and 429 and nothing else", codes)
	}
	if healthOK.Load() == 0 || healthSlow.Load() > 0 {
		t.Fatalf("/healthz answered %d times, %d slowly", healthOK.Load(), healthSlow.Load())
	}
	if s.lim.inFlight() != 0 || s.lim.queued() != 0 {
		t.Fatalf("after the run: %d in flight, %d queued", s.lim.inFlight(), s.lim.queued())
	}
	resp, err := client.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`freeseg_inference_rejected_total{reason="queue_full"} %d`, codes[429])
	if !strings.Contains(string(m), want) {
		t.Fatalf("metrics lack %q", want)
	}
}

// A client that sends its headers and then stalls in the body is cut off by
// the read timeout while other clients are served. (It holds one of the
// admission places meanwhile: requests are admitted before their bodies
// are read, so a queue of 1 leaves room for the others.)
func TestSlowClientCutOff(t *testing.T) {
	cfg := Config{ReadTimeout: 400 * time.Millisecond, Queue: 1}
	_, ts := testServer(t, cfg)
	addr := strings.TrimPrefix(ts.URL, "http://")

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /v1/segment HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"+
		"--b\r\nContent-Disposition: form-data; name=\"classes\"\r\n\r\ncat\r\n--b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.png\"\r\n\r\n\x89PNG", addr)
	t0 := time.Now()

	// Meanwhile others are served.
	ct, body := formBody(t, part{"image", "p.png", string(photo(t, 32, 24))}, part{"classes", "", "cat"}, part{"templates", "", "single"})
	for i := 0; i < 3; i++ {
		resp, b := post(t, ts.URL+"/v1/segment", ct, body)
		if resp.StatusCode != 200 {
			t.Fatalf("other client: %d %s", resp.StatusCode, b)
		}
		if r, err := http.Get(ts.URL + "/healthz"); err != nil || r.StatusCode != 200 {
			t.Fatalf("healthz: %v", err)
		} else {
			r.Body.Close()
		}
	}

	// The stalled request ends with 408 (or a closed connection) soon
	// after the read timeout, not after the client's 100000 bytes.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	took := time.Since(t0)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("stalled client got %d %s, want 408", resp.StatusCode, b)
		}
		errorBody(t, b)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the stalled connection was still open after %s", took)
	}
	if took > 5*time.Second {
		t.Fatalf("cut off after %s, want about 400ms", took)
	}
	// The connection is closed.
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := slow.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Fatalf("connection still open: %v", err)
	}
	t.Logf("stalled client answered after %s (status %v)", took.Round(time.Millisecond), statusOf(resp))
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "closed"))
}

func statusOf(r *http.Response) any {
	if r == nil {
		return "none"
	}
	return r.StatusCode
}

// Graceful shutdown: the running request finishes with 200, the waiting
// one gets 503, new connections are refused, and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	s := New(testEngine(t), Config{MaxConcurrent: 1, Queue: 4})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	s.hookInference = func() {
		entered <- struct{}{}
		<-release
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln, 20*time.Second) }()
	url := "http://" + ln.Addr().String()
	ct, body := formBody(t, part{"image", "p.png", string(photo(t, 32, 24))}, part{"classes", "", "cat"}, part{"templates", "", "single"})
	type result struct {
		code int
		body string
	}
	send := func() chan result {
		c := make(chan result, 1)
		go func() {
			resp, err := http.Post(url+"/v1/segment", ct, bytes.NewReader(body))
			if err != nil {
				c <- result{-1, err.Error()}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			c <- result{resp.StatusCode, string(b)}
		}()
		return c
	}
	running := send()
	<-entered
	waiting := send()
	for s.lim.queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel() // as SIGTERM does in freeseg serve
	if r := <-waiting; r.code != 503 || !strings.Contains(r.body, "shutting down") {
		t.Fatalf("waiting request: %d %s", r.code, r.body)
	}
	// While the running request drains, the listener stays open: /healthz
	// answers 503 (the readiness signal) and new inference requests 503.
	for i := 0; i < 3; i++ {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatalf("healthz while draining: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(b), "shutting down") {
			t.Fatalf("healthz while draining: %d %s", resp.StatusCode, b)
		}
	}
	if r := <-send(); r.code != 503 {
		t.Fatalf("new request while draining: %d %s", r.code, r.body)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v before the running request finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-running; r.code != 200 {
		t.Fatalf("running request: %d %s", r.code, r.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	// Then it stops accepting.
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Fatal("still accepting connections after Serve returned")
	}
}

// Several inferences at once, every method and both endpoints, on one
// engine (shared weights, classifier cache, positional-table and NACLIP
// bias caches): all succeed, and the same request gives the same answer
// alone and under concurrency. Run with -race to check the engine for
// data races.
func TestConcurrentInferences(t *testing.T) {
	_, ts := testServer(t, Config{MaxConcurrent: 4, Queue: 16})
	img := string(photo(t, 40, 32))
	methods := []string{"surgery", "sclip", "naclip", "clearclip", "maskclip", "vanilla"}
	request := func(i int) (string, []byte) {
		if i%4 == 3 {
			return formBody(t, part{"image", "p.png", img}, part{"texts", "", "cat, dog"}, part{"templates", "", "single"},
				part{"method", "", methods[i%len(methods)]}, part{"size", "", fmt.Sprint(32 + 16*(i%3))})
		}
		return formBody(t, part{"image", "p.png", img}, part{"classes", "", fmt.Sprintf("cat; dog; thing%d", i%3)}, part{"templates", "", "single"},
			part{"method", "", methods[i%len(methods)]}, part{"short_side", "", fmt.Sprint(48 + 16*(i%3))}, part{"crop", "", "32"}, part{"stride", "", "16"})
	}
	path := func(i int) string {
		if i%4 == 3 {
			return "/v1/explain"
		}
		return "/v1/segment"
	}
	const n = 12
	alone := make([]string, n)
	for i := 0; i < n; i++ {
		ct, body := request(i)
		resp, b := post(t, ts.URL+path(i), ct, body)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d alone: %d %s", i, resp.StatusCode, b)
		}
		alone[i] = stripTiming(t, b)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ct, body := request(i)
			resp, err := http.Post(ts.URL+path(i), ct, bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("request %d: %d %s", i, resp.StatusCode, b)
				return
			}
			if stripTiming(t, b) != alone[i] {
				t.Errorf("request %d (%s): the answer under concurrency differs from the answer alone", i, path(i))
			}
		}()
	}
	wg.Wait()
}

// stripTiming removes the timing object from a JSON answer.
func stripTiming(t testing.TB, b []byte) string {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "timing")
	out, _ := json.Marshal(m)
	return string(out)
}
