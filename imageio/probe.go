package imageio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
)

// Header is what an image file's header says, read without decoding any
// pixel: enough to bound the memory a decode and the later stages need
// before spending it.
type Header struct {
	Format        string // as Meta.Format
	Width, Height int    // stored size
	// BytesPerPixel is the size of one pixel in the image the standard
	// decoder allocates (1 for grey or palette, 2 for 16-bit grey, 4 for
	// RGBA, 8 for 16-bit RGBA, 3 for YCbCr at worst).
	BytesPerPixel int
	FileSize      int64
}

// Pixels is Width·Height.
func (h Header) Pixels() int64 { return int64(h.Width) * int64(h.Height) }

// DecodeBytes is the memory Decode (or Open) needs at its peak for this
// file: the file's bytes, the decoder's image and the 8-bit RGB copy.
func (h Header) DecodeBytes() int64 {
	return h.FileSize + h.Pixels()*int64(h.BytesPerPixel+3)
}

// Probe reads the header of the image file at path: its format and size,
// reading no pixel data (the decoders' DecodeConfig). It refuses what Open
// would refuse before decoding (empty files, unknown formats, zero sizes,
// files over the read limit, MaxPixels), with an error naming the file.
func Probe(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Header{}, fmt.Errorf("imageio: %w", err)
	}
	if st.IsDir() {
		return Header{}, fmt.Errorf("imageio: %s is a folder", path)
	}
	h := Header{FileSize: st.Size()}
	if h.FileSize == 0 {
		return h, fmt.Errorf("imageio: %s: empty file", path)
	}
	if h.FileSize > maxFileBytes {
		return h, fmt.Errorf("imageio: %s: file larger than %d bytes", path, maxFileBytes)
	}
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return h, fmt.Errorf("imageio: reading %s: %w", path, err)
	}
	h.Format = sniff(head[:n])
	if h.Format == "" {
		return h, fmt.Errorf("imageio: %s: not a PNG, JPEG, GIF, WebP, BMP or TIFF file", path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return h, fmt.Errorf("imageio: reading %s: %w", path, err)
	}
	cfg, err := probeConfig(h.Format, f, path)
	if err != nil {
		return h, err
	}
	h.Width, h.Height = cfg.Width, cfg.Height
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return h, fmt.Errorf("imageio: %s: image has zero size (%dx%d)", path, cfg.Width, cfg.Height)
	}
	if px := h.Pixels(); px >= MaxPixels {
		return h, fmt.Errorf("imageio: %s: %w: %dx%d pixels (%.1f megapixels); images of %d pixels or more (20000x20000) are refused",
			path, ErrTooLarge, cfg.Width, cfg.Height, float64(px)/1e6, int64(MaxPixels))
	}
	h.BytesPerPixel = bytesPerPixel(cfg.ColorModel)
	return h, nil
}

// probeConfig is decodeConfig that turns a decoder panic into an error.
// The file is read through a ReaderAt-capable *os.File (TIFF reads its IFD
// at an offset instead of buffering the file).
func probeConfig(format string, f *os.File, path string) (cfg image.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("imageio: %s: corrupt %s header (decoder panic: %v)", path, format, r)
		}
	}()
	var r io.Reader = f
	if format != "tiff" {
		// The header is at the start; a limit keeps a malformed file from
		// being read to its end.
		r = io.LimitReader(f, 64<<20)
	}
	cfg, err = decodeConfig(format, r)
	if err != nil {
		return cfg, fmt.Errorf("imageio: %s: reading the %s header: %w", path, format, err)
	}
	return cfg, nil
}

// bytesPerPixel is the pixel size of the image a decoder allocates for a
// colour model (4, the common case, when unknown).
func bytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.YCbCrModel:
		return 3
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// FitLongSide is the size of a w×h image scaled down so that its long side
// is at most maxSide (0 = no limit), keeping the ratio; no side becomes
// smaller than one pixel.
func FitLongSide(w, h, maxSide int) (int, int) {
	long := max(w, h)
	if maxSide <= 0 || long <= maxSide {
		return w, h
	}
	s := float64(maxSide) / float64(long)
	return max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
}
