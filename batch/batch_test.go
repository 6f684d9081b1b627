package batch

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/bomb"
)

// The memory estimate grows with what the run holds at image size.
func TestSegmentMemoryEstimate(t *testing.T) {
	h := imageio.Header{Width: 1000, Height: 500, BytesPerPixel: 4, FileSize: 1000}
	o := freeseg.DefaultOptions()
	P := int64(500000)
	st := SegmentMemory(h, 1000, 500, 672, 336, 30, 5, o, false, false)
	// The output stage holds at least the logits of 30 names and the
	// probabilities of 5 classes at image size (float32).
	var outStage int64
	for _, s := range st {
		if s.Name == "outputs" {
			outStage = s.Bytes
		}
	}
	if outStage < 4*(30+5)*P {
		t.Fatalf("outputs stage %d below the maps alone (%d)", outStage, 4*35*P)
	}
	more := Peak(SegmentMemory(h, 1000, 500, 672, 336, 300, 5, o, false, false)).Bytes
	if more <= Peak(st).Bytes {
		t.Fatal("more names do not cost more")
	}
	if Peak(st).Name != "PAMR" {
		t.Fatalf("with PAMR on the peak is %q", Peak(st).Name)
	}
}

// The guard compares files, not path text.
func TestGuardByIdentity(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	os.WriteFile(p, []byte("x"), 0o644)
	link := filepath.Join(dir, "l")
	if err := os.Symlink(dir, link); err != nil {
		t.Skip(err)
	}
	g := NewGuard(p)
	for _, q := range []string{p, filepath.Join(link, "x.png"), filepath.Join(dir, ".", "x.png")} {
		if err := g.Check(q); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := g.Check(filepath.Join(dir, "y.png")); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.png")
	if os.Link(p, hard) == nil {
		if err := g.Check(hard); err == nil {
			t.Fatal("a hard link to an input was not recognised")
		}
	}
}

// Output names never collide, with each other or with an input file in the
// output folder, whatever the input names.
func TestAssignNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a.png", "a.jpg", "a-2.png", "A.PNG.png", "a.png-2.png", "b.png", "B.jpg", "c.labels.png"}
	var ins []Input
	for _, n := range names {
		ins = append(ins, Input{Path: filepath.Join(dir, n)})
	}
	AssignNames(ins, dir, SegmentSuffixes, nil)
	seen := map[string]string{}
	for _, n := range names {
		seen[strings.ToLower(n)] = "input"
	}
	for _, in := range ins {
		for _, s := range SegmentSuffixes {
			k := strings.ToLower(in.Base + s)
			if who, dup := seen[k]; dup {
				t.Fatalf("%s of %s collides with %s", in.Base+s, in.Path, who)
			}
			seen[k] = in.Path
		}
	}
	// Deterministic, and plain where possible.
	want := map[string]string{"a-2.png": "a-2", "c.labels.png": "c.labels"}
	for _, in := range ins {
		if w, ok := want[filepath.Base(in.Path)]; ok && in.Base != w {
			t.Fatalf("%s got base %q, want %q", in.Path, in.Base, w)
		}
	}
	again := make([]Input, len(ins))
	for i := range ins {
		again[i] = Input{Path: ins[i].Path}
	}
	AssignNames(again, dir, SegmentSuffixes, nil)
	for i := range ins {
		if again[i].Base != ins[i].Base {
			t.Fatalf("not deterministic: %q then %q", ins[i].Base, again[i].Base)
		}
	}
}

// The default bound is tied to the machine (half of MemAvailable).
func TestMemLimit(t *testing.T) {
	dir := t.TempDir()
	mi := filepath.Join(dir, "meminfo")
	os.WriteFile(mi, []byte("MemTotal:       24000000 kB\nMemFree:        1000 kB\nMemAvailable:   8000000 kB\n"), 0o644)
	if lim, why := MemLimit(0, mi); lim != 8000000*1024/2 || !strings.Contains(why, "available") {
		t.Fatalf("memLimit from meminfo: %d %q", lim, why)
	}
	os.WriteFile(mi, []byte("MemTotal:       1000 kB\n"), 0o644)
	if lim, _ := MemLimit(0, mi); lim != 1000*1024/2 {
		t.Fatalf("memLimit without MemAvailable: %d", lim)
	}
	if lim, _ := MemLimit(0, filepath.Join(dir, "none")); lim != fallbackMemLimit {
		t.Fatalf("memLimit without meminfo: %d", lim)
	}
	if lim, why := MemLimit(100, mi); lim != 100<<20 || why != "--max-memory-mb" {
		t.Fatalf("memLimit with the flag: %d %q", lim, why)
	}
}

// The temporaries of the planned outputs (in their rel folders) go; those
// of other files stay.
func TestRemoveStaleTemps(t *testing.T) {
	out := t.TempDir()
	sub := filepath.Join(out, "s")
	os.Mkdir(sub, 0o755)
	mine := filepath.Join(sub, ".a.labels.png.tmp123")
	other := filepath.Join(sub, ".b.labels.png.tmp123")
	for _, p := range []string{mine, other} {
		os.WriteFile(p, nil, 0o644)
	}
	removed, err := RemoveStaleTemps([]Input{{Path: "x/a.png", Rel: "s", Base: "a"}}, out, []string{".labels.png", ".json"})
	if err != nil || len(removed) != 1 || removed[0] != mine {
		t.Fatalf("removed %v, %v; want [%s]", removed, err, mine)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("another file's temporary was removed")
	}
}

// NewOutputs refuses the inputs and the other files it is given.
func TestNewOutputs(t *testing.T) {
	dir := t.TempDir()
	in, cls, free := filepath.Join(dir, "a.png"), filepath.Join(dir, "c.txt"), filepath.Join(dir, "b.json")
	os.WriteFile(in, []byte("x"), 0o644)
	os.WriteFile(cls, []byte("cat"), 0o644)
	o := NewOutputs([]Input{{Path: in}}, cls)
	for _, p := range []string{in, cls} {
		if err := o.WriteFile(p, func(w io.Writer) error { return nil }); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := o.WriteFile(free, func(w io.Writer) error { _, err := io.WriteString(w, "{}"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(in); string(b) != "x" {
		t.Fatal("the input was changed")
	}
}

// Keep keeps the inputs that pass, fills them in, collects the failures
// (or stops at the first with strict) and passes warnings on.
func TestKeep(t *testing.T) {
	ins := []Input{{Path: "a"}, {Path: "bad"}, {Path: "c"}}
	check := func(in *Input) (string, error) {
		if in.Path == "bad" {
			return "", errors.New("no good")
		}
		in.Base = in.Path + "!"
		if in.Path == "c" {
			return "small", nil
		}
		return "", nil
	}
	f := &Failures{Total: 3}
	var warned []string
	kept, err := f.Keep(ins, false, check, func(w string) { warned = append(warned, w) })
	if err != nil || len(kept) != 2 || kept[0].Base != "a!" || kept[1].Base != "c!" || len(f.List) != 1 || f.List[0].Path != "bad" || len(warned) != 1 {
		t.Fatalf("kept %+v, err %v, failures %+v, warned %v", kept, err, f.List, warned)
	}
	if e := f.Err(); e == nil || !strings.Contains(e.Error(), "1 of 3 images failed") || !strings.Contains(e.Error(), "bad: no good") {
		t.Fatalf("Err() = %v", e)
	}
	if _, err := (&Failures{}).Keep(ins, true, check, nil); err == nil || err.Error() != "no good" {
		t.Fatalf("strict: %v", err)
	}
}

// CheckImages refuses from the header an image whose decoding exceeds the
// bound, and freeseg's own outputs, naming the file; a small image passes.
func TestCheckImages(t *testing.T) {
	dir := t.TempDir()
	big, small, own := filepath.Join(dir, "big.png"), filepath.Join(dir, "small.png"), filepath.Join(dir, "own.png")
	os.WriteFile(big, bomb.PNG1Bit(19000, 19000), 0o644) // 361 megapixels: over 1 GiB to decode
	os.WriteFile(small, bomb.PNG1Bit(8, 8), 0o644)
	var b bytes.Buffer
	if err := MarkedPNG(&b, "labels", func(w io.Writer) error { _, err := w.Write(bomb.PNG1Bit(8, 8)); return err }); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(own, b.Bytes(), 0o644)
	if err := CheckImages([]string{small}, true, 64); err != nil {
		t.Fatal(err)
	}
	if err := CheckImages([]string{small, big}, true, 64); err == nil || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "more than the limit of 64 MiB") {
		t.Fatalf("bomb: %v", err)
	}
	if err := CheckImages([]string{own}, true, 64); err == nil || !strings.Contains(err.Error(), "own.png is freeseg's own labels output") {
		t.Fatalf("own output: %v", err)
	}
}
