package imageio

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The fixtures in testdata/ were written by testdata/gen_reference.py with
// the real Pillow, OpenCV, libjpeg-turbo and libwebp (versions recorded in
// reference.json); these tests need none of them.

type refManifest struct {
	Pillow string `json:"pillow"`
	OpenCV string `json:"opencv"`
	Resize []struct {
		Op     string `json:"op"`
		Filter string `json:"filter"`
		Src    string `json:"src"`
		W      int    `json:"w"`
		H      int    `json:"h"`
		Want   string `json:"want"`
	} `json:"resize"`
	Decode []struct {
		File        string `json:"file"`
		Want        string `json:"want"`
		Mode        string `json:"mode"`
		Note        string `json:"note"`
		Exact       bool   `json:"exact"`
		Orientation int    `json:"orientation"`
	} `json:"decode"`
}

func readManifest(t *testing.T) *refManifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m refManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func openTestdata(t *testing.T, name string) *RGB {
	t.Helper()
	img, _, err := Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var filterNames = map[string]Filter{"nearest": Nearest, "box": Box, "bilinear": Bilinear,
	"hamming": Hamming, "bicubic": Bicubic, "lanczos": Lanczos}

// TestResizeReference checks ResizePIL (every filter) against Pillow and
// ResizeCV2Linear against cv2.resize, byte for byte, on noise and gradient
// sources, up and down, including 1-pixel sizes, exact 2× cases and every
// row-tail length of OpenCV's SIMD vertical pass.
func TestResizeReference(t *testing.T) {
	m := readManifest(t)
	srcs := map[string]*RGB{}
	var nPIL, nCV int
	for _, c := range m.Resize {
		src := srcs[c.Src]
		if src == nil {
			src = openTestdata(t, c.Src)
			srcs[c.Src] = src
		}
		want := openTestdata(t, c.Want)
		var got *RGB
		switch c.Op {
		case "pil":
			f, ok := filterNames[c.Filter]
			if !ok {
				t.Fatalf("unknown filter %q", c.Filter)
			}
			got = ResizePIL(src, c.W, c.H, f)
			nPIL++
		case "cv2":
			got = ResizeCV2Linear(src, c.W, c.H)
			nCV++
		default:
			t.Fatalf("unknown op %q", c.Op)
		}
		if got.W != want.W || got.H != want.H {
			t.Fatalf("%s: size %dx%d, want %dx%d", c.Want, got.W, got.H, want.W, want.H)
		}
		if maxd, n := countDiff(got.Pix, want.Pix); n != 0 {
			t.Errorf("%s (%dx%d → %dx%d): %d bytes differ, max %d levels", c.Want, src.W, src.H, c.W, c.H, n, maxd)
		}
	}
	t.Logf("%d Pillow %s and %d OpenCV %s resizes compared", nPIL, m.Pillow, nCV, m.OpenCV)
}

// TestDecodeReference checks Decode against Pillow's convert("RGB") of the
// same files. Lossless sources must match exactly; JPEG may differ by the
// IDCT (Go's versus libjpeg-turbo's islow) by a level or two on some
// pixels.
func TestDecodeReference(t *testing.T) {
	m := readManifest(t)
	for _, c := range m.Decode {
		got, meta, err := Open(filepath.Join("testdata", c.File))
		if err != nil {
			t.Errorf("%s: %v", c.File, err)
			continue
		}
		want := openTestdata(t, c.Want)
		if got.W != want.W || got.H != want.H {
			t.Errorf("%s: %dx%d, want %dx%d", c.File, got.W, got.H, want.W, want.H)
			continue
		}
		if meta.Orientation != c.Orientation {
			t.Errorf("%s: orientation %d, want %d", c.File, meta.Orientation, c.Orientation)
		}
		maxd, n := countDiff(got.Pix, want.Pix)
		t.Logf("%-28s %-5s %-4s max |Δ| %d, %d of %d bytes differ (%s)", c.File, meta.Format, c.Mode, maxd, n, len(want.Pix), c.Note)
		if c.Exact && n != 0 {
			t.Errorf("%s: %d bytes differ from Pillow, max %d (%s)", c.File, n, maxd, c.Note)
		}
		if !c.Exact && (maxd > 4 || n > len(want.Pix)/10) {
			t.Errorf("%s: %d bytes differ from Pillow, max %d: more than the IDCT explains (%s)", c.File, n, maxd, c.Note)
		}
	}
}
