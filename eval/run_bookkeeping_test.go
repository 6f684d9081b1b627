package eval_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
	"github.com/freeseg/freeseg/imageio"
)

// withEXIFOrientation inserts an eXIf chunk holding the EXIF orientation o
// (a big-endian TIFF header and one IFD0 entry, tag 0x0112) right after the
// IHDR chunk of a PNG.
func withEXIFOrientation(t *testing.T, png []byte, o uint16) []byte {
	t.Helper()
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a\x00\x00\x00\x08")        // header, IFD0 at 8
	binary.Write(&tiff, binary.BigEndian, uint16(1))      // one entry
	binary.Write(&tiff, binary.BigEndian, uint16(0x0112)) // Orientation
	binary.Write(&tiff, binary.BigEndian, uint16(3))      // SHORT
	binary.Write(&tiff, binary.BigEndian, uint32(1))      // one value
	binary.Write(&tiff, binary.BigEndian, o)
	tiff.Write([]byte{0, 0})                         // value padding
	binary.Write(&tiff, binary.BigEndian, uint32(0)) // no next IFD
	var chunk bytes.Buffer
	binary.Write(&chunk, binary.BigEndian, uint32(tiff.Len()))
	chunk.WriteString("eXIf")
	chunk.Write(tiff.Bytes())
	binary.Write(&chunk, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("eXIf"), tiff.Bytes()...)))
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(png) < ihdrEnd || string(png[12:16]) != "IHDR" {
		t.Fatal("not a PNG with an IHDR chunk first")
	}
	return slices.Concat(png[:ihdrEnd], chunk.Bytes(), png[ihdrEnd:])
}

// One run over three images, the second with an EXIF orientation of 6:
// only that one is listed as oriented (the others read as orientation 1);
// Overlays 1 draws the first image only; SaveEvery 0 saves after every
// image and at the end, an hour saves only at the end.
func TestRunBookkeeping(t *testing.T) {
	s, err := eval.Lookup("cityscapes")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	evaltest.Benchmark(t, s, root, 3, 16, 8)
	ds, err := eval.Open(s.Name, root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rotated := ds.Samples[1]
	data, err := os.ReadFile(rotated.Image)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rotated.Image, withEXIFOrientation(t, data, 6), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, meta, err := imageio.Open(rotated.Image); err != nil || meta.Orientation != 6 {
		t.Fatalf("test image: orientation %v, %v; want 6", meta.Orientation, err)
	}

	for _, c := range []struct {
		every time.Duration
		saves int
	}{{0, 4}, {time.Hour, 1}} {
		report := t.TempDir()
		r := newRun(t, ds, filepath.Join(report, eval.StateFile), false)
		saves := 0
		r.Save = func(*eval.State) error { saves++; return nil }
		r.SaveEvery = c.every
		r.Overlays, r.ReportDir, r.ClassNames = 1, report, make([]string, s.Classes)
		if err := r.Do(context.Background()); err != nil {
			t.Fatal(err)
		}
		if saves != c.saves {
			t.Errorf("SaveEvery %v: saved %d times for 3 images, want %d", c.every, saves, c.saves)
		}
		if !slices.Equal(r.State.Oriented, []string{rotated.ID}) {
			t.Errorf("oriented images %q, want only %q", r.State.Oriented, rotated.ID)
		}
		ov := r.State.Overlays
		if len(ov) != 1 || ov[0].Index != 0 || ov[0].ID != ds.Samples[0].ID {
			t.Fatalf("overlays %+v, want one, of the first image", ov)
		}
		files, err := os.ReadDir(filepath.Join(report, "overlays"))
		if err != nil || len(files) != 1 || "overlays/"+files[0].Name() != ov[0].File {
			t.Errorf("overlay files %v (%v), want only %s", files, err, ov[0].File)
		}
	}
}

// A run stopped by an error saves its state first; when that save fails
// too, the error says both, and only then.
func TestRunErrorAndSaveFailure(t *testing.T) {
	s, err := eval.Lookup("cityscapes")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	evaltest.Benchmark(t, s, root, 1, 8, 4)
	ds, err := eval.Open(s.Name, root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, saveErr := range []error{nil, errors.New("disk full")} {
		r := newRun(t, ds, filepath.Join(t.TempDir(), eval.StateFile), false)
		saves := 0
		r.Save = func(*eval.State) error { saves++; return saveErr }
		r.Segment = func(context.Context, *imageio.RGB) ([]int32, error) { return nil, errors.New("model broke") }
		err := r.Do(context.Background())
		if err == nil || !strings.Contains(err.Error(), "model broke") || saves != 1 {
			t.Fatalf("save error %v: got %v after %d saves, want the model's error after one save", saveErr, err, saves)
		}
		if mentions := strings.Contains(err.Error(), "saving the state failed"); mentions != (saveErr != nil) {
			t.Errorf("save error %v: %q", saveErr, err)
		}
		if saveErr != nil && !strings.Contains(err.Error(), "disk full") {
			t.Errorf("the save error is not named: %q", err)
		}
	}
}

// The picture of an image: prediction overlay on the left, ground truth
// on the right after an 8-pixel white gap, and a legend of exactly the
// classes in either (out-of-range predictions and labels, and the ignore
// value, are not classes).
func TestOverlayImageLayout(t *testing.T) {
	img := imageio.NewRGB(3, 2)
	for i := range img.Pix {
		img.Pix[i] = uint8(10 + 7*i)
	}
	names := []string{"a", "b", "c", "d"}
	pred := []int32{0, 0, -1, 4, 0, 0} // class 0 only predicted
	gt := &eval.LabelMap{W: 3, H: 2, Pix: []uint8{2, 255, 2, 4, 2, 2}}
	got := eval.OverlayImage(img, pred, gt, names)

	pal := imageio.Palette(len(names))
	left := imageio.Overlay(img, pred, pal, 0.5)
	right := imageio.Overlay(img, gt.Pix, pal, 0.5)
	const W = 3 + 8 + 3
	canvas := imageio.NewRGB(W, 2)
	for y := 0; y < 2; y++ {
		for x := 0; x < W; x++ {
			px := []uint8{255, 255, 255}
			switch {
			case x < 3:
				px = left.Pix[3*(y*3+x) : 3*(y*3+x)+3]
			case x >= 11:
				px = right.Pix[3*(y*3+x-11) : 3*(y*3+x-11)+3]
			}
			copy(canvas.Pix[3*(y*W+x):], px)
		}
	}
	want := imageio.DrawLegend(canvas, []string{"a", "c"}, [][3]uint8{pal[0], pal[2]})
	if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
		t.Fatalf("overlay %dx%d differs from the expected %dx%d layout", got.W, got.H, want.W, want.H)
	}
	// The ignored ground-truth pixel (1,0) is the photo's, uncoloured.
	if p := got.Pix[3*(0*W+11+1) : 3*(0*W+11+1)+3]; !bytes.Equal(p, img.Pix[3:6]) {
		t.Errorf("ignored pixel %v, want the photo's %v", p, img.Pix[3:6])
	}
}

// Merging two shard folders into a new folder writes the merged state and
// the report.
func TestMergeReportIntoNewFolder(t *testing.T) {
	dir := t.TempDir()
	a := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
	b := shardState(t, 1, []string{"i1", "i3"}, [][]int32{{1, 1}, {0, 0}}, [][]uint8{{1, 0}, {0, 255}})
	var dirs []string
	for i, st := range []*eval.State{a, b} {
		d := filepath.Join(dir, "shard"+string(rune('0'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := st.Save(filepath.Join(d, eval.StateFile)); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	out := filepath.Join(dir, "merged")
	rep, err := eval.MergeReport(out, dirs, 0, "v")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Evaluated != 4 || rep.Shards != "0,1/2" {
		t.Errorf("merged report: complete %v, %d evaluated, shards %q", rep.Complete, rep.Evaluated, rep.Shards)
	}
	for _, f := range []string{eval.StateFile, "report.json", "report.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("merged folder: %v", err)
		}
	}
}
