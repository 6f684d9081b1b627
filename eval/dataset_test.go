package eval_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
)

func spec(t *testing.T, name string) eval.Spec {
	t.Helper()
	s, err := eval.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBenchmarkSpecs(t *testing.T) {
	want := map[string]struct {
		classes    int
		reduce, bg bool
		label      string
	}{
		"voc21":          {21, false, true, ".png"},
		"voc20":          {20, true, false, ".png"},
		"context60":      {60, false, true, ".png"},
		"context59":      {59, true, false, ".png"},
		"coco_object":    {81, false, true, "_instanceTrainIds.png"},
		"coco_stuff164k": {171, false, false, "_labelTrainIds.png"},
		"cityscapes":     {19, false, false, "_gtFine_labelTrainIds.png"},
		"ade20k":         {150, true, false, ".png"},
	}
	if len(eval.Benchmarks()) != len(want) {
		t.Fatalf("%d benchmarks", len(eval.Benchmarks()))
	}
	for name, w := range want {
		s := spec(t, name)
		if s.Classes != w.classes || s.ReduceZeroLabel != w.reduce || s.Background != w.bg || s.LabelSuffix != w.label {
			t.Errorf("%s: %+v", name, s)
		}
	}
	for alias, name := range map[string]string{"pc59": "context59", "City_Scapes": "cityscapes", " stuff ": "coco_stuff164k", "ade": "ade20k"} {
		if s, err := eval.Lookup(alias); err != nil || s.Name != name {
			t.Errorf("alias %q: %v %v", alias, s.Name, err)
		}
	}
	if _, err := eval.Lookup("voc"); err == nil || !strings.Contains(err.Error(), "voc21") {
		t.Errorf("unknown name: %v", err)
	}
}

// Every benchmark layout: listing, order, paths, and the label values
// after reduce_zero_label.
func TestOpenEveryLayout(t *testing.T) {
	for _, s := range eval.Benchmarks() {
		t.Run(s.Name, func(t *testing.T) {
			root := t.TempDir()
			ids := evaltest.Benchmark(t, s, root, 4, 24, 16)
			d, err := eval.Open(s.Name, root, eval.OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range d.Samples {
				got = append(got, x.ID)
				for _, p := range []string{x.Image, x.Label} {
					if _, err := os.Stat(p); err != nil {
						t.Errorf("%s: %v", x.ID, err)
					}
				}
			}
			if s.Split == "" {
				ids = slices.Clone(ids)
				slices.Sort(ids) // listed folders are sorted by path
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("IDs %v, want %v", got, ids)
			}
			if (d.SplitFile != "") != (s.Split != "") {
				t.Errorf("split file %q", d.SplitFile)
			}
			// Raw label of the first sample, and what LoadLabel makes of it.
			raw, err := eval.ReadLabelFile(d.Samples[0].Label)
			if err != nil {
				t.Fatal(err)
			}
			l, err := d.LoadLabel(d.Samples[0])
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range raw.Pix {
				want := v
				if s.ReduceZeroLabel {
					switch v {
					case 0, 255:
						want = 255
					default:
						want = v - 1
					}
				}
				if l.Pix[i] != want {
					t.Fatalf("pixel %d: raw %d read as %d, want %d", i, v, l.Pix[i], want)
				}
			}
			if l.Pix[0] != 255 {
				t.Errorf("the 255 border was not kept: %d", l.Pix[0])
			}
			if s.ReduceZeroLabel && !slices.Contains(raw.Pix, 0) {
				t.Errorf("test data has no 0 to ignore")
			}
			if sh := d.Shard(1, 3); !slices.Equal(sh, []int{1}) {
				t.Errorf("shard 1/3 of 4: %v", sh)
			}
		})
	}
}

func TestCityscapesCitiesAndSuffixes(t *testing.T) {
	root := t.TempDir()
	s := spec(t, "cityscapes")
	evaltest.Benchmark(t, s, root, 3, 16, 16)
	// Files that must not be listed: other gtFine products, other splits.
	evaltest.WriteFile(t, filepath.Join(root, "gtFine/val/aachen/aachen_000000_000019_gtFine_color.png"), []byte("x"))
	evaltest.WriteImage(t, filepath.Join(root, "leftImg8bit/train/zurich/zurich_000000_000019_leftImg8bit.png"), 16, 16, 1)
	d, err := eval.Open("cityscapes", root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aachen/aachen_000000_000019", "aachen/aachen_000002_000019", "bremen/bremen_000001_000019"}
	var got []string
	for _, x := range d.Samples {
		got = append(got, x.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("IDs %v, want %v", got, want)
	}
	if !strings.HasSuffix(d.Samples[2].Label, filepath.FromSlash("gtFine/val/bremen/bremen_000001_000019_gtFine_labelTrainIds.png")) {
		t.Errorf("label path %s", d.Samples[2].Label)
	}
}

// COCO-Object and COCO-Stuff share a folder; each reads its own suffix.
func TestCOCOSuffixes(t *testing.T) {
	root := t.TempDir()
	id := "000000000139"
	evaltest.WriteImage(t, filepath.Join(root, "images/val2017", id+".jpg"), 4, 1, 0)
	evaltest.WriteFile(t, filepath.Join(root, "annotations/val2017", id+"_instanceTrainIds.png"), evaltest.GreyPNG(t, 4, 1, []uint8{0, 80, 1, 0}))
	evaltest.WriteFile(t, filepath.Join(root, "annotations/val2017", id+"_labelTrainIds.png"), evaltest.GreyPNG(t, 4, 1, []uint8{170, 255, 3, 0}))
	for name, want := range map[string][]uint8{"coco_object": {0, 80, 1, 0}, "coco_stuff164k": {170, 255, 3, 0}} {
		d, err := eval.Open(name, root, eval.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Samples) != 1 || d.Samples[0].ID != id {
			t.Fatalf("%s: %+v", name, d.Samples)
		}
		l, err := d.LoadLabel(d.Samples[0])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.Pix, want) {
			t.Errorf("%s: %v, want %v", name, l.Pix, want)
		}
	}
	// The object set has 81 classes: 81 is out of range.
	evaltest.WriteFile(t, filepath.Join(root, "annotations/val2017", id+"_instanceTrainIds.png"), evaltest.GreyPNG(t, 4, 1, []uint8{0, 81, 1, 0}))
	d, _ := eval.Open("coco_object", root, eval.OpenOptions{})
	var re *eval.RangeError
	if _, err := d.LoadLabel(d.Samples[0]); !errors.As(err, &re) || re.Value != 81 {
		t.Errorf("value 81 of COCO-Object: %v", err)
	}
}

func TestOpenNestedRootAndSplitOverride(t *testing.T) {
	parent := t.TempDir()
	s := spec(t, "voc21")
	ids := evaltest.Benchmark(t, s, filepath.Join(parent, "VOCdevkit/VOC2012"), 3, 8, 8)
	d, err := eval.Open("voc21", parent, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Samples) != 3 || d.Root != filepath.Join(parent, "VOCdevkit/VOC2012") {
		t.Fatalf("root %s, %d samples", d.Root, len(d.Samples))
	}
	sub := filepath.Join(t.TempDir(), "sub.txt")
	evaltest.WriteFile(t, sub, []byte(ids[2]+"\r\n\n  "+ids[0]+"  \n"))
	d, err = eval.Open("voc21", parent, eval.OpenOptions{Split: sub})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Samples) != 2 || d.Samples[0].ID != ids[2] || d.Samples[1].ID != ids[0] || d.SplitFile != sub {
		t.Fatalf("subset split: %+v", d.Samples)
	}
	// The list digest follows the IDs and their order.
	full, _ := eval.Open("voc21", parent, eval.OpenOptions{})
	if d.ListDigest() == full.ListDigest() {
		t.Errorf("different lists share a digest")
	}
	evaltest.WriteFile(t, sub, []byte(ids[0]+"\n"+ids[0]+"\n"))
	if _, err := eval.Open("voc21", parent, eval.OpenOptions{Split: sub}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("repeated ID: %v", err)
	}
}

func TestOpenErrorsNameThePath(t *testing.T) {
	root := t.TempDir()
	// No image folder.
	_, err := eval.Open("voc21", root, eval.OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "JPEGImages")) {
		t.Errorf("missing image folder: %v", err)
	}
	// Missing split file.
	os.MkdirAll(filepath.Join(root, "JPEGImages"), 0o755)
	_, err = eval.Open("voc21", root, eval.OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "ImageSets/Segmentation/val.txt")) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing split: %v", err)
	}
	// Empty split file.
	evaltest.WriteFile(t, filepath.Join(root, "ImageSets/Segmentation/val.txt"), []byte("\n\n"))
	_, err = eval.Open("voc21", root, eval.OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "empty dataset") || !strings.Contains(err.Error(), "val.txt") {
		t.Errorf("empty split: %v", err)
	}
	// Empty listed folder.
	os.MkdirAll(filepath.Join(root, "images/validation"), 0o755)
	_, err = eval.Open("ade20k", root, eval.OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "empty dataset") || !strings.Contains(err.Error(), filepath.Join(root, "images/validation")) {
		t.Errorf("empty folder: %v", err)
	}
	// Missing root; no root.
	if _, err := eval.Open("voc21", filepath.Join(root, "nope"), eval.OpenOptions{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing root: %v", err)
	}
	if _, err := eval.Open("voc21", "", eval.OpenOptions{}); err == nil {
		t.Errorf("no root accepted")
	}
}

func TestLoadLabelSkipsAndErrors(t *testing.T) {
	root := t.TempDir()
	s := spec(t, "voc20")
	evaltest.Benchmark(t, s, root, 3, 8, 8)
	d, err := eval.Open("voc20", root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Missing label: a skip.
	os.Remove(d.Samples[0].Label)
	var se *eval.SkipError
	if _, err := d.LoadLabel(d.Samples[0]); !errors.As(err, &se) || !strings.Contains(se.Reason, "not found") {
		t.Errorf("missing label: %v", err)
	}
	// Damaged label: a skip.
	evaltest.WriteFile(t, d.Samples[1].Label, []byte("\x89PNG\r\n\x1a\nbroken"))
	if _, err := d.LoadLabel(d.Samples[1]); !errors.As(err, &se) {
		t.Errorf("damaged label: %v", err)
	}
	// VOC20 reduces zero: raw 21 becomes 20, out of range; raw 20 is class 19.
	evaltest.WriteFile(t, d.Samples[2].Label, evaltest.PalettePNG(t, 2, 1, []uint8{20, 0}))
	if l, err := d.LoadLabel(d.Samples[2]); err != nil || !slices.Equal(l.Pix, []uint8{19, 255}) {
		t.Errorf("raw 20, 0: %v %v", l, err)
	}
	evaltest.WriteFile(t, d.Samples[2].Label, evaltest.PalettePNG(t, 2, 1, []uint8{21, 0}))
	var re *eval.RangeError
	if _, err := d.LoadLabel(d.Samples[2]); !errors.As(err, &re) || re.Value != 20 || !strings.Contains(err.Error(), d.Samples[2].Label) {
		t.Errorf("raw 21 on VOC20: %v", err)
	}
	// A colour label is a format error, not a skip.
	evaltest.WriteImage(t, d.Samples[2].Label, 2, 1, 0)
	var fe *eval.FormatError
	if _, err := d.LoadLabel(d.Samples[2]); !errors.As(err, &fe) {
		t.Errorf("colour label: %v", err)
	}
}

func TestOpenFolder(t *testing.T) {
	dir := t.TempDir()
	images, labels := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
	evaltest.WriteImage(t, filepath.Join(images, "b.jpg"), 6, 4, 0)
	evaltest.WriteImage(t, filepath.Join(images, "a.png"), 6, 4, 1)
	evaltest.WriteImage(t, filepath.Join(images, "sub", "c.JPEG"), 6, 4, 2)
	evaltest.WriteFile(t, filepath.Join(images, "notes.txt"), []byte("not an image"))
	evaltest.WriteFile(t, filepath.Join(labels, "a.png"), evaltest.PalettePNG(t, 6, 4, evaltest.Label(6, 4, 0, []uint8{0, 1, 2})))
	evaltest.WriteFile(t, filepath.Join(labels, "b.png"), evaltest.GreyPNG(t, 6, 4, evaltest.Label(6, 4, 1, []uint8{0, 2})))
	classes := filepath.Join(dir, "classes.txt")
	evaltest.WriteFile(t, classes, []byte("sky, cloud\ncat\ndog, puppy\n"))
	d, err := eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: classes})
	if err != nil {
		t.Fatal(err)
	}
	if d.Classes != 3 || d.Vocabulary.Len() != 3 || d.Name != eval.Folder || d.Background {
		t.Fatalf("%+v", d.Spec)
	}
	var ids []string
	for _, s := range d.Samples {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, []string{"a", "b", "sub/c"}) {
		t.Fatalf("IDs %v", ids)
	}
	bPix := evaltest.Label(6, 4, 1, []uint8{0, 2})
	if l, err := d.LoadLabel(d.Samples[1]); err != nil || !slices.Equal(l.Pix, bPix) {
		t.Errorf("grey label: %v %v, want %v", l, err, bPix)
	}
	var se *eval.SkipError
	if _, err := d.LoadLabel(d.Samples[2]); !errors.As(err, &se) {
		t.Errorf("sub/c has no label: %v", err)
	}
	// reduce_zero_label on a folder: 0 ignored, 2 -> 1.
	d, _ = eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: classes, ReduceZeroLabel: true})
	l, err := d.LoadLabel(d.Samples[1])
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range bPix {
		want := map[uint8]uint8{0: 255, 2: 1, 255: 255}[v]
		if l.Pix[i] != want {
			t.Fatalf("reduced pixel %d: %d -> %d, want %d", i, v, l.Pix[i], want)
		}
	}
	// Same name twice.
	evaltest.WriteImage(t, filepath.Join(images, "a.jpg"), 6, 4, 1)
	if _, err := eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: classes}); err == nil || !strings.Contains(err.Error(), "same name") {
		t.Errorf("a.png and a.jpg: %v", err)
	}
	// Empty image folder, missing class file.
	empty := t.TempDir()
	if _, err := eval.OpenFolder(eval.FolderOptions{Images: empty, Labels: labels, ClassFile: classes}); err == nil || !strings.Contains(err.Error(), "empty dataset") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: filepath.Join(dir, "nope.txt")}); err == nil || !strings.Contains(err.Error(), "nope.txt") {
		t.Errorf("missing class file: %v", err)
	}
}

// Layout names the split file of a listed benchmark, the per-city folders
// of Cityscapes, and nothing more for a folder-listed set.
func TestLayout(t *testing.T) {
	for name, want := range map[string]string{
		"voc21":      "JPEGImages/*.jpg, SegmentationClass/*.png, ImageSets/Segmentation/val.txt",
		"ade20k":     "images/validation/*.jpg, annotations/validation/*.png",
		"cityscapes": "leftImg8bit/val/*_leftImg8bit.png, gtFine/val/*_gtFine_labelTrainIds.png (one subfolder per city)",
	} {
		if got := eval.Layout(spec(t, name)); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// A file named just the image suffix (".jpg") has no ID: it is not listed.
func TestOpenIgnoresBareSuffixFile(t *testing.T) {
	root := t.TempDir()
	ids := evaltest.Benchmark(t, spec(t, "ade20k"), root, 2, 8, 8)
	evaltest.WriteImage(t, filepath.Join(root, "images/validation/.jpg"), 8, 8, 0)
	d, err := eval.Open("ade20k", root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range d.Samples {
		got = append(got, s.ID)
	}
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Errorf("IDs %q, want %q", got, want)
	}
}

// The class file of a folder dataset: up to 255 classes (255 is the ignore
// value), and with --background a background line and at least one class.
func TestOpenFolderClassCounts(t *testing.T) {
	dir := t.TempDir()
	images, labels := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
	evaltest.WriteImage(t, filepath.Join(images, "a.jpg"), 4, 4, 0)
	os.MkdirAll(labels, 0o755)
	classFile := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("class" + strconv.Itoa(i) + "\n")
		}
		p := filepath.Join(dir, "classes"+strconv.Itoa(n)+".txt")
		evaltest.WriteFile(t, p, []byte(b.String()))
		return p
	}
	for _, c := range []struct {
		n          int
		background bool
		ok         bool
	}{
		{255, false, true}, {256, false, false},
		{1, false, true}, {1, true, false}, {2, true, true},
	} {
		d, err := eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: classFile(c.n), Background: c.background})
		switch {
		case c.ok && (err != nil || d.Classes != c.n):
			t.Errorf("%d classes, background %v: %v", c.n, c.background, err)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "classes"+strconv.Itoa(c.n)+".txt")):
			t.Errorf("%d classes, background %v: got %v, want an error naming the class file", c.n, c.background, err)
		}
	}
}

// An empty folder dataset says why: no image in the folder, or a split
// file that lists none.
func TestOpenFolderEmptyMessages(t *testing.T) {
	dir := t.TempDir()
	images, labels := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
	os.MkdirAll(images, 0o755)
	os.MkdirAll(labels, 0o755)
	classes := filepath.Join(dir, "classes.txt")
	evaltest.WriteFile(t, classes, []byte("sky\ncat\n"))
	_, err := eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: classes})
	if err == nil || !strings.Contains(err.Error(), "no images") || !strings.Contains(err.Error(), images) || strings.Contains(err.Error(), "split") {
		t.Errorf("empty folder: %v", err)
	}
	split := filepath.Join(dir, "val.txt")
	evaltest.WriteFile(t, split, []byte("\n"))
	_, err = eval.OpenFolder(eval.FolderOptions{Images: images, Labels: labels, ClassFile: classes, Split: split})
	if err == nil || !strings.Contains(err.Error(), "split file "+split+" lists no images") {
		t.Errorf("empty split file: %v", err)
	}
}
