package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
)

func TestSegment(t *testing.T) {
	_, ts := testServer(t, Config{})
	img := photo(t, 64, 48)
	resp, b := postForm(t, ts.URL+"/v1/segment",
		part{"image", "photo.png", string(img)}, part{"classes", "", "cat, kitten; dog"},
		part{"templates", "", "single"}, part{"heatmaps", "", "1"}, part{"background", "", "sky, wall"},
		part{"pamr", "", "2"}, part{"crop", "", "32"}, part{"stride", "", "16"}, part{"short_side", "", "48"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var r SegmentResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Width != 64 || r.Height != 48 || len(r.Classes) != 3 {
		t.Fatalf("got %dx%d with %d classes", r.Width, r.Height, len(r.Classes))
	}
	if r.Classes[0].Name != "background" || strings.Join(r.Classes[0].Synonyms, ",") != "sky,wall" ||
		r.Classes[1].Name != "cat" || strings.Join(r.Classes[1].Synonyms, ",") != "cat,kitten" || r.Classes[2].Name != "dog" {
		t.Fatalf("classes %+v", r.Classes)
	}
	var sum float64
	for _, c := range r.Classes {
		sum += c.Fraction
	}
	if sum < 0.999 || sum > 1.001 {
		t.Fatalf("fractions sum to %g", sum)
	}
	if r.Settings.Value("method") != "naclip" || r.Settings.Value("templates") != "single" || r.Settings.Value("pamr") != float64(2) {
		t.Fatalf("settings %v", r.Settings)
	}
	if r.Timing.TotalMS <= 0 || r.LabelsFormat != "palette" {
		t.Fatalf("timing %+v, labels format %q", r.Timing, r.LabelsFormat)
	}
	labels, ok := decodePNG(t, r.LabelsPNG).(*image.Paletted)
	if !ok || labels.Bounds().Dx() != 64 || labels.Bounds().Dy() != 48 || len(labels.Palette) != 3 {
		t.Fatalf("labels PNG: %T %v", labels, labels.Bounds())
	}
	for i, c := range r.Classes {
		pr, pg, pb, _ := labels.Palette[i].RGBA()
		if [3]uint8{uint8(pr >> 8), uint8(pg >> 8), uint8(pb >> 8)} != c.Color {
			t.Fatalf("palette %d is not the class colour %v", i, c.Color)
		}
	}
	if ov := decodePNG(t, r.OverlayPNG).Bounds(); ov.Dx() <= 64 || ov.Dy() < 48 {
		t.Fatalf("overlay %v should be the photo plus a legend", ov.Size())
	}
	if len(r.Heatmaps) != 3 {
		t.Fatalf("%d heat maps", len(r.Heatmaps))
	}
	for _, h := range r.Heatmaps {
		g, ok := decodePNG(t, h.PNG).(*image.Gray)
		if !ok || g.Bounds().Dx() != 64 || g.Bounds().Dy() != 48 {
			t.Fatalf("heat map %s: %T", h.Name, g)
		}
	}

	// Without heatmaps there are none; the defaults (default background,
	// openai80) work too.
	resp, b = postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(img)}, part{"classes", "", "cat"}, part{"method", "", "naclip"}, part{"whole", "", "on"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	r = SegmentResponse{}
	json.Unmarshal(b, &r)
	if len(r.Heatmaps) != 0 || len(r.Classes) != 2 || len(r.Classes[0].Synonyms) != 26 || r.Settings.Value("whole") != true {
		t.Fatalf("heatmaps %d, classes %+v, settings %v", len(r.Heatmaps), r.Classes, r.Settings)
	}
}

// The form maps onto the options exactly as the CLI flags do.
func TestSegmentOptions(t *testing.T) {
	body := fixedForm(t, part{"image", "p.png", "x"}, part{"classes", "", "cat; sky"}, part{"background", "", "none"},
		part{"method", "", "SCLIP"}, part{"partial_labels", "", "off"}, part{"square", "", "224"}, part{"area_thd", "", "0.1"},
		part{"prob_thd", "", "0.3"}, part{"logit_scale", "", "50"}, part{"exif", "", "false"}, part{"max_side", "", "512"})
	req, err := parseSegmentForm(formCT, strings.NewReader(string(body)), 6, DefaultConfig().Limits, store{sizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	o := req.opts
	if o.Method.Name != "sclip" || o.Partial.Enabled || o.Resize.Mode != freeseg.ResizeSquare || o.Resize.Size != 224 || o.AreaThd != 0.1 ||
		o.LogitScale != 50 || req.vocab.Background || o.ProbThd != 0.3 || req.exif || req.opts.MaxSide != 512 || len(req.names) != 2 {
		t.Fatalf("options %+v, request %+v", o, req)
	}
}

func TestErrors(t *testing.T) {
	cfg := Config{}
	cfg.MaxBodyBytes = 1 << 20
	cfg.MaxMapValues = 200_000
	_, ts := testServer(t, cfg)
	img := string(photo(t, 40, 30))
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprintf("thing%d", i)
	}
	some := strings.Join(many[:600], ", ")
	truncated := img[:len(img)/2]
	big := make([]byte, 2<<20)
	ctForm, bodyOK := formBody(t, part{"image", "p.png", img}, part{"classes", "", "cat"})
	cases := []struct {
		name    string
		method  string
		path    string
		ct      string
		body    []byte
		code    int
		message string
	}{
		{"not an image", "POST", "/v1/segment", "", fixedForm(t, part{"image", "a.txt", "hello, I am text"}, part{"classes", "", "cat"}), 415, "not an image"},
		{"truncated image", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", truncated}, part{"classes", "", "cat"}), 400, "truncated"},
		{"truncated header", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img[:20]}, part{"classes", "", "cat"}), 400, "header"},
		{"huge dimensions", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", string(pngHeader(30000, 30000))}, part{"classes", "", "cat"}), 413, "megapixels"},
		{"over the server's pixel limit", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", string(pngHeader(8000, 8000))}, part{"classes", "", "cat"}), 413, "megapixels"},
		{"maps too large", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", string(pngHeader(1000, 1000))}, part{"classes", "", "cat"}), 413, "max_side"},
		{"empty image", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", ""}, part{"classes", "", "cat"}), 400, "empty"},
		{"empty classes", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "  "}), 400, "classes"},
		{"bad class list", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat;;dog"}), 400, "empty class"},
		{"10000 classes", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", strings.Join(many, ", ")}), 400, "too many"},
		{"600 classes", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", some}), 400, "at most 512"},
		{"missing classes", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}), 400, "missing field classes"},
		{"missing image", "POST", "/v1/segment", "", fixedForm(t, part{"classes", "", "cat"}), 400, "missing field image"},
		{"unknown field", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"clases", "", "dog"}), 400, "unknown field"},
		{"repeated field", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"classes", "", "dog"}), 400, "twice"},
		{"bad number", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"crop", "", "big"}), 400, "not an integer"},
		{"NaN", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"prob_thd", "", "NaN"}), 400, "prob_thd: \"NaN\" is not a finite number"},
		{"bad bool", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"heatmaps", "", "maybe"}), 400, "boolean"},
		{"bad method", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"method", "", "magic"}), 400, "method: \"magic\" is not one of"},
		{"bad templates", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"templates", "", "magic"}), 400, "template"},
		{"bad pooling", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"partial_labels", "", "median"}), 400, "partial_labels: \"median\" is not one of off,"},
		{"zero stride", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"stride", "", "0"}), 400, "stride"},
		{"huge crop", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"crop", "", "100000"}), 400, "crop"},
		{"crop larger than the image", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"short_side", "", "32"}, part{"crop", "", "64"}, part{"stride", "", "32"}, part{"templates", "", "single"}), 422, "larger than"},
		{"probability out of range", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"prob_thd", "", "2"}), 400, "prob_thd: 2 is outside [0, 1]"},
		{"background file", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "cat"}, part{"background", "", "file"}), 400, "background"},
		{"background swallowed", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", "sky, wall"}, part{"background", "", "sky; wall"}), 400, "background"},
		{"text too long", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", img}, part{"classes", "", strings.Repeat("cat ", 80)}, part{"templates", "", "single"}), 400, "too long"},
		{"malformed multipart", "POST", "/v1/segment", "multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"classes\"\r\n\r\ncat"), 400, "malformed multipart"},
		{"garbage multipart", "POST", "/v1/segment", "multipart/form-data; boundary=xyz", []byte("this is not multipart"), 400, "malformed multipart"},
		{"no boundary", "POST", "/v1/segment", "multipart/form-data", bodyOK, 400, "boundary"},
		{"bad content type", "POST", "/v1/segment", "multipart/form-data; boundary=\"", bodyOK, 400, "Content-Type"},
		{"JSON body", "POST", "/v1/segment", "application/json", []byte(`{"classes":"cat"}`), 415, "multipart/form-data"},
		{"no content type", "POST", "/v1/segment", "-", []byte("x"), 415, "Content-Type"},
		{"body too large", "POST", "/v1/segment", "", fixedForm(t, part{"image", "p.png", string(big)}, part{"classes", "", "cat"}), 413, "larger than"},
		{"body too large, chunked", "POST", "/v1/segment", "", fixedForm(t, part{"classes", "", "cat"}, part{"image", "p.png", string(big)}), 413, "larger than"},
		{"GET segment", "GET", "/v1/segment", "", nil, 405, "POST"},
		{"DELETE models", "DELETE", "/v1/models", "", nil, 405, "GET"},
		{"POST healthz", "POST", "/healthz", ctForm, bodyOK, 405, "GET"},
		{"unknown route", "GET", "/v2/segment", "", nil, 404, "no such route"},
		{"unknown page", "GET", "/index.php", "", nil, 404, "no such route"},
		{"explain without texts", "POST", "/v1/explain", "", fixedForm(t, part{"image", "p.png", img}), 400, "missing field texts"},
		{"explain multi with one text", "POST", "/v1/explain", "", fixedForm(t, part{"image", "p.png", img}, part{"texts", "", "cat"}, part{"feature_surgery", "", "multi"}), 400, "two or more"},
		{"explain bad surgery", "POST", "/v1/explain", "", fixedForm(t, part{"image", "p.png", img}, part{"texts", "", "cat"}, part{"feature_surgery", "", "some"}), 400, "feature_surgery"},
		{"explain tiny size", "POST", "/v1/explain", "", fixedForm(t, part{"image", "p.png", img}, part{"texts", "", "cat"}, part{"size", "", "8"}), 400, "patch"},
		{"explain not an image", "POST", "/v1/explain", "", fixedForm(t, part{"image", "p.png", "GIF89a..."}, part{"texts", "", "cat"}), 400, "header"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.ct
			if ct == "" && c.body != nil {
				ct = formCT
			}
			if ct == "-" {
				ct = ""
			}
			var body io.Reader
			if c.body != nil {
				body = strings.NewReader(string(c.body))
				if c.name == "body too large, chunked" {
					body = io.MultiReader(body) // no length: sent chunked
				}
			}
			req, _ := http.NewRequest(c.method, ts.URL+c.path, body)
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			msg := errorBody(t, b)
			if resp.StatusCode != c.code || !strings.Contains(msg, c.message) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, msg, c.code, c.message)
			}
			if c.code == 405 && !strings.Contains(resp.Header.Get("Allow"), c.message) {
				t.Fatalf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
}

// formCT is the Content-Type of bodies made by fixedForm.
const formCT = "multipart/form-data; boundary=freesegtestboundary"

// fixedForm builds a body with a fixed boundary (formCT).
func fixedForm(t testing.TB, parts ...part) []byte {
	t.Helper()
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--freesegtestboundary\r\n")
		if p.filename != "" {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q; filename=%q\r\nContent-Type: application/octet-stream\r\n\r\n", p.name, p.filename)
		} else {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=%q\r\n\r\n", p.name)
		}
		b.WriteString(p.value)
		b.WriteString("\r\n")
	}
	b.WriteString("--freesegtestboundary--\r\n")
	return []byte(b.String())
}

func TestExplain(t *testing.T) {
	_, ts := testServer(t, Config{})
	img := string(photo(t, 48, 40))
	for _, c := range []struct {
		texts, surgery string
		n              int
	}{{"cat, dog; sky", "multi", 3}, {"cat", "redundant", 1}} {
		resp, b := postForm(t, ts.URL+"/v1/explain", part{"image", "p.png", img}, part{"texts", "", c.texts}, part{"templates", "", "single"}, part{"size", "", "64"})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var r ExplainResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if r.FeatureSurgery != c.surgery || len(r.Heatmaps) != c.n || r.Width != 48 || r.Height != 40 || r.Settings.Value("square") != 64.0 {
			t.Fatalf("%q: %+v", c.texts, r)
		}
		for _, h := range r.Heatmaps {
			if b := decodePNG(t, h.PNG).Bounds(); b.Dx() != 48 || b.Dy() != 40 {
				t.Fatalf("heat map of %s is %v", h.Text, b)
			}
		}
	}
}

func TestModelsHealthMetricsPage(t *testing.T) {
	_, ts := testServer(t, Config{})
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, b := get("/v1/models")
	var m ModelsResponse
	if resp.StatusCode != 200 || json.Unmarshal([]byte(b), &m) != nil || len(m.Models) != 1 {
		t.Fatalf("models: %d %s", resp.StatusCode, b)
	}
	mm := m.Models[0]
	if mm.EmbedDim != 16 || len(mm.Methods) != 7 || len(mm.TemplateSets) != 3 || mm.Vision["patch"] != 16 || mm.Digest == "" || m.Limits["max_classes"] != float64(512) {
		t.Fatalf("models: %s", b)
	}
	if resp, b := get("/healthz"); resp.StatusCode != 200 || !strings.Contains(b, `"status":"ok"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, b)
	}

	// Two segmentations with the same classes: the second's classifier
	// rows come from the cache.
	img := string(photo(t, 40, 30))
	hits0, _, _ := testEngine(t).Cache.Stats()
	for i := 0; i < 2; i++ {
		if resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", img}, part{"classes", "", "zebra; giraffe"}, part{"templates", "", "single"}, part{"background", "", "none"}); resp.StatusCode != 200 {
			t.Fatalf("segment: %d %s", resp.StatusCode, b)
		}
	}
	if hits, _, _ := testEngine(t).Cache.Stats(); hits < hits0+2 {
		t.Fatalf("cache hits %d → %d, want 2 more", hits0, hits)
	}
	get("/nowhere")
	resp, b = get("/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`freeseg_http_requests_total{route="/v1/segment",code="200"} 2`,
		`freeseg_http_requests_total{route="other",code="404"} 1`,
		`freeseg_http_requests_total{route="/v1/models",code="200"} 1`,
		`freeseg_http_request_duration_seconds_bucket{route="/v1/segment",le="+Inf"} 2`,
		`freeseg_http_request_duration_seconds_count{route="/healthz"} 1`,
		`freeseg_inference_duration_seconds_count{op="segment"} 2`,
		"freeseg_inference_queue_length 0",
		"freeseg_inference_in_flight 0",
		`freeseg_inference_rejected_total{reason="queue_full"} 0`,
		"# TYPE freeseg_classifier_cache_hits_total counter",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
	// Every sample line is NAME{labels} VALUE or NAME VALUE.
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$|^[a-z_]+(\{.*\})? \+Inf$`)
	for _, line := range strings.Split(strings.TrimSpace(b), "\n") {
		if !strings.HasPrefix(line, "#") && !sample.MatchString(line) {
			t.Errorf("malformed sample line %q", line)
		}
	}
	hits := regexp.MustCompile(`freeseg_classifier_cache_hits_total (\d+)`).FindStringSubmatch(b)
	if n, _ := strconv.Atoi(hits[1]); n < 2 {
		t.Errorf("cache hits metric %s", hits[1])
	}

	// The page and its files, with no resource from elsewhere.
	for path, ct := range map[string]string{"/": "text/html", "/app.js": "text/javascript", "/style.css": "text/css"} {
		resp, b := get(path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || resp.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?https?:`).MatchString(b) {
			t.Fatalf("%s loads something from elsewhere", path)
		}
	}
	if _, b := get("/"); !strings.Contains(b, `<script src="app.js"`) || !strings.Contains(b, `id="image"`) {
		t.Fatalf("page: %s", b)
	}
}

// More than 256 classes give a 16-bit label map.
func TestManyClasses(t *testing.T) {
	_, ts := testServer(t, Config{})
	names := make([]string, 300)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
	}
	resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(photo(t, 32, 32))}, part{"classes", "", strings.Join(names, ", ")},
		part{"templates", "", "single"}, part{"partial_labels", "", "off"}, part{"pamr", "", "0"}, part{"whole", "", "1"})
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var r SegmentResponse
	json.Unmarshal(b, &r)
	if r.LabelsFormat != "gray16" || len(r.Classes) != 301 {
		t.Fatalf("format %q, %d classes", r.LabelsFormat, len(r.Classes))
	}
	g, ok := decodePNG(t, r.LabelsPNG).(*image.Gray16)
	if !ok || g.Bounds().Dx() != 32 {
		t.Fatalf("labels %T", g)
	}
}

func TestMaxSide(t *testing.T) {
	_, ts := testServer(t, Config{})
	resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(photo(t, 120, 60))}, part{"classes", "", "cat"},
		part{"templates", "", "single"}, part{"max_side", "", "60"}, part{"short_side", "", "32"}, part{"whole", "", "true"})
	var r SegmentResponse
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.Width != 60 || r.Height != 30 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(1, 1)
	rel1, err := l.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := l.acquire(context.Background())
		if rel != nil {
			defer rel()
		}
		got <- err
	}()
	for l.queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := l.acquire(context.Background()); !errors.Is(err, errQueueFull) {
		t.Fatalf("third: %v, want queue full", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if l.inFlight() != 1 || l.queued() != 1 {
		t.Fatalf("in flight %d, queued %d", l.inFlight(), l.queued())
	}
	rel1()
	rel1() // a second release is harmless
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A waiter whose deadline passes leaves the queue.
	rel, _ := l.acquire(context.Background())
	if _, err := l.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	// Close fails the waiting and the new.
	go func() {
		_, err := l.acquire(context.Background())
		got <- err
	}()
	for l.queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	l.close()
	if err := <-got; !errors.Is(err, errClosing) {
		t.Fatalf("waiting at close: %v", err)
	}
	if _, err := l.acquire(context.Background()); !errors.Is(err, errClosing) {
		t.Fatalf("after close: %v", err)
	}
	rel()
	if l.inFlight() != 0 || l.queued() != 0 {
		t.Fatalf("in flight %d, queued %d", l.inFlight(), l.queued())
	}
}

// An inference past the deadline is answered with 504; it finishes in the
// background, holding its slot.
func TestInferenceTimeout(t *testing.T) {
	cfg := Config{InferenceTimeout: 100 * time.Millisecond}
	s, ts := testServer(t, cfg)
	release := make(chan struct{})
	s.hookInference = func() { <-release }
	resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(photo(t, 32, 32))}, part{"classes", "", "cat"}, part{"templates", "", "single"})
	if resp.StatusCode != 504 || !strings.Contains(errorBody(t, b), "timed out") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if s.lim.inFlight() != 1 {
		t.Fatalf("in flight %d: the timed-out inference should still hold its slot", s.lim.inFlight())
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitInferences(ctx); err != nil {
		t.Fatal(err)
	}
	if s.lim.inFlight() != 0 {
		t.Fatal("slot not released")
	}
}

// A panic in an inference is a 500, not a crash.
func TestPanicIs500(t *testing.T) {
	s, ts := testServer(t, Config{})
	s.hookInference = func() { panic("boom") }
	resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(photo(t, 32, 32))}, part{"classes", "", "cat"})
	if resp.StatusCode != 500 || errorBody(t, b) == "" || s.lim.inFlight() != 0 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
