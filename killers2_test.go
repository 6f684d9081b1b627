package freeseg_test

// More tests from mutation testing of the root package (docs/testing.md):
// Explain's argument limits, the overlay's legend, and the classifier
// cache's handling of corrupt entries and of the model digest memo.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/testmodel"
)

func TestExplainArgumentLimits(t *testing.T) {
	e := freeseg.NewEngine(randomModels(t)[0])
	img := synthPhoto(30, 20)
	o := freeseg.DefaultExplainOptions()
	o.Method, o.Templates, o.Resize.Size, o.FeatureSurgery = dense.Surgery, "single", 16, freeseg.SurgeryMulti
	ex, err := e.Explain(context.Background(), img, []string{"cat", "dog"}, o) // one patch; two texts are enough for multi
	if err != nil {
		t.Fatalf("size 16, two texts: %v", err)
	}
	if ex.Width != 30 || ex.Height != 20 || len(ex.Maps) != 2*30*20 || ex.GH != 1 || ex.GW != 1 || len(ex.Similarity) != 2 {
		t.Fatalf("explanation %dx%d, %d map values, grid %dx%d, %d similarities", ex.Width, ex.Height, len(ex.Maps), ex.GH, ex.GW, len(ex.Similarity))
	}
	for _, c := range []struct {
		texts []string
		size  int
		mode  string
		want  string
	}{
		{[]string{"cat", "dog"}, 15, "multi", "smaller than one"},
		{[]string{"cat"}, 32, "multi", "two or more"},
		{nil, 32, "off", "no texts"},
	} {
		oo := o
		mode, err := freeseg.ParseFeatureSurgery(c.mode)
		if err != nil {
			t.Fatal(err)
		}
		oo.Resize.Size, oo.FeatureSurgery = c.size, mode
		if _, err := e.Explain(context.Background(), img, c.texts, oo); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v size %d %s: error %v, want %q", c.texts, c.size, c.mode, err, c.want)
		}
	}
	// The zero mode is auto: multi for two texts.
	oo := o
	oo.FeatureSurgery = freeseg.SurgeryAuto
	ex2, err := e.Explain(context.Background(), img, []string{"cat", "dog"}, oo)
	if err != nil || !slices.Equal(ex2.Maps, ex.Maps) {
		t.Fatalf("auto mode: %v, or maps differ from multi", err)
	}
	if _, err := freeseg.ParseFeatureSurgery("sideways"); err == nil || !strings.Contains(err.Error(), "unknown feature surgery") {
		t.Errorf("unknown mode: %v", err)
	}
}

// The legend lists the classes present, in class order, as "name NN%", in
// the class colours; absent classes are left out.
func TestOverlayLegend(t *testing.T) {
	img := synthPhoto(40, 30)
	labels := make([]int32, 40*30)
	for i := range labels {
		switch {
		case i%4 == 0:
			labels[i] = 0
		case i%4 == 1:
			labels[i] = 2
		default:
			labels[i] = 3
		}
	}
	r := &freeseg.Result{Width: 40, Height: 30, Labels: labels, Fractions: []float64{0.25, 0, 0.25, 0.5}, Classes: []string{"bg", "cat", "dog", "sky"}}
	for _, bg := range []bool{true, false} {
		r.Image, r.Classes, r.Background = img, []string{"background", "cat", "dog", "sky"}, bg
		got := freeseg.Overlay(r)
		pal := freeseg.ClassColors(4, bg)
		shown := slices.Clone(labels)
		if bg {
			for i, l := range shown {
				if l == 0 {
					shown[i] = -1
				}
			}
		}
		want := imageio.DrawLegend(imageio.Overlay(img, shown, pal, 0.5),
			[]string{"background 25%", "dog 25%", "sky 50%"}, [][3]uint8{pal[0], pal[2], pal[3]})
		if got.W != want.W || got.H != want.H || !slices.Equal(got.Pix, want.Pix) {
			t.Errorf("background %v: overlay %dx%d differs from the photo, tint and legend composed by hand (%dx%d)", bg, got.W, got.H, want.W, want.H)
		}
	}
}

// Corrupt or foreign disk-cache entries are recomputed, never returned.
func TestClassifierCacheCorruptEntries(t *testing.T) {
	m := randomModels(t)[0]
	names, tpl := []string{"cat", "dog"}, []string{"a photo of a {}."}
	want, err := m.Classifier(names, tpl)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := freeseg.NewClassifierCache(dir).Get(m, names, "set", tpl); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".bin") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 2 {
		t.Fatalf("%d cache files, want 2", len(files))
	}
	orig := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		orig[f] = b
	}
	const magic = "freeseg-classifier-v1\n"
	other := func(b []byte) []byte { // the entry of the other file, under this name
		for _, o := range orig {
			if !slices.Equal(o, b) {
				return slices.Clone(o)
			}
		}
		return nil
	}
	for _, c := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"empty", func(b []byte) []byte { return nil }},
		{"bad magic", func(b []byte) []byte { b = slices.Clone(b); b[0] ^= 1; return b }},
		{"header cut", func(b []byte) []byte { return b[:len(magic)+7] }},
		{"one float short", func(b []byte) []byte { return b[:len(b)-4] }},
		{"one float long", func(b []byte) []byte { return append(slices.Clone(b), 0, 0, 128, 63) }},
		{"name length off", func(b []byte) []byte { b = slices.Clone(b); b[len(magic)]++; return b }},
		{"width off", func(b []byte) []byte { b = slices.Clone(b); b[len(magic)+4]++; return b }},
		{"another name's entry", other},
		{"NaN", func(b []byte) []byte {
			b = slices.Clone(b)
			copy(b[len(b)-4:], []byte{0, 0, 192, 127})
			return b
		}},
	} {
		for _, f := range files {
			if err := os.WriteFile(f, c.corrupt(orig[f]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cc := freeseg.NewClassifierCache(dir)
		got, err := cc.Get(m, names, "set", tpl)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the cache returned a corrupt entry's values", c.name)
		}
		if h, miss, _ := cc.Stats(); h != 0 || miss != 2 {
			t.Errorf("%s: %d hits %d misses, want 0 and 2", c.name, h, miss)
		}
		// The recomputed rows were written back: a new cache reads them.
		cc = freeseg.NewClassifierCache(dir)
		if got, _ := cc.Get(m, names, "set", tpl); !slices.Equal(got, want) {
			t.Errorf("%s: rewritten entries differ", c.name)
		}
		if h, _, _ := cc.Stats(); h != 2 {
			t.Errorf("%s: rewritten entries not read back (%d hits)", c.name, h)
		}
	}
}

// A model loaded from a file is keyed on disk by the file's SHA-256,
// remembered per path, size and time; a damaged memo is recomputed.
func TestClassifierCacheDigestMemo(t *testing.T) {
	m := testmodel.Tiny(t)
	b, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	names, tpl := []string{"cat"}, []string{"a photo of a {}."}
	want, err := m.Classifier(names, tpl)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := freeseg.NewClassifierCache(dir).Get(m, names, "set", tpl); err != nil || !slices.Equal(got, want) {
		t.Fatalf("first: %v", err)
	}
	memos, _ := filepath.Glob(filepath.Join(dir, "digests", "*"))
	if len(memos) != 1 {
		t.Fatalf("%d digest memos", len(memos))
	}
	if b, _ := os.ReadFile(memos[0]); string(b) != digest {
		t.Fatalf("memo holds %q, want the file's SHA-256 %s", b, digest)
	}
	if _, err := os.Stat(filepath.Join(dir, "classifiers", digest[:32])); err != nil {
		t.Fatalf("entries not under the digest's folder: %v", err)
	}
	for _, memo := range []string{"zz", strings.Repeat("z", 64), digest[:63]} {
		os.WriteFile(memos[0], []byte(memo), 0o644)
		c := freeseg.NewClassifierCache(dir)
		got, err := c.Get(m, names, "set", tpl)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("memo %q: %v", memo, err)
		}
		if h, _, _ := c.Stats(); h != 1 {
			t.Errorf("memo %q: the entry under the real digest was not found (%d hits)", memo, h)
		}
		if b, _ := os.ReadFile(memos[0]); string(b) != digest {
			t.Errorf("memo %q not rewritten: %q", memo, b)
		}
	}
	// A memo naming another digest is trusted (it is keyed by path, size
	// and time), so the entries are looked up there and computed afresh.
	os.WriteFile(memos[0], []byte(strings.Repeat("ab", 32)), 0o644)
	c := freeseg.NewClassifierCache(dir)
	if got, _ := c.Get(m, names, "set", tpl); !slices.Equal(got, want) {
		t.Fatal("rows under a foreign digest")
	}
	if _, miss, _ := c.Stats(); miss != 1 {
		t.Errorf("foreign memo: %d misses, want 1", miss)
	}
	// A model file that cannot be read is an error, not a silent key.
	gone, err := clip.Random(clip.Config{VisionWidth: 32, VisionLayers: 1, VisionHeads: 2, Patch: 16, Grid: 2, EmbedDim: 8,
		TextWidth: 32, TextLayers: 1, TextHeads: 2, ContextLength: 77, VocabSize: 49408}, 9)
	if err != nil {
		t.Fatal(err)
	}
	gone.Path = filepath.Join(t.TempDir(), "missing.safetensors")
	if _, err := freeseg.NewClassifierCache(dir).Get(gone, names, "set", tpl); err == nil {
		t.Errorf("model path %s that does not exist accepted", gone.Path)
	}
}
