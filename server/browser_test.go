package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freeseg/freeseg/dense"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/internal/golden"
)

// cdp is a minimal Chrome DevTools Protocol client over
// --remote-debugging-pipe: JSON messages ending in a NUL byte, commands
// written to the browser's fd 3, answers and events read from its fd 4.
type cdp struct {
	w       io.Writer
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpMessage
	closed  chan struct{}
	readErr error
}

type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func newCDP(w io.Writer, r io.Reader) *cdp {
	c := &cdp{w: w, pending: map[int]chan cdpMessage{}, closed: make(chan struct{})}
	go func() {
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			b, err := br.ReadBytes(0)
			if err != nil {
				c.mu.Lock()
				c.readErr = err
				c.mu.Unlock()
				close(c.closed)
				return
			}
			var m cdpMessage
			if json.Unmarshal(b[:len(b)-1], &m) != nil || m.ID == 0 {
				continue // events are not used
			}
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}()
	return c
}

// call sends a command (to the page session when session is not "") and
// waits for its answer.
func (c *cdp) call(session, method string, params any, result any) error {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan cdpMessage, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-c.closed:
		return fmt.Errorf("%s: the browser closed the pipe: %v", method, c.readErr)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: no answer in 30s", method)
	}
}

// page drives one tab.
type page struct {
	t       *testing.T
	c       *cdp
	session string
}

// eval runs a JavaScript expression in the page (awaiting promises) and
// decodes its JSON-able value into out.
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.c.call(p.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		p.t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		p.t.Fatalf("%s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	if out != nil {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			p.t.Fatalf("%s: result %s: %v", expr, r.Result.Value, err)
		}
	}
}

// waitFor polls a boolean expression until it is true.
func (p *page) waitFor(expr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		p.eval("Boolean("+expr+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var status string
			p.eval(`document.getElementById("status").textContent`, &status)
			p.t.Fatalf("waited %s for %s; the page's status says %q", timeout, expr, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *page) screenshot(path string) {
	p.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	if err := p.c.call(p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		p.t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func findChromium(t *testing.T) string {
	// scripts/mutation.sh sets it: a Chromium start per mutant would
	// dominate the run, and the page's script is not what gremlins mutates.
	if os.Getenv("FREESEG_SKIP_BROWSER") == "1" {
		t.Skip("FREESEG_SKIP_BROWSER=1: skipping the browser test of the page")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium is not installed (apt-get install chromium): skipping the browser test of the page")
	return ""
}

// The page end to end in headless Chromium with the tiny golden model:
// choose a photo, type classes, run, and check the overlay, the legend, a
// heat map and the downloads. The screenshot is written to the test's
// temporary folder, and to $FREESEG_SCREENSHOT_DIR when set.
func TestBrowserPage(t *testing.T) {
	model := golden.Path(t, "tiny-clip")
	photoPath := golden.Path(t, "cases", "chelsea.png")
	chromium := findChromium(t)
	eng, err := freeseg.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(eng, Config{}))
	defer ts.Close()

	dir := t.TempDir()
	toBrowser, browserIn, err := os.Pipe() // we write browserIn; the browser reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	fromBrowser, browserOut, err := os.Pipe() // the browser writes fd 4
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--remote-debugging-pipe", "--window-size=1100,1300", "about:blank")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.ExtraFiles = []*os.File{toBrowser, browserOut}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowser.Close()
	browserOut.Close()
	c := newCDP(browserIn, fromBrowser)
	defer func() {
		c.call("", "Browser.close", nil, nil)
		browserIn.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		fromBrowser.Close()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", tail(stderr.String(), 4000))
		}
	}()

	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, c: c, session: attached.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "DOM.enable"} {
		if err := c.call(p.session, m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.call(p.session, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1100, "height": 1300, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.call(p.session, "Page.navigate", map[string]any{"url": ts.URL + "/"}, nil); err != nil {
		t.Fatal(err)
	}
	p.waitFor(`document.readyState === "complete" && document.getElementById("model-info").textContent.includes("tiny-clip")`, 20*time.Second)
	var methods []string
	p.eval(`[...document.getElementById("set-method").options].map(o => o.value)`, &methods)
	if len(methods) != len(dense.Names()) {
		t.Fatalf("methods from /v1/models: %v", methods)
	}

	// Running without an image or classes says what is missing.
	p.eval(`document.getElementById("run").click()`, nil)
	p.waitFor(`document.getElementById("status").textContent.includes("Choose an image")`, 5*time.Second)

	// Choose the photo through the file input, as a person would.
	var doc struct {
		Root struct {
			NodeID int `json:"nodeId"`
		} `json:"root"`
	}
	if err := c.call(p.session, "DOM.getDocument", map[string]any{"depth": 0}, &doc); err != nil {
		t.Fatal(err)
	}
	var input struct {
		NodeID int `json:"nodeId"`
	}
	if err := c.call(p.session, "DOM.querySelector", map[string]any{"nodeId": doc.Root.NodeID, "selector": "#image"}, &input); err != nil {
		t.Fatal(err)
	}
	if err := c.call(p.session, "DOM.setFileInputFiles", map[string]any{"nodeId": input.NodeID, "files": []string{photoPath}}, nil); err != nil {
		t.Fatal(err)
	}
	p.waitFor(`!document.getElementById("preview").hidden`, 5*time.Second)

	// Type the classes.
	p.eval(`document.getElementById("classes").focus()`, nil)
	if err := c.call(p.session, "Input.insertText", map[string]any{"text": "cat; person, man; coffee cup"}, nil); err != nil {
		t.Fatal(err)
	}
	var typed string
	p.eval(`document.getElementById("classes").value`, &typed)
	if typed != "cat; person, man; coffee cup" {
		t.Fatalf("typed %q", typed)
	}

	// Background: "my own names" shows a text field; then pick none, so
	// that the tiny random model's argmax over the three classes colours
	// the whole photo.
	p.eval(`(() => { const s = document.getElementById("background"); s.value = "custom"; s.dispatchEvent(new Event("change")); })()`, nil)
	p.waitFor(`!document.getElementById("background-custom").hidden && document.activeElement.id === "background-custom"`, 5*time.Second)
	p.eval(`(() => { const s = document.getElementById("background"); s.value = "none"; s.dispatchEvent(new Event("change")); })()`, nil)

	p.eval(`document.getElementById("run").click()`, nil)
	p.waitFor(`!document.getElementById("result").hidden && document.getElementById("overlay").complete && document.getElementById("overlay").naturalWidth > 0 && document.querySelectorAll("#legend tbody tr").length > 0`, 60*time.Second)
	var got struct {
		Width, Height int
		Alt           string
		Legend        []string
		Views         []string
		Status        string
		Labels, JSON  string
	}
	p.eval(`(() => { const o = document.getElementById("overlay"); return {
		width: o.naturalWidth, height: o.naturalHeight, alt: o.alt,
		legend: [...document.querySelectorAll("#legend tbody .name")].map(e => e.textContent),
		views: [...document.querySelectorAll("#view-list label")].map(e => e.textContent.trim()),
		status: document.getElementById("status").textContent,
		labels: document.getElementById("dl-labels").href, json: document.getElementById("dl-json").href }; })()`, &got)
	t.Logf("page after the run: %+v", got)
	if got.Width <= 451 || got.Height < 300 {
		t.Errorf("overlay is %dx%d, want the 451x300 photo plus a legend", got.Width, got.Height)
	}
	if strings.Join(got.Legend, "|") != "cat|person|coffee cup" {
		t.Errorf("legend %q", got.Legend)
	}
	if len(got.Views) != 4 || got.Views[0] != "Overlay" || got.Views[1] != "cat heat map" {
		t.Errorf("views %q", got.Views)
	}
	if !strings.HasPrefix(got.Status, "Done") || !strings.HasPrefix(got.Alt, "Segmentation overlay") {
		t.Errorf("status %q, alt %q", got.Status, got.Alt)
	}
	if !strings.HasPrefix(got.Labels, "blob:") || !strings.HasPrefix(got.JSON, "blob:") {
		t.Errorf("download links %q %q", got.Labels, got.JSON)
	}

	// The downloads hold the label map and the JSON.
	var dl struct {
		Classes   int
		PNGHeader string
	}
	p.eval(`Promise.all([
		fetch(document.getElementById("dl-json").href).then(r => r.json()),
		fetch(document.getElementById("dl-labels").href).then(r => r.arrayBuffer())
	]).then(([j, b]) => ({classes: j.classes.length, pngHeader: String.fromCharCode(...new Uint8Array(b).slice(1, 4))}))`, &dl)
	if dl.Classes != 3 || dl.PNGHeader != "PNG" {
		t.Errorf("downloads: %+v", dl)
	}

	// A heat map replaces the overlay, at the photo's size.
	p.eval(`document.querySelectorAll("#view-list input")[1].click()`, nil)
	p.waitFor(`document.getElementById("overlay").alt.startsWith("Heat map of cat") && document.getElementById("overlay").complete && document.getElementById("overlay").naturalWidth === 451`, 5*time.Second)
	shots := []string{filepath.Join(dir, "heatmap.png"), filepath.Join(dir, "page.png")}
	p.screenshot(shots[0])
	p.eval(`document.querySelectorAll("#view-list input")[0].click()`, nil)
	p.waitFor(`document.getElementById("overlay").alt.startsWith("Segmentation overlay") && document.getElementById("overlay").complete`, 5*time.Second)
	p.eval(`document.getElementById("result-title").scrollIntoView()`, nil)
	p.screenshot(shots[1])
	if d := os.Getenv("FREESEG_SCREENSHOT_DIR"); d != "" {
		for _, s := range shots {
			b, _ := os.ReadFile(s)
			if err := os.WriteFile(filepath.Join(d, filepath.Base(s)), b, 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	t.Logf("screenshots: %s", strings.Join(shots, ", "))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
