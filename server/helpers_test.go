package server

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
)

var (
	engOnce sync.Once
	engTiny *freeseg.Engine
	engErr  error
)

// testEngine is a tiny random-weight CLIP (6 vision blocks, so every
// method runs), built once per test binary: no files, no golden data.
func testEngine(t testing.TB) *freeseg.Engine {
	t.Helper()
	engOnce.Do(func() {
		m, err := clip.Random(clip.Config{
			VisionWidth: 32, VisionLayers: 6, VisionHeads: 2, Patch: 16, Grid: 4, EmbedDim: 16,
			TextWidth: 32, TextLayers: 1, TextHeads: 2, ContextLength: 77, VocabSize: 49408,
		}, 1)
		if err != nil {
			engErr = err
			return
		}
		engTiny = freeseg.NewEngine(m)
	})
	if engErr != nil {
		t.Fatal(engErr)
	}
	return engTiny
}

// testServer serves a fresh Server (own limits and metrics) on the shared
// engine.
func testServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s := New(testEngine(t), cfg)
	ts := httptest.NewUnstartedServer(s)
	ts.Config = s.HTTPServer("")
	ts.Start()
	t.Cleanup(ts.Close)
	return s, ts
}

// photo is a small synthetic PNG: two colour regions and a gradient.
func photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(40 + 150*x/w), uint8(200 - 150*y/h), 90, 255}
			if x > w/2 && y > h/3 {
				c = color.RGBA{230, 200, 40, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG signature and IHDR claiming w×h (no pixel data).
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// part is one form part: a file when filename is set.
type part struct{ name, filename, value string }

// formBody builds a multipart/form-data body.
func formBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.value)
	}
	mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func post(t testing.TB, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func postForm(t testing.TB, url string, parts ...part) (*http.Response, []byte) {
	t.Helper()
	ct, body := formBody(t, parts...)
	return post(t, url, ct, body)
}

// errorBody checks that b is {"error": "..."} and returns the message.
func errorBody(t testing.TB, b []byte) string {
	t.Helper()
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error response is not JSON: %q", b)
	}
	msg, ok := e["error"].(string)
	if !ok || msg == "" || len(e) != 1 {
		t.Fatalf("error response %s is not {\"error\": \"...\"}", b)
	}
	return msg
}

func decodePNG(t testing.TB, b64 string) image.Image {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
