package batch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
)

// ImageExts are the file types expanded from a folder argument.
var ImageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".bmp": true, ".tif": true, ".tiff": true}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// LoadImage decodes an image and applies its EXIF orientation unless told
// not to (parity with the reference pipelines, which ignore EXIF).
func LoadImage(path string, exif bool) (*imageio.RGB, error) {
	img, meta, err := imageio.Open(path)
	if err != nil {
		return nil, err
	}
	if exif && meta.Orientation > 1 {
		img = imageio.ApplyOrientation(img, meta.Orientation)
	}
	return img, nil
}

// WriteFile writes atomically after checking the guard.
func (g Guard) WriteFile(path string, write func(io.Writer) error) error {
	if err := g.Check(path); err != nil {
		return err
	}
	return imageio.WriteFileAtomic(path, write)
}

// Loaded is one image Prefetch decoded, or the error that stopped it.
type Loaded struct {
	Img *imageio.RGB
	Err error
}

// Prefetch decodes the images in order, one ahead of the consumer,
// so that decoding the next photo overlaps the inference of the current
// one; a failed image is passed on with its error and the next one
// follows. Images are scaled down to maxSide (0 = off) after decoding.
// Closing done stops it.
func Prefetch(ins []Input, exif bool, maxSide int, done <-chan struct{}) <-chan Loaded {
	ch := make(chan Loaded, 1)
	go func() {
		defer close(ch)
		for _, in := range ins {
			img, err := LoadImageMax(in.Path, exif, maxSide)
			select {
			case ch <- Loaded{img, err}:
			case <-done:
				return
			}
		}
	}()
	return ch
}

// LoadImageMax is loadImage followed by a scaling down to maxSide.
func LoadImageMax(path string, exif bool, maxSide int) (*imageio.RGB, error) {
	img, err := LoadImage(path, exif)
	if err != nil {
		return nil, err
	}
	if w, h := imageio.FitLongSide(img.W, img.H, maxSide); w != img.W || h != img.H {
		img = imageio.ResizePIL(img, w, h, imageio.Bicubic)
	}
	return img, nil
}

// SegmentSuffixes are the outputs segment writes per image.
var SegmentSuffixes = []string{".labels.png", ".overlay.png", ".json"}

// PlanSegment checks one image from its header before any work: the
// network input it gives (a warning when the long-side cap shrinks it) and
// the memory of the whole run on it against limit.
func PlanSegment(in *Input, names, classes int, o freeseg.Options, maxSide int, exif, tensors bool, limit int64, why string) (string, error) {
	h, err := imageio.Probe(in.Path)
	if err != nil {
		return "", err
	}
	in.Header = h
	w, hh := imageio.FitLongSide(h.Width, h.Height, maxSide)
	iw, ih := w, hh
	warn := ""
	switch o.Resize.Mode {
	case freeseg.ResizeShort:
		iw, ih = imageio.KeepRatioSize(w, hh, o.Resize.Size, o.Resize.MaxLong)
		need := (max(w, hh)*o.Resize.Size + min(w, hh) - 1) / min(w, hh)
		if iw < 1 || ih < 1 {
			return "", fmt.Errorf("%s: %dx%d would be resized to %dx%d (short side %d, long side at most %d): give --max-long %d, or --square",
				in.Path, w, hh, iw, ih, o.Resize.Size, o.Resize.MaxLong, need)
		}
		if short := min(iw, ih); short < o.Resize.Size {
			warn = fmt.Sprintf("%s: %dx%d is resized to %dx%d: the long side is capped at %d, so the short side is %d pixels, not %d",
				in.Path, w, hh, iw, ih, o.Resize.MaxLong, short, o.Resize.Size)
			if c := o.Window.Crop; !o.Whole && short < c {
				warn += fmt.Sprintf(", smaller than the %d crop", c)
			}
			warn += fmt.Sprintf("; --max-long %d keeps the short side", need)
		}
	case freeseg.ResizeSquare:
		iw, ih = o.Resize.Size, o.Resize.Size
	}
	in.InW, in.InH = iw, ih
	if c := o.Window.Crop; !o.Whole && c > iw && c > ih {
		return "", fmt.Errorf("%s: crop %d is larger than the %dx%d network input; use --whole or a smaller --crop", in.Path, c, iw, ih)
	}
	st := SegmentMemory(h, w, hh, iw, ih, names, classes, o, exif, tensors)
	if pk := Peak(st); pk.Bytes > limit {
		msg := fmt.Sprintf("%s: %dx%d pixels (%.1f megapixels, from the header) need about %s at the %s stage (%d names, %d classes), more than the limit of %s (%s)",
			in.Path, h.Width, h.Height, float64(h.Pixels())/1e6, FormatBytes(pk.Bytes), pk.Name, names, classes, FormatBytes(limit), why)
		if st[0].Bytes > limit {
			msg += "; the file cannot be decoded within it"
		} else {
			msg += fmt.Sprintf("; scale it down first with --max-side %d, or use fewer classes", SuggestMaxSide(w, hh, pk.Bytes, limit))
		}
		return "", errors.New(msg)
	}
	return warn, nil
}

// CheckOutDir refuses an output folder that is a file or cannot be
// created or written, before any work: the nearest existing folder must
// take a new file.
func CheckOutDir(dir string) error {
	if dir == "" {
		return freeseg.Usagef("--out DIR is required")
	}
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return fmt.Errorf("output folder %s is a file", dir)
				}
				return fmt.Errorf("output folder %s: %s is a file", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output folder %s: %w", dir, err)
		}
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
	}
	f, err := os.CreateTemp(d, ".freeseg-write-test*")
	if err != nil {
		return fmt.Errorf("output folder %s cannot be written: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
