package imageio

// Boundary cases of parallel.go, pngtext.go, preprocess.go, probe.go,
// resize_cv2.go and resize_pil.go (the mutation testing of
// docs/testing.md): each expectation is hand-computed or a documented
// rule, never an output of the code under test.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/image/tiff"
)

// goroutineID is the number in the first line of runtime.Stack
// ("goroutine 7 [running]:").
func goroutineID() int {
	var buf [64]byte
	s := strings.TrimPrefix(string(buf[:runtime.Stack(buf[:], false)]), "goroutine ")
	id, _ := strconv.Atoi(s[:strings.IndexByte(s, ' ')])
	return id
}

// TestParallelRowsSplit checks the documented split of parallelRows with 4
// CPUs: one contiguous chunk per CPU (at most n), each [0, n) row exactly
// once, no empty chunk, and small work (under 2^18) or a single chunk on the
// caller's goroutine.
func TestParallelRowsSplit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, tc := range []struct {
		n, work int
		want    [][2]int
		inline  bool
	}{
		{1000, 1 << 18, [][2]int{{0, 250}, {250, 500}, {500, 750}, {750, 1000}}, false},
		{1000, 1<<18 - 1, [][2]int{{0, 1000}}, true},
		{8, 1 << 20, [][2]int{{0, 2}, {2, 4}, {4, 6}, {6, 8}}, false},
		{10, 1 << 20, [][2]int{{0, 3}, {3, 6}, {6, 9}, {9, 10}}, false}, // ceil(10/4) = 3
		{3, 1 << 20, [][2]int{{0, 1}, {1, 2}, {2, 3}}, false},
		{1, 1 << 20, [][2]int{{0, 1}}, true},
	} {
		caller := goroutineID()
		var mu sync.Mutex
		var got [][2]int
		inline := true
		parallelRows(tc.n, tc.work, func(lo, hi int) {
			id := goroutineID()
			mu.Lock()
			defer mu.Unlock()
			got = append(got, [2]int{lo, hi})
			if len(got) > tc.n+1 {
				// A split that does not advance would start goroutines
				// without end: stop the process at once.
				panic(fmt.Sprintf("parallelRows(%d, %d): more than %d chunks: %v", tc.n, tc.work, tc.n+1, got[:min(len(got), 8)]))
			}
			if id != caller {
				inline = false
			}
		})
		slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
		if !slices.Equal(got, tc.want) || inline != tc.inline {
			t.Fatalf("parallelRows(%d, %d) on 4 CPUs: chunks %v (on the caller's goroutine: %v), want %v (%v)",
				tc.n, tc.work, got, inline, tc.want, tc.inline)
		}
	}
}

// TestPNGTextKeywordLimits: PNG keywords are 1-79 characters from space
// (32) to '~' (126); the text may not hold a zero byte anywhere.
func TestPNGTextKeywordLimits(t *testing.T) {
	for _, tc := range []struct {
		keyword, text string
		ok            bool
	}{
		{strings.Repeat("k", 79), "x", true},
		{strings.Repeat("k", 80), "x", false},
		{"a b", "x", true},
		{" ", "x", true},
		{"a\x1fb", "x", false},
		{"a~", "x", true},
		{"a\x7f", "x", false},
		{"k", "\x00abc", false},
		{"k", "abc\x00", false},
		{"k", "", true},
	} {
		_, err := WithPNGText(&bytes.Buffer{}, tc.keyword, tc.text)
		if (err == nil) != tc.ok {
			t.Errorf("WithPNGText(%q, %q): error %v, want ok=%v", tc.keyword, tc.text, err, tc.ok)
		}
	}
}

// tinyPNG is a 1×1 grey PNG from the standard encoder.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk is a PNG chunk: length, type, body, CRC of type+body.
func pngChunk(typ string, body []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	c = append(append(c, typ...), body...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// TestPNGTextWriteExactlyHead writes the signature and IHDR (33 bytes) in
// one call: the tEXt chunk must follow at once, without waiting for more.
func TestPNGTextWriteExactlyHead(t *testing.T) {
	src := tinyPNG(t)
	var out bytes.Buffer
	w, err := WithPNGText(&out, "freeseg", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(src[:33]); n != 33 || err != nil {
		t.Fatalf("Write(33 bytes) = %d, %v", n, err)
	}
	want := append(append([]byte(nil), src[:33]...), pngChunk("tEXt", []byte("freeseg\x00v1"))...)
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("after writing the 33-byte head: %d bytes % x, want %d bytes % x", out.Len(), out.Bytes(), len(want), want)
	}
	if _, err := w.Write(src[33:]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), append(want, src[33:]...)) {
		t.Fatal("the rest of the stream is not passed through unchanged")
	}
}

// TestReadPNGTextLimits: keywords of 1 and 79 characters are kept, 0 and 80
// are not; a tEXt body of exactly 64 KiB is read, one byte more is skipped.
func TestReadPNGTextLimits(t *testing.T) {
	big := "k\x00" + strings.Repeat("x", 64<<10-2) // body of 65536 bytes
	bigger := "b\x00" + strings.Repeat("y", 64<<10-1)
	k79, k80 := strings.Repeat("m", 79), strings.Repeat("n", 80)
	var s []byte
	s = append(s, pngSignature...)
	s = append(s, tinyPNG(t)[8:33]...) // IHDR
	for _, body := range []string{"a\x00one", k79 + "\x00seventy-nine", k80 + "\x00eighty", "\x00none", big, bigger} {
		s = append(s, pngChunk("tEXt", []byte(body))...)
	}
	s = append(s, pngChunk("IEND", nil)...)
	got, err := ReadPNGText(bytes.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "one", k79: "seventy-nine", "k": big[2:]}
	if len(got) != len(want) {
		t.Errorf("ReadPNGText: %d keywords, want %d (a, 79 m's, k)", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ReadPNGText: keyword %q (%d chars) gives %d bytes of text, want %d", k, len(k), len(got[k]), len(v))
		}
	}
}

// TestWriteGray16PNGErrors: an empty side is refused by name, and an
// out-of-range label is located at (i mod W, i div W).
func TestWriteGray16PNGErrors(t *testing.T) {
	for _, tc := range []struct {
		labels []int
		w, h   int
		want   string
	}{
		{nil, 0, 3, "label map of 0 values for 0x3"},
		{nil, 3, 0, "label map of 0 values for 3x0"},
		{[]int{0, 1, 2, 3, 4, 70000}, 3, 2, "label 70000 at pixel (2,1)"},
		{[]int{0, -1, 2, 3, 4, 5}, 2, 3, "label -1 at pixel (1,0)"},
		{[]int{0, 1, 2, 3, 4, 5, 6, -7}, 2, 4, "label -7 at pixel (1,3)"},
	} {
		err := WriteGray16PNG(&bytes.Buffer{}, tc.labels, tc.w, tc.h)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WriteGray16PNG(%v, %dx%d): error %v, want one containing %q", tc.labels, tc.w, tc.h, err, tc.want)
		}
	}
}

// TestCenterCropOffsetBothAxes: left and top are each round((size−crop)/2)
// with halves to even.
func TestCenterCropOffsetBothAxes(t *testing.T) {
	for _, tc := range []struct{ w, h, cw, ch, left, top int }{
		{10, 20, 4, 6, 3, 7},
		{20, 10, 6, 4, 7, 3},
		{9, 13, 4, 4, 2, 4},  // 2.5 → 2, 4.5 → 4
		{11, 15, 4, 4, 4, 6}, // 3.5 → 4, 5.5 → 6
		{7, 7, 7, 7, 0, 0},
	} {
		if l, tp := CenterCropOffset(tc.w, tc.h, tc.cw, tc.ch); l != tc.left || tp != tc.top {
			t.Errorf("CenterCropOffset(%d, %d, %d, %d) = %d, %d, want %d, %d", tc.w, tc.h, tc.cw, tc.ch, l, tp, tc.left, tc.top)
		}
	}
}

// TestSizesOfEmptyImages: an empty image keeps an empty size.
func TestSizesOfEmptyImages(t *testing.T) {
	for _, tc := range []struct{ w, h int }{{5, 0}, {0, 5}, {0, 0}} {
		if nw, nh := KeepRatioSize(tc.w, tc.h, 448, 2048); nw != 0 || nh != 0 {
			t.Errorf("KeepRatioSize(%d, %d, 448, 2048) = %dx%d, want 0x0", tc.w, tc.h, nw, nh)
		}
	}
	// An image whose long side is within the bound is returned as it is,
	// even a degenerate one.
	for _, tc := range []struct{ w, h, max int }{{0, 5, 5}, {5, 0, 5}, {4, 5, 5}, {0, 3, 5}} {
		if nw, nh := FitLongSide(tc.w, tc.h, tc.max); nw != tc.w || nh != tc.h {
			t.Errorf("FitLongSide(%d, %d, %d) = %dx%d, want it unchanged", tc.w, tc.h, tc.max, nw, nh)
		}
	}
	for _, img := range []*RGB{NewRGB(0, 5), NewRGB(5, 0)} {
		for name, resize := range map[string]func() *RGB{
			"ResizeCV2Linear":    func() *RGB { return ResizeCV2Linear(img, 3, 4) },
			"ResizePIL bilinear": func() *RGB { return ResizePIL(img, 3, 4, Bilinear) },
			"ResizePIL nearest":  func() *RGB { return ResizePIL(img, 3, 4, Nearest) },
		} {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s of a %dx%d image to 3x4 panics: %v", name, img.W, img.H, r)
					}
				}()
				if out := resize(); out.W != 0 || out.H != 0 || len(out.Pix) != 0 {
					t.Errorf("%s of a %dx%d image to 3x4 = %dx%d (%d bytes), want empty", name, img.W, img.H, out.W, out.H, len(out.Pix))
				}
			}()
		}
	}
}

// gifHeader is a GIF89a signature and logical screen descriptor of w×h with
// no colour table: all that DecodeConfig reads.
func gifHeader(w, h int) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, uint16(w))
	b = binary.LittleEndian.AppendUint16(b, uint16(h))
	return append(b, 0, 0, 0)
}

// TestProbeHeaderSizes: a zero side is refused with the size; 20000×20000
// is refused as 400.0 megapixels.
func TestProbeHeaderSizes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		w, h int
		want string
	}{
		{0, 5, "image has zero size (0x5)"},
		{5, 0, "image has zero size (5x0)"},
		{20000, 20000, "20000x20000 pixels (400.0 megapixels)"},
		{25000, 16000, "25000x16000 pixels (400.0 megapixels)"},
		{30000, 20000, "30000x20000 pixels (600.0 megapixels)"},
	} {
		path := filepath.Join(dir, "h.gif")
		if err := os.WriteFile(path, gifHeader(tc.w, tc.h), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Probe(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Probe of a %dx%d GIF: error %v, want one containing %q", tc.w, tc.h, err, tc.want)
		}
	}
}

// TestProbeFileOfExactlyTheLimit: a file of exactly maxFileBytes (1 GiB,
// sparse: a PNG followed by a hole) is accepted, as Decode accepts it; one
// byte more is refused.
func TestProbeFileOfExactlyTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.png")
	if err := os.WriteFile(path, tinyPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, maxFileBytes); err != nil {
		t.Skipf("no sparse file: %v", err)
	}
	h, err := Probe(path)
	if err != nil || h.Width != 1 || h.Height != 1 {
		t.Errorf("Probe of a %d-byte PNG: %+v, %v; want 1x1 and no error", maxFileBytes, h, err)
	}
	if err := os.Truncate(path, maxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Probe(path); err == nil || !strings.Contains(err.Error(), "file larger than") {
		t.Errorf("Probe of a %d-byte PNG: error %v, want file larger than", maxFileBytes+1, err)
	}
}

// TestProbeTIFFWithFarIFD: a TIFF whose IFD sits 80 MiB into the file (a
// sparse hole before it) is probed by reading at that offset, not by
// buffering the file, which probeConfig limits to 64 MiB for the other
// formats.
func TestProbeTIFFWithFarIFD(t *testing.T) {
	src, err := os.ReadFile("testdata/decode/grey16.tif")
	if err != nil {
		t.Fatal(err)
	}
	want, err := tiff.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if string(src[:4]) != "II*\x00" {
		t.Fatalf("grey16.tif is not little-endian")
	}
	off := binary.LittleEndian.Uint32(src[4:8])
	n := int(binary.LittleEndian.Uint16(src[off:]))
	ifd := append([]byte(nil), src[off:int(off)+2+12*n]...)
	ifd = append(ifd, 0, 0, 0, 0) // no next IFD
	const far = 80 << 20
	path := filepath.Join(t.TempDir(), "far.tif")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	head := append([]byte(nil), src...)
	binary.LittleEndian.PutUint32(head[4:8], far)
	_, err1 := f.Write(head)
	_, err2 := f.WriteAt(ifd, far)
	if err := f.Close(); err1 != nil || err2 != nil || err != nil {
		t.Fatal(err1, err2, err)
	}
	h, err := Probe(path)
	if err != nil || h.Width != want.Width || h.Height != want.Height {
		t.Errorf("Probe of a TIFF with its IFD at 80 MiB: %+v, %v; want %dx%d", h, err, want.Width, want.Height)
	}
}

// rgbFrom builds a w×h grey image with value v(x, y) in every channel.
func rgbFrom(w, h int, v func(x, y int) uint8) *RGB {
	m := NewRGB(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := v(x, y)
			m.Set(x, y, [3]uint8{c, c, c})
		}
	}
	return m
}

// TestResizeCV2LinearNonHalvingScales: only an exact 2× reduction on both
// axes is INTER_AREA; other integer or near-2 factors are linear.
//   - 3× reduction: source x = 3·dx+1 exactly, the centre of each block;
//   - 2.5× (5 → 2): source x = 0.75 and 3.25, so the second output is
//     0.75·v[3] + 0.25·v[4] = 63.75 → 64 for columns 0,0,0,0,255.
//
// The other axis halves: the 2×2 rounded mean of identical rows or columns
// is the value itself.
func TestResizeCV2LinearNonHalvingScales(t *testing.T) {
	cols := func(v ...uint8) func(x, y int) uint8 { return func(x, _ int) uint8 { return v[x] } }
	rows := func(v ...uint8) func(x, y int) uint8 { return func(_, y int) uint8 { return v[y] } }
	for _, tc := range []struct {
		name string
		img  *RGB
		want []uint8 // 2×2, row-major
	}{
		{"6x4 3× across", rgbFrom(6, 4, cols(0, 10, 20, 30, 40, 50)), []uint8{10, 40, 10, 40}},
		{"4x6 3× down", rgbFrom(4, 6, rows(0, 10, 20, 30, 40, 50)), []uint8{10, 10, 40, 40}},
		{"5x4 2.5× across", rgbFrom(5, 4, cols(0, 0, 0, 0, 255)), []uint8{0, 64, 0, 64}},
		{"4x5 2.5× down", rgbFrom(4, 5, rows(0, 0, 0, 0, 255)), []uint8{0, 0, 64, 64}},
		{"4x4 2× (area)", rgbFrom(4, 4, func(x, y int) uint8 { return uint8(10*x + 40*y) }),
			[]uint8{(0 + 10 + 40 + 50 + 2) / 4, (20 + 30 + 60 + 70 + 2) / 4, (80 + 90 + 120 + 130 + 2) / 4, (100 + 110 + 140 + 150 + 2) / 4}},
	} {
		out := ResizeCV2Linear(tc.img, 2, 2)
		var got []uint8
		for i := 0; i < 4; i++ {
			got = append(got, out.Pix[3*i])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: ResizeCV2Linear to 2x2 = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPillowKernelEdges: Pillow's Resample.c kernels at their support
// limits: box is 1 on (−0.5, 0.5], the Hamming window is zero from |x| = 1
// on and even; hand values from the formulas.
func TestPillowKernelEdges(t *testing.T) {
	for _, tc := range []struct {
		f    Filter
		x    float64
		want float64
	}{
		{Box, -0.5, 0}, {Box, 0.5, 1}, {Box, -0.49, 1}, {Box, 0.51, 0},
		{Hamming, 1.5, 0}, {Hamming, -1.5, 0}, {Hamming, -1, 0}, {Hamming, 1, 0}, {Hamming, 0, 1},
		{Hamming, 0.5, 0.54 * 2 / math.Pi}, {Hamming, -0.5, 0.54 * 2 / math.Pi}, // sin(π/2)/(π/2)·(0.54 + 0.46·cos(π/2))
		{Bilinear, -0.25, 0.75}, {Bilinear, 1, 0},
		{Bicubic, -1.5, -0.0625}, {Bicubic, 0.5, 0.5625}, {Bicubic, 2, 0}, // a = −0.5
	} {
		if got := filterKernel(tc.f, tc.x); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%v kernel at %g = %g, want %g", tc.f, tc.x, got, tc.want)
		}
	}
	// At and beyond the edge of the support the C code returns exactly 0
	// (Lanczos is 0 from +3 on; at −3 it is sinc(−3)·sinc(−1), float
	// noise of order 1e-33, so that end is not checked).
	for _, tc := range []struct {
		f Filter
		x float64
	}{
		{Box, 0.75}, {Box, -0.75}, {Bilinear, 1}, {Bilinear, -1}, {Bilinear, 1.5},
		{Hamming, 1}, {Hamming, -1}, {Hamming, 2.5},
		{Bicubic, 2}, {Bicubic, -2}, {Bicubic, 2.5}, {Lanczos, 3}, {Lanczos, 3.5}, {Lanczos, -3.5},
	} {
		if got := filterKernel(tc.f, tc.x); got != 0 {
			t.Errorf("%v kernel at %g = %g, want exactly 0", tc.f, tc.x, got)
		}
	}
}

// TestClip8AndCoordEdges: Resample.c's clip8 saturates from 256·2^22 on;
// Geometry.c's COORD truncates and is clamped to the last pixel.
func TestClip8AndCoordEdges(t *testing.T) {
	for _, tc := range []struct {
		in   int
		want uint8
	}{{1 << 30, 255}, {1<<30 - 1, 255}, {1<<30 + 5, 255}, {1 << 22, 1}, {1<<22 - 1, 0}, {0, 0}, {-1, 0}} {
		if got := clip8(tc.in); got != tc.want {
			t.Errorf("clip8(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    float64
		n    int
		want int
	}{{5, 5, 4}, {4.99, 5, 4}, {7.5, 5, 4}, {0.5, 5, 0}, {-0.1, 5, 0}, {2.7, 5, 2}} {
		if got := coordPIL(tc.v, tc.n); got != tc.want {
			t.Errorf("coordPIL(%g, %d) = %d, want %d", tc.v, tc.n, got, tc.want)
		}
	}
}
