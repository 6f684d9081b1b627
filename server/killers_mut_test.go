package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
)

// Tests written to kill surviving mutants of the mutation run (issue 15,
// docs/testing.md); each expectation is worked out by hand.

// The Retry-After of a 429 is ceil(typical inference × (queued + 1) / max
// concurrent) seconds, clamped to [1, 120].
func TestRetryAfterFromQueue(t *testing.T) {
	for _, c := range []struct {
		max, queue, running, waiting int
		typical                      time.Duration
		want                         int
	}{
		// 2 running, 3 waiting: (3+1)/2 = 2 rounds of 0.75 s = 1.5 s -> 2.
		{2, 3, 2, 3, 750 * time.Millisecond, 2},
		// 2 running, 1 waiting: (1+1)/2 = 1 round of 2.5 s -> 3.
		{2, 1, 2, 1, 2500 * time.Millisecond, 3},
		// 3 slots, 3 waiting: (3+1)/3 rounds of 6 s = 8 s exactly -> 8.
		{3, 3, 3, 3, 6 * time.Second, 8},
		// Fast inferences still ask for at least 1 s.
		{1, 1, 1, 1, 10 * time.Millisecond, 1},
		// Slow ones at most 120 s: (4+1)/1 × 100 s.
		{1, 4, 1, 4, 100 * time.Second, 120},
	} {
		s := New(testEngine(t), Config{MaxConcurrent: c.max, Queue: c.queue})
		s.met.inferenceDone("segment", c.typical) // the first sample is the average
		var release []func()
		for i := 0; i < c.running+c.waiting; i++ {
			leave, err := s.lim.admit()
			if err != nil {
				t.Fatal(err)
			}
			if i < c.running {
				r, err := s.lim.slot(context.Background(), leave)
				if err != nil {
					t.Fatal(err)
				}
				release = append(release, r)
			} else {
				release = append(release, leave)
			}
		}
		_, err := s.admit()
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != http.StatusTooManyRequests {
			t.Fatalf("%+v: admit past the queue: %v, want 429", c, err)
		}
		if got := ae.Header["Retry-After"]; got != strconv.Itoa(c.want) {
			t.Errorf("%+v: Retry-After %q, want %d", c, got, c.want)
		}
		for _, r := range release {
			r()
		}
	}
}

// /v1/models shows the checkpoint's SHA-256 once computed (not pending),
// and no digest (pending) when the file cannot be read; a checkpoint
// named pytorch_model.bin or model.safetensors is named by its folder.
func TestModelsDigestAndName(t *testing.T) {
	dir := t.TempDir()
	weights := []byte("not really weights")
	sum := sha256.Sum256(weights)
	for _, c := range []struct {
		file, name, digest string
		write, pending     bool
	}{
		{"vit-b16/pytorch_model.bin", "vit-b16", hex.EncodeToString(sum[:]), true, false},
		{"vit-l14/model.safetensors", "vit-l14", hex.EncodeToString(sum[:]), true, false},
		{"other/weights.safetensors", "weights.safetensors", hex.EncodeToString(sum[:]), true, false},
		{"gone/pytorch_model.bin", "gone", "", false, true},
	} {
		m, err := clip.Random(testEngine(t).Model.Config, 2) // its own: Path and digest are per model
		if err != nil {
			t.Fatal(err)
		}
		m.Path = filepath.Join(dir, c.file)
		if c.write {
			if err := os.MkdirAll(filepath.Dir(m.Path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(m.Path, weights, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s := New(freeseg.NewEngine(m), Config{})
		m.Digest() // computed before the request, so the 100 ms wait is not raced
		var mj struct {
			Models []struct {
				Name          string `json:"name"`
				Digest        string `json:"digest"`
				DigestPending bool   `json:"digest_pending"`
			} `json:"models"`
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil))
		if err := json.Unmarshal(rec.Body.Bytes(), &mj); err != nil || len(mj.Models) != 1 {
			t.Fatalf("%s: %v: %s", c.file, err, rec.Body.Bytes())
		}
		got := mj.Models[0]
		if got.Name != c.name || got.Digest != c.digest || got.DigestPending != c.pending {
			t.Errorf("%s: name %q digest %q pending %v, want %q %q %v", c.file, got.Name, got.Digest, got.DigestPending, c.name, c.digest, c.pending)
		}
	}
}

// instance_min_area 0 (keep every instance) and image_id 0 are accepted;
// -1 is refused naming the field.
func TestExportFieldsZeroAccepted(t *testing.T) {
	for _, c := range []struct {
		field, value, errPart string
	}{
		{"instance_min_area", "0", ""},
		{"image_id", "0", ""},
		{"instance_min_area", "-1", "instance_min_area: -1 must not be negative"},
		{"image_id", "-1", "image_id: -1 must not be negative"},
	} {
		x, err := parseExportFields(&form{fields: map[string]string{c.field: c.value}})
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%s=%s: %v, want an error with %q", c.field, c.value, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s=%s: %v", c.field, c.value, err)
			continue
		}
		if c.field == "instance_min_area" && x.opts.MinArea != 0 || c.field == "image_id" && x.imageID != 0 {
			t.Errorf("%s=%s: min area %d, image id %d", c.field, c.value, x.opts.MinArea, x.imageID)
		}
	}
}

// failingReader returns its bytes, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A body cut off before its closing boundary says so; a body whose read
// fails is answered with that read error as it is.
func TestReadFormBodyErrors(t *testing.T) {
	const ct = "multipart/form-data; boundary=b"
	truncated := "--b\r\nContent-Disposition: form-data; name=\"classes\"\r\n\r\ncat"
	_, err := readForm(ct, strings.NewReader(truncated), segmentFields, "image", 1000, store{})
	if err == nil || err.Error() != "400 Bad Request: malformed multipart body: it ends before its closing boundary" {
		t.Errorf("truncated body: %v", err)
	}
	for _, pre := range []string{"", "--b"} {
		_, err = readForm(ct, &failingReader{strings.NewReader(pre), errors.New("connection reset")}, segmentFields, "image", 1000, store{})
		if err == nil || err.Error() != "400 Bad Request: malformed multipart body: connection reset" {
			t.Errorf("read error after %q: %v", pre, err)
		}
	}
}

// A text field of exactly 1 MiB is accepted; one byte more is 413.
func TestFieldSizeLimit(t *testing.T) {
	for _, c := range []struct {
		n    int
		code int
	}{{maxFieldBytes, 0}, {maxFieldBytes + 1, http.StatusRequestEntityTooLarge}} {
		ct, body := formBody(t, part{name: "classes", value: strings.Repeat("a", c.n)})
		f, err := readForm(ct, bytes.NewReader(body), segmentFields, "image", 1000, store{})
		var ae *apiError
		switch {
		case c.code == 0 && err != nil:
			t.Errorf("%d bytes: %v", c.n, err)
		case c.code == 0 && len(f.fields["classes"]) != c.n:
			t.Errorf("%d bytes: got %d", c.n, len(f.fields["classes"]))
		case c.code != 0 && (!errors.As(err, &ae) || ae.Code != c.code):
			t.Errorf("%d bytes: %v, want %d", c.n, err, c.code)
		}
	}
}

// readLimited returns all of a short input, and more than limit bytes
// (limit+1) of a longer one, whatever the size hint.
func TestReadLimitedBounds(t *testing.T) {
	for _, c := range []struct {
		size, limit, hint int64
		want              int64
	}{
		{20, 10, 10, 11}, // the hint fills exactly limit bytes: read one more
		{20, 10, -1, 11},
		{20, 10, 0, 11},
		{10, 10, 10, 10},
		{10, 10, 0, 10},
		{1, 0, -1, 1}, // a limit of 0: any byte is over
		{0, 0, 0, 0},
		{5, 100000, 3, 5},
	} {
		data := bytes.Repeat([]byte{'x'}, int(c.size))
		got, err := readLimited(bytes.NewReader(data), c.limit, c.hint)
		if err != nil || int64(len(got)) != c.want || int64(cap(got)) > c.limit+1 {
			t.Errorf("%+v: %d bytes (cap %d), %v", c, len(got), cap(got), err)
		}
	}
}

// Byte counts in messages are in MiB only when whole MiB.
func TestDescribeLimit(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"},
		{1000, "1000 bytes"},
		{512 << 10, "524288 bytes"},
		{1<<20 - 1, "1048575 bytes"},
		{1 << 20, "1 MiB"},
		{1<<20 + 1, "1048577 bytes"},
		{32 << 20, "32 MiB"},
		{3<<20 + 512<<10, "3670016 bytes"},
	} {
		if got := describeLimit(c.n); got != c.want {
			t.Errorf("describeLimit(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// smallLimits allows 2 classes and 3 names per request.
func smallLimits() Limits {
	l := DefaultConfig().Limits
	l.MaxClasses, l.MaxNames = 2, 3
	return l
}

// parseForm posts parts (plus a one-byte image, never decoded here) to
// parseSegmentForm or parseExplainForm and returns the error message ("" on
// success).
func parseForm(t *testing.T, explain bool, lim Limits, st store, parts ...part) string {
	t.Helper()
	parts = append([]part{{name: "image", filename: "x.png", value: "x"}}, parts...)
	ct, body := formBody(t, parts...)
	var err error
	if explain {
		var req *explainRequest
		if req, err = parseExplainForm(ct, bytes.NewReader(body), 6, lim, st); err == nil {
			req.image.close()
		}
	} else {
		var req *segmentRequest
		if req, err = parseSegmentForm(ct, bytes.NewReader(body), 6, lim, st); err == nil {
			req.image.close()
		}
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// The number of classes and names: exactly the limit is accepted, one more
// refused; a list of more than 4×max_names pieces (of max_classes texts
// for explain) is refused before parsing, naming the estimate, while one
// of exactly 4× is parsed and refused with its exact count.
func TestFormCountLimits(t *testing.T) {
	lim := smallLimits()
	for _, c := range []struct {
		explain bool
		field   string
		value   string
		want    string // part of the error; "" for success
	}{
		{false, "classes", "cat; dog", ""},
		{false, "classes", "cat; dog; sky", "3 classes; at most 2 per request"},
		{false, "classes", "cat, kitty; dog", ""}, // 3 names, background none
		{false, "classes", "cat, kitty; dog, puppy", "4 names to encode"},
		// 4×3 = 12 pieces: parsed (and refused for its 12 classes).
		{false, "classes", list(12, ";"), "12 classes; at most 2"},
		{false, "classes", list(12, "\n"), "12 classes; at most 2"},
		{false, "classes", "a; " + list(11, ","), "12 names to encode"},
		// 13 pieces: refused unparsed.
		{false, "classes", list(13, ";"), "too many classes (about 13 names)"},
		{false, "classes", list(13, "\n"), "too many classes (about 13 names)"},
		{false, "classes", list(13, ","), "too many classes (about 13 names)"},
		{true, "texts", "cat, dog", ""},
		{true, "texts", "cat, dog, sky", "3 texts; at most 2 per request"},
		// 4×2 = 8 pieces: parsed, counted exactly.
		{true, "texts", list(8, ";"), "8 texts; at most 2"},
		{true, "texts", list(8, "\n"), "8 texts; at most 2"},
		{true, "texts", list(8, ","), "8 texts; at most 2"},
		// 9 pieces: refused unparsed.
		{true, "texts", list(9, ";"), "too many texts (about 9)"},
		{true, "texts", list(9, "\n"), "too many texts (about 9)"},
		{true, "texts", list(9, ","), "too many texts (about 9)"},
	} {
		parts := []part{{name: c.field, value: c.value}}
		if !c.explain {
			parts = append(parts, part{name: "background", value: "none"})
		}
		got := parseForm(t, c.explain, lim, store{sizeHint: -1}, parts...)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s=%q: %q, want %q", c.field, c.value, got, c.want)
		}
	}
}

// feature_surgery multi needs two texts or more: two are enough.
func TestExplainMultiSurgeryTwoTexts(t *testing.T) {
	for _, c := range []struct{ texts, want string }{
		{"cat", "feature_surgery multi needs two or more texts"},
		{"cat, dog", ""},
	} {
		got := parseForm(t, true, smallLimits(), store{sizeHint: -1}, part{name: "texts", value: c.texts}, part{name: "feature_surgery", value: "multi"})
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("texts %q: %q, want %q", c.texts, got, c.want)
		}
	}
}

// An explain form hands back its image readable (even when stored in a
// temporary file) on success, and fails cleanly without one.
func TestExplainFormImageLifetime(t *testing.T) {
	img := bytes.Repeat([]byte("0123456789"), 10)
	ct, body := formBody(t, part{name: "image", filename: "x.png", value: string(img)}, part{name: "texts", value: "cat"})
	req, err := parseExplainForm(ct, bytes.NewReader(body), 6, smallLimits(), store{sizeHint: -1, spillAt: 16, dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := req.image.bytes()
	req.image.close()
	if err != nil || !bytes.Equal(b, img) {
		t.Errorf("image after parsing: %q, %v", b, err)
	}
	ct, body = formBody(t, part{name: "texts", value: "cat"})
	if _, err := parseExplainForm(ct, bytes.NewReader(body), 6, smallLimits(), store{sizeHint: -1}); err == nil || !strings.Contains(err.Error(), "missing field image") {
		t.Errorf("no image: %v", err)
	}
}

// list is n distinct names c0, c1, ... joined by sep.
func list(n int, sep string) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	return strings.Join(names, sep)
}

// The image header check: a GIF whose logical screen is 0 wide or high is
// refused naming its size; w×h equal to max_pixels is accepted, one pixel
// more is 413.
func TestProbeImageSizes(t *testing.T) {
	gif := func(w, h byte) []byte { // a GIF89a header: the logical screen only
		return append([]byte("GIF89a"), w, 0, h, 0, 0, 0, 0, ';')
	}
	for _, c := range []struct {
		name      string
		data      []byte
		maxPixels int64
		code      int
		msg       string
	}{
		{"gif 0x5", gif(0, 5), 100, 400, "zero size (0x5)"},
		{"gif 5x0", gif(5, 0), 100, 400, "zero size (5x0)"},
		{"gif 4x5 at the limit", gif(4, 5), 20, 0, ""},
		{"png 4x5 at the limit", pngHeader(4, 5), 20, 0, ""},
		{"png 4x5 over", pngHeader(4, 5), 19, http.StatusRequestEntityTooLarge, "image of 4x5 pixels"},
	} {
		w, h, err := probeImage(bytes.NewReader(c.data), c.maxPixels)
		var ae *apiError
		switch {
		case c.code == 0 && (err != nil || w != 4 || h != 5):
			t.Errorf("%s: %dx%d, %v", c.name, w, h, err)
		case c.code != 0 && (!errors.As(err, &ae) || ae.Code != c.code || !strings.Contains(ae.Msg, c.msg)):
			t.Errorf("%s: %v, want %d %q", c.name, err, c.code, c.msg)
		}
	}
}

// The pixel-limit message gives both sizes in megapixels, and an image of
// imageio.MaxPixels (20000×20000) is refused even under a larger limit.
func TestProbeImageLimitMessage(t *testing.T) {
	_, _, err := probeImage(bytes.NewReader(pngHeader(3000, 2000)), 5_000_000)
	want := "413 Request Entity Too Large: image of 3000x2000 pixels (6.0 megapixels); at most 5.0 megapixels are accepted"
	if err == nil || err.Error() != want {
		t.Errorf("3000x2000: %v\nwant %s", err, want)
	}
	if _, _, err := probeImage(bytes.NewReader(pngHeader(20000, 20000)), 1<<40); err == nil || !strings.Contains(err.Error(), "image of 20000x20000 pixels") {
		t.Errorf("20000x20000: %v", err)
	}
	if w, h, err := probeImage(bytes.NewReader(pngHeader(20000, 19999)), 1<<40); err != nil || w != 20000 || h != 19999 {
		t.Errorf("20000x19999: %dx%d, %v", w, h, err)
	}
}

// exifJPEG is a w×h JPEG whose EXIF orientation tag is orient.
func exifJPEG(t *testing.T, w, h int, orient uint16) []byte {
	t.Helper()
	var img bytes.Buffer
	if err := jpeg.Encode(&img, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	// APP1: "Exif\0\0", a big-endian TIFF header, one IFD with one SHORT
	// entry (0x0112 orientation), no next IFD.
	app1 := []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01")
	app1 = append(app1, byte(orient>>8), byte(orient), 0, 0, 0, 0, 0, 0)
	out := []byte{0xff, 0xd8, 0xff, 0xe1, byte((len(app1) + 2) >> 8), byte(len(app1) + 2)}
	out = append(out, app1...)
	return append(out, img.Bytes()[2:]...)
}

// pngOf is a w×h grey PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decodeImage turns an image stored sideways (EXIF orientation 6) upright
// unless exif is off, and scales the long side down to maxSide even when
// the short side stays the same (1 pixel).
func TestDecodeImageOrientAndFit(t *testing.T) {
	for _, c := range []struct {
		name         string
		data         []byte
		exif         bool
		maxSide      int
		wantW, wantH int
	}{
		{"orientation 6", exifJPEG(t, 16, 8, 6), true, 0, 8, 16},
		{"orientation 6, exif off", exifJPEG(t, 16, 8, 6), false, 0, 16, 8},
		{"orientation 1", exifJPEG(t, 16, 8, 1), true, 0, 16, 8},
		{"100x1 to 50", pngOf(t, 100, 1), true, 50, 50, 1},
		{"1x100 to 50", pngOf(t, 1, 100), true, 50, 1, 50},
		{"100x40 to 50", pngOf(t, 100, 40), true, 50, 50, 20},
		{"30x20 under 50", pngOf(t, 30, 20), true, 50, 30, 20},
	} {
		img, err := decodeImage(c.data, "x", c.exif, c.maxSide)
		if err != nil || img.W != c.wantW || img.H != c.wantH {
			t.Errorf("%s: %v", c.name, err)
			if img != nil {
				t.Errorf("%s: %dx%d, want %dx%d", c.name, img.W, img.H, c.wantW, c.wantH)
			}
		}
	}
}

// Messages name an upload by its base name, never "upload" when it has one.
func TestDisplayName(t *testing.T) {
	long := strings.Repeat("n", 120)
	for _, c := range []struct{ in, want string }{
		{"cat.jpg", "cat.jpg"},
		{"photos/2024/cat.jpg", "cat.jpg"},
		{`C:\Users\me\dog.png`, "dog.png"},
		{"", "upload"},
		{"/", "upload"},
		{".", "upload"},
		{long, long[:100]},
	} {
		if got := displayName(c.in); got != c.want {
			t.Errorf("displayName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Label maps of up to 256 classes are palette PNGs whose pixel values are
// the classes; more classes give 16-bit greyscale.
func TestLabelsBase64PaletteUpTo256(t *testing.T) {
	for _, n := range []int{2, 256, 257} {
		pal := make([][3]uint8, n)
		labels := []int32{0, int32(n - 1), 1, 0}
		s, kind, err := labelsBase64(labels, 2, 2, pal)
		if err != nil {
			t.Fatal(err)
		}
		want := "palette"
		if n > 256 {
			want = "gray16"
		}
		if kind != want {
			t.Errorf("%d classes: %s, want %s", n, kind, want)
		}
		img := decodePNG(t, s)
		for i, l := range labels {
			x, y := i%2, i/2
			var got int
			switch m := img.(type) {
			case *image.Paletted:
				got = int(m.ColorIndexAt(x, y))
			case *image.Gray16:
				got = int(m.Gray16At(x, y).Y)
			default:
				t.Fatalf("%d classes: %T", n, img)
			}
			if got != int(l) {
				t.Errorf("%d classes: pixel (%d,%d) = %d, want %d", n, x, y, got, l)
			}
		}
	}
}

// The typical inference time is an exponential average: the first sample,
// then 0.8·old + 0.2·new (2 s then 7 s: 1.6 + 1.4 = 3 s).
func TestTypicalInferenceAverage(t *testing.T) {
	m := newMetrics()
	m.inferenceDone("segment", 2*time.Second)
	m.inferenceDone("segment", 7*time.Second)
	if got := m.typicalInference(); math.Abs(got-3) > 1e-9 {
		t.Errorf("typical inference %g s, want 3", got)
	}
}
