package freeseg

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// A usage error reads as its message alone and is told apart by
// errors.Is; the chain of a marked error survives.
func TestUsageErrors(t *testing.T) {
	err := Usagef("--limit %d must not be negative", -1)
	if err.Error() != "--limit -1 must not be negative" || !errors.Is(err, ErrUsage) {
		t.Errorf("Usagef: %q, Is ErrUsage %v", err, errors.Is(err, ErrUsage))
	}
	_, statErr := os.Stat(filepath.Join(t.TempDir(), "missing"))
	marked := AsUsage(statErr)
	if marked.Error() != statErr.Error() || !errors.Is(marked, ErrUsage) || !errors.Is(marked, fs.ErrNotExist) {
		t.Errorf("AsUsage: %q, usage %v, not-exist %v", marked, errors.Is(marked, ErrUsage), errors.Is(marked, fs.ErrNotExist))
	}
	if AsUsage(nil) != nil || errors.Is(statErr, ErrUsage) || AsUsage(err) != err {
		t.Error("AsUsage(nil) is not nil, a plain error is a usage error, or a usage error is wrapped twice")
	}
}

func TestParseClassesAndTexts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "classes.txt")
	if err := os.WriteFile(file, []byte("sky\ncat, kitten\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseClasses("cat", file); !errors.Is(err, ErrUsage) {
		t.Errorf("both: %v, want a usage error", err)
	}
	if v, err := ParseClasses("", ""); v != nil || err != nil {
		t.Errorf("neither: %v %v, want nil, nil", v, err)
	}
	if v, err := ParseClasses("", file); err != nil || !slices.Equal(v.ClassNames(), []string{"sky", "cat"}) || len(v.Names[1]) != 2 {
		t.Errorf("file: %v %v", v, err)
	}
	if _, err := ParseClasses("", filepath.Join(dir, "nope.txt")); err == nil || !strings.Contains(err.Error(), "nope.txt") {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := SegmentVocabulary("cat, dog", "", "file"); !errors.Is(err, ErrUsage) {
		t.Errorf("--background file without a file: %v", err)
	}
	if _, _, err := SegmentVocabulary("", "", ""); !errors.Is(err, ErrUsage) {
		t.Errorf("no classes: %v", err)
	}
	v, _, err := SegmentVocabulary("", file, "file")
	if err != nil || !v.Background || v.Len() != 2 {
		t.Errorf("background from the file: %+v %v", v, err)
	}
	texts, err := ParseTexts([]string{"cat, dog", " ", "a red car; sky"})
	if err != nil || !slices.Equal(texts, []string{"cat", "dog", "a red car", "sky"}) {
		t.Errorf("ParseTexts: %q %v", texts, err)
	}
	if _, err := ParseTexts([]string{"cat", "dog, cat"}); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `"cat"`) {
		t.Errorf("a text twice: %v", err)
	}
}

func TestWriteTestModel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if err := WriteTestModel(dir, 3); err != nil {
		t.Fatal(err)
	}
	a, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "README.txt")); err != nil || !bytes.Contains(b, []byte("RANDOM")) {
		t.Errorf("README: %v", err)
	}
	// A folder that holds anything is refused and left as it was.
	if err := WriteTestModel(dir, 4); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second write: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "model.safetensors")); !bytes.Equal(a, b) {
		t.Error("the refused write changed the model")
	}
	// The same seed writes the same model.
	dir2 := filepath.Join(t.TempDir(), "m2")
	if err := WriteTestModel(dir2, 3); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir2, "model.safetensors")); !bytes.Equal(a, b) {
		t.Error("seed 3 wrote two different models")
	}
}

func TestEncodeImagesAndZeroShot(t *testing.T) {
	m, err := clip.Random(clip.TinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	img := imageio.NewRGB(40, 30)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	load := func(int) (*imageio.RGB, error) { return img, nil }
	if _, err := EncodeImages(m, 1, load, "openai", m.Config.ImageSize()+1); !errors.Is(err, ErrUsage) {
		t.Errorf("another size: %v, want a usage error", err)
	}
	if _, err := EncodeImages(m, 1, load, "stretch", 0); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown preprocessing: %v, want a usage error", err)
	}
	x, err := EncodeImages(m, 2, load, "square", 0)
	if err != nil || len(x) != 2*m.Config.EmbedDim {
		t.Fatalf("%d values, %v", len(x), err)
	}
	vocab, err := prompts.ParseClassList("cat, kitten; dog; sky")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(m)
	all, err := e.ZeroShot(x, 2, vocab, "single", 0)
	if err != nil || len(all) != 2 || len(all[0]) != 3 {
		t.Fatalf("%v %v", all, err)
	}
	sum := 0.0
	for k, c := range all[0] {
		sum += c.Prob
		if k > 0 && c.Prob > all[0][k-1].Prob {
			t.Errorf("not by decreasing probability: %v", all[0])
		}
	}
	if math.Abs(sum-1) > 1e-5 || !slices.Equal(classes(all[0]), classes(all[1])) {
		t.Errorf("probabilities sum to %v; the same image ranks %v and %v", sum, all[0], all[1])
	}
	top, err := e.ZeroShot(x, 2, vocab, "single", 2)
	if err != nil || len(top[0]) != 2 || top[0][0] != all[0][0] {
		t.Errorf("top 2: %v %v", top, err)
	}
}

func classes(l []ClassProb) []string {
	var out []string
	for _, c := range l {
		out = append(out, c.Class)
	}
	return out
}
