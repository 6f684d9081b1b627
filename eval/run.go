package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/freeseg/freeseg/imageio"
)

// SegmentFunc labels every pixel of an image with a class index of the
// dataset (the prediction, [H·W], at the image's size). Package eval calls
// it and never sees the model: the caller binds an engine and its options.
type SegmentFunc func(ctx context.Context, img *imageio.RGB) ([]int32, error)

// Loaded is one sample read from disk, ready to be segmented and scored.
type Loaded struct {
	Image       *imageio.RGB
	Orientation int // the EXIF orientation tag (1 or 0 = none); not applied
	Label       *LabelMap
}

// LoadSample reads the image and the label of s. A file that is missing or
// cannot be decoded gives a reason to skip the sample (and a nil error);
// an error stops the run: a label value that cannot be right, or a label
// whose size differs from its image's.
func (d *Dataset) LoadSample(s Sample) (l *Loaded, skip string, err error) {
	rgb, meta, err := imageio.Open(s.Image)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "image " + s.Image + " not found", nil
		}
		return nil, "unreadable image: " + err.Error(), nil
	}
	gt, err := d.LoadLabel(s)
	if err != nil {
		var se *SkipError
		if errors.As(err, &se) {
			return nil, se.Reason, nil
		}
		return nil, "", err
	}
	if gt.W != rgb.W || gt.H != rgb.H {
		return nil, "", fmt.Errorf("%s: label %s is %dx%d but image %s is %dx%d", s.ID, s.Label, gt.W, gt.H, s.Image, rgb.W, rgb.H)
	}
	return &Loaded{Image: rgb, Orientation: meta.Orientation, Label: gt}, "", nil
}

// ErrInterrupted is returned by Run when its context is cancelled between
// two images; the state is saved first, so the run can be resumed.
var ErrInterrupted = errors.New("interrupted")

// Run is the evaluation loop shared by every front end (freeseg eval, the
// Beam pipeline): for each sample position of ds in Positions, skip it when
// State already counts it, else load it, segment it and add it to
// State.Metric. Missing or unreadable files are recorded in State.Skipped
// (an error with Strict); a skipped sample of an earlier run is retried.
// The state is saved through Save at most every SaveEvery and at the end,
// and also when the run stops on an error or is interrupted.
type Run struct {
	Dataset   *Dataset
	State     *State
	Positions []int // indices into Dataset.Samples, in evaluation order
	Segment   SegmentFunc
	Strict    bool

	// Overlays is how many of the first positions get a prediction |
	// ground-truth picture, written under ReportDir/overlays/ and listed
	// in State.Overlays; ClassNames label their legend.
	Overlays   int
	ReportDir  string
	ClassNames []string

	Save      func(*State) error
	SaveEvery time.Duration
	// Progress, when set, is told of each position: its ID, whether it was
	// evaluated now (not done before, not skipped) and how long it took.
	Progress func(id string, evaluated bool, seconds float64)
}

// Do runs the loop. A cancelled ctx stops it between images with
// ErrInterrupted (wrapped with how far it got), after saving.
func (r *Run) Do(ctx context.Context) error {
	st := r.State
	done := make(map[string]bool, len(st.Done))
	for _, id := range st.Done {
		done[id] = true
	}
	progress := r.Progress
	if progress == nil {
		progress = func(string, bool, float64) {}
	}
	save := func() error {
		if r.Save == nil {
			return nil
		}
		return r.Save(st)
	}
	fail := func(err error) error {
		if serr := save(); serr != nil {
			return fmt.Errorf("%w (and saving the state failed: %v)", err, serr)
		}
		return err
	}
	lastSave := time.Now()
	for n, k := range r.Positions {
		if ctx.Err() != nil {
			if err := save(); err != nil {
				return err
			}
			return fmt.Errorf("%w after %d of %d images; the run is saved: continue with --resume", ErrInterrupted, len(st.Done), len(r.Positions))
		}
		s := r.Dataset.Samples[k]
		if done[s.ID] {
			progress(s.ID, false, 0)
			continue
		}
		// Retried: the file may be there now.
		st.Skipped = slices.DeleteFunc(st.Skipped, func(x Skip) bool { return x.ID == s.ID })
		start := time.Now()
		l, skip, err := r.Dataset.LoadSample(s)
		if err != nil {
			return fail(err)
		}
		if skip != "" {
			if r.Strict {
				return fail(fmt.Errorf("%s: %s (--strict)", s.ID, skip))
			}
			st.Skipped = append(st.Skipped, Skip{ID: s.ID, Reason: skip})
			progress(s.ID, false, 0)
			continue
		}
		pred, err := r.Segment(ctx, l.Image)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", s.Image, err))
		}
		if err := st.Metric.Add(pred, l.Image.W, l.Image.H, l.Label); err != nil {
			return fail(fmt.Errorf("%s: %w", s.ID, err))
		}
		secs := time.Since(start).Seconds()
		st.Done = append(st.Done, s.ID)
		done[s.ID] = true
		st.Seconds += secs
		if l.Orientation > 1 {
			st.Oriented = append(st.Oriented, s.ID)
		}
		if n < r.Overlays && r.ReportDir != "" {
			if err := r.writeOverlay(k, s, l, pred); err != nil {
				return fail(err)
			}
		}
		progress(s.ID, true, secs)
		if time.Since(lastSave) >= r.SaveEvery {
			if err := save(); err != nil {
				return err
			}
			lastSave = time.Now()
		}
	}
	return save()
}

func (r *Run) writeOverlay(k int, s Sample, l *Loaded, pred []int32) error {
	rel := filepath.Join("overlays", fmt.Sprintf("%05d-%s.png", k, FileName(s.ID)))
	if err := os.MkdirAll(filepath.Join(r.ReportDir, "overlays"), 0o755); err != nil {
		return err
	}
	ov := OverlayImage(l.Image, pred, l.Label, r.ClassNames)
	if err := imageio.WriteFileAtomic(filepath.Join(r.ReportDir, rel), func(w io.Writer) error { return imageio.EncodePNG(w, ov) }); err != nil {
		return err
	}
	st := r.State
	st.Overlays = slices.DeleteFunc(st.Overlays, func(o Overlay) bool { return o.Index == k })
	st.Overlays = append(st.Overlays, Overlay{Index: k, ID: s.ID, File: filepath.ToSlash(rel)})
	return nil
}

// FileName makes an image ID usable as a file name.
func FileName(id string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, id)
}

// OverlayImage puts the prediction (left) and the ground truth (right, its
// ignored pixels uncoloured) on the photo side by side, with a legend of
// the classes in either.
func OverlayImage(img *imageio.RGB, pred []int32, gt *LabelMap, names []string) *imageio.RGB {
	C := len(names)
	pal := imageio.Palette(C)
	left := imageio.Overlay(img, pred, pal, 0.5)
	right := imageio.Overlay(img, gt.Pix, pal, 0.5)
	const gap = 8
	W := 2*img.W + gap
	canvas := imageio.NewRGB(W, img.H)
	for i := range canvas.Pix {
		canvas.Pix[i] = 255
	}
	for y := 0; y < img.H; y++ {
		copy(canvas.Pix[3*y*W:], left.Pix[3*y*img.W:3*(y+1)*img.W])
		copy(canvas.Pix[3*(y*W+img.W+gap):], right.Pix[3*y*img.W:3*(y+1)*img.W])
	}
	present := make([]bool, C)
	for _, p := range pred {
		if p >= 0 && int(p) < C {
			present[p] = true
		}
	}
	for _, g := range gt.Pix {
		if g != Ignore && int(g) < C {
			present[g] = true
		}
	}
	var ln []string
	var lc [][3]uint8
	for c := 0; c < C; c++ {
		if present[c] {
			ln = append(ln, names[c])
			lc = append(lc, pal[c])
		}
	}
	return withLegend(canvas, ln, lc) // legend.go: enlarged on large images
}

// WriteReport writes report.json (indented, HTML characters unescaped) and
// report.md of st into dir.
func WriteReport(dir string, st *State, version string) (*Report, error) {
	rep := BuildReport(st, version)
	if err := imageio.WriteFileAtomic(filepath.Join(dir, "report.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}); err != nil {
		return nil, err
	}
	if err := imageio.WriteFileAtomic(filepath.Join(dir, "report.md"), rep.WriteMarkdown); err != nil {
		return nil, err
	}
	return rep, nil
}

// MergeReport merges the shards' report folders dirs into out (MergeDirs,
// keeping the overlays of the first keep images) and writes its report
// (WriteReport), as freeseg eval merge does.
func MergeReport(out string, dirs []string, keep int, version string) (*Report, error) {
	merged, err := MergeDirs(out, dirs, keep)
	if err != nil {
		return nil, fmt.Errorf("eval merge: %w", err)
	}
	return WriteReport(out, merged, version)
}

// MergeDirs merges the saved runs of the shards in dirs (report folders)
// into out: out/state.json and the overlays of the first keep images of the
// list. out must not be one of dirs.
func MergeDirs(out string, dirs []string, keep int) (*State, error) {
	outAbs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	var states []*State
	for _, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, err
		}
		if a == outAbs {
			return nil, fmt.Errorf("the output folder %s is one of the inputs; write the merged report to a new folder", out)
		}
		st, err := LoadState(filepath.Join(d, StateFile))
		if err != nil {
			return nil, err
		}
		states = append(states, st)
	}
	merged, err := Merge(states, dirs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(out, "overlays"), 0o755); err != nil {
		return nil, err
	}
	type src struct {
		o   Overlay
		dir string
	}
	var ovs []src
	for i, st := range states {
		for _, o := range st.Overlays {
			ovs = append(ovs, src{o, dirs[i]})
		}
	}
	slices.SortStableFunc(ovs, func(a, b src) int { return a.o.Index - b.o.Index })
	merged.Overlays = nil
	for _, v := range ovs {
		if len(merged.Overlays) == keep {
			break
		}
		b, err := os.ReadFile(filepath.Join(v.dir, filepath.FromSlash(v.o.File)))
		if err != nil {
			continue // an overlay illustrates; it is not a result
		}
		dst := filepath.Join(out, filepath.FromSlash(v.o.File))
		if err := imageio.WriteFileAtomic(dst, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return nil, err
		}
		merged.Overlays = append(merged.Overlays, v.o)
	}
	if err := merged.Save(filepath.Join(out, StateFile)); err != nil {
		return nil, err
	}
	return merged, nil
}
