package eval_test

import (
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
	"github.com/freeseg/freeseg/imageio"
)

// predictFromPixels is the stand-in model of these tests: a class per pixel
// from the pixel's red value, so that each image gets its own prediction
// and the test can recompute it from the image file on its own.
func predictFromPixels(r uint8, classes int) int32 { return int32(int(r) % classes) }

// expectedConfusion decodes the images and labels written by evaltest with
// the standard library and counts (ground truth, prediction) pairs the way
// MMSeg does (255 ignored), independently of package eval.
func expectedConfusion(t *testing.T, s eval.Spec, root string, ids []string, zero bool) []int64 {
	t.Helper()
	C := s.Classes
	conf := make([]int64, C*C)
	for _, id := range ids {
		decode := func(p string) image.Image {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		img := decode(filepath.Join(root, s.ImageDir, filepath.FromSlash(id)+s.ImageSuffix))
		lab := decode(filepath.Join(root, s.LabelDir, filepath.FromSlash(id)+s.LabelSuffix)).(*image.Gray)
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				gt := lab.GrayAt(x, y).Y
				if gt == 255 {
					continue
				}
				r, _, _, _ := img.At(x, y).RGBA()
				p := predictFromPixels(uint8(r>>8), C)
				if zero {
					p = 0
				}
				conf[int(gt)*C+int(p)]++
			}
		}
	}
	return conf
}

func newRun(t *testing.T, ds *eval.Dataset, statePath string, zero bool) *eval.Run {
	t.Helper()
	st, err := eval.NewState(eval.Settings{Dataset: ds.Name, Classes: ds.Classes, ShardCount: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &eval.Run{
		Dataset: ds, State: st, Positions: ds.Shard(0, 1),
		Segment: func(_ context.Context, img *imageio.RGB) ([]int32, error) {
			pred := make([]int32, img.W*img.H)
			for i := range pred {
				if !zero {
					pred[i] = predictFromPixels(img.Pix[3*i], ds.Classes)
				}
			}
			return pred, nil
		},
		Save: func(s *eval.State) error { return s.Save(statePath) },
	}
}

// The loop counts what the model predicted: the confusion matrix equals
// one computed independently from the files, for a varied prediction and
// for an all-background one (a loop that scored something else, or always
// the ground truth, would fail one of the two).
func TestRunConfusionMatchesIndependentCount(t *testing.T) {
	s, err := eval.Lookup("cityscapes")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ids := evaltest.Benchmark(t, s, root, 3, 40, 24)
	ds, err := eval.Open(s.Name, root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, zero := range []bool{false, true} {
		r := newRun(t, ds, filepath.Join(t.TempDir(), eval.StateFile), zero)
		if err := r.Do(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := expectedConfusion(t, s, root, ids, zero)
		if !slices.Equal(r.State.Metric.Confusion, want) {
			t.Errorf("zero=%v: confusion differs from the independent count", zero)
		}
		if len(r.State.Done) != len(ids) || r.State.Metric.Images != int64(len(ids)) {
			t.Errorf("zero=%v: done %v, images %d", zero, r.State.Done, r.State.Metric.Images)
		}
	}
}

// Interrupted after the first image, saved, and resumed from the file: the
// same counts as a straight run, each image counted once.
func TestRunInterruptAndResume(t *testing.T) {
	s, err := eval.Lookup("cityscapes")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ids := evaltest.Benchmark(t, s, root, 4, 32, 20)
	ds, err := eval.Open(s.Name, root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), eval.StateFile)
	r := newRun(t, ds, path, false)
	ctx, cancel := context.WithCancel(context.Background())
	r.Progress = func(string, bool, float64) { cancel() }
	err = r.Do(ctx)
	if !errors.Is(err, eval.ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	saved, err := eval.LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.Done) != 1 {
		t.Fatalf("saved state holds %d images, want 1", len(saved.Done))
	}
	r2 := newRun(t, ds, path, false)
	r2.State = saved
	if err := r2.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := expectedConfusion(t, s, root, ids, false); !slices.Equal(saved.Metric.Confusion, want) {
		t.Error("resumed run differs from the independent count")
	}
	// Done follows the dataset's order (sorted paths for Cityscapes).
	if !slices.Equal(slices.Sorted(slices.Values(saved.Done)), slices.Sorted(slices.Values(ids))) {
		t.Errorf("done %v, want %v", saved.Done, ids)
	}
}

// A missing image is skipped and listed (and retried by a later run once it
// is there); with Strict it stops the run, naming the image.
func TestRunSkipsAndStrict(t *testing.T) {
	s, err := eval.Lookup("cityscapes")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ids := evaltest.Benchmark(t, s, root, 3, 32, 20)
	ds, err := eval.Open(s.Name, root, eval.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(root, s.ImageDir, filepath.FromSlash(ids[1])+s.ImageSuffix)
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), eval.StateFile)
	strict := newRun(t, ds, path, false)
	strict.Strict = true
	if err := strict.Do(context.Background()); err == nil || !strings.Contains(err.Error(), ids[1]) {
		t.Fatalf("strict: want an error naming %s, got %v", ids[1], err)
	}
	r := newRun(t, ds, path, false)
	if err := r.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.State.Skipped) != 1 || r.State.Skipped[0].ID != ids[1] || !strings.Contains(r.State.Skipped[0].Reason, "not found") {
		t.Fatalf("skipped %+v", r.State.Skipped)
	}
	// The file is back: a resumed run counts it and forgets the skip.
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.State.Skipped) != 0 || len(r.State.Done) != 3 {
		t.Fatalf("after retry: skipped %+v, done %v", r.State.Skipped, r.State.Done)
	}
	if want := expectedConfusion(t, s, root, ids, false); !slices.Equal(r.State.Metric.Confusion, want) {
		t.Error("counts after the retry differ from the independent count")
	}
}
