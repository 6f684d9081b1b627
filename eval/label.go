package eval

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
)

// Ignore is the label value that is never scored (MMSeg's ignore_index).
const Ignore = 255

// MaxLabelPixels bounds the size of a label map: PNG headers claiming
// width·height above it are refused before any pixel is decoded.
var MaxLabelPixels = 20000 * 20000

// maxLabelBytes bounds how much of a label file is read.
var maxLabelBytes = 1 << 30 // a variable so that a test can lower it

// LabelMap is a ground-truth map of class indices, row-major, with
// [Ignore] for pixels that are not scored.
type LabelMap struct {
	Name string // file name, for error messages
	W, H int
	Pix  []uint8
}

// FormatError reports a label file that is a valid image but cannot be a
// label map (colour PNG, 16-bit values above 255, another format). It is
// not a reason to skip an image: the whole label folder is probably wrong.
type FormatError struct {
	Name string
	Msg  string
}

func (e *FormatError) Error() string { return e.Name + ": " + e.Msg }

// CorruptError reports a label file that could not be decoded (truncated or
// damaged PNG). The evaluator skips such images unless told to be strict.
type CorruptError struct {
	Name string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s: unreadable label PNG: %v", e.Name, e.Err)
}
func (e *CorruptError) Unwrap() error { return e.Err }

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// PNG colour types (IHDR byte 9).
const (
	ctGrey      = 0
	ctRGB       = 2
	ctPalette   = 3
	ctGreyAlpha = 4
	ctRGBA      = 6
)

// ReadLabelFile reads a label PNG (see [ReadLabel]).
func ReadLabelFile(path string) (*LabelMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadLabel(f, path)
}

// ReadLabel decodes a label PNG as raw indices, the way MMSeg's
// LoadAnnotations reads it (Pillow, flag 'unchanged'):
//
//   - a palette PNG gives its palette indices (the colours are ignored);
//   - an 8-bit (or 2- and 4-bit) greyscale PNG gives its grey values, as
//     Pillow scales them (2-bit values ×85, 4-bit ×17);
//   - a 1-bit greyscale PNG gives 0 and 1 (Pillow's mode "1");
//   - a 16-bit greyscale PNG is accepted only when every value is at most
//     255 (Pillow would wrap larger values modulo 256 without a word);
//   - a transparency chunk (tRNS) is ignored.
//
// Colour (RGB, RGBA) and grey+alpha PNGs, and other formats, are refused
// with a *FormatError; a damaged PNG gives a *CorruptError. name is used in
// messages.
func ReadLabel(r io.Reader, name string) (*LabelMap, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(maxLabelBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxLabelBytes {
		return nil, &FormatError{name, fmt.Sprintf("file larger than %d bytes", maxLabelBytes)}
	}
	if !bytes.HasPrefix(data, pngSignature) {
		if len(data) == 0 {
			return nil, &CorruptError{name, errors.New("empty file")}
		}
		return nil, &FormatError{name, "not a PNG file (label maps must be palette or greyscale PNGs)"}
	}
	// IHDR: length(4) "IHDR"(4) width(4) height(4) depth(1) colour type(1).
	if len(data) < 8+8+13 || string(data[12:16]) != "IHDR" {
		return nil, &CorruptError{name, errors.New("no IHDR chunk")}
	}
	depth, ctype := data[24], data[25]
	switch ctype {
	case ctGrey, ctPalette:
	case ctRGB, ctRGBA:
		return nil, &FormatError{name, "colour PNG; label maps must hold class indices as a palette or greyscale PNG (convert colours to indices first)"}
	case ctGreyAlpha:
		return nil, &FormatError{name, "greyscale PNG with an alpha channel; label maps must be plain palette or greyscale PNGs"}
	default:
		return nil, &CorruptError{name, fmt.Errorf("unknown PNG colour type %d", ctype)}
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, &CorruptError{name, err}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, &CorruptError{name, fmt.Errorf("empty %dx%d image", cfg.Width, cfg.Height)}
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(MaxLabelPixels) {
		return nil, &FormatError{name, fmt.Sprintf("%dx%d pixels is more than the limit of %d", cfg.Width, cfg.Height, MaxLabelPixels)}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, &CorruptError{name, err}
	}
	b := img.Bounds()
	W, H := b.Dx(), b.Dy()
	out := &LabelMap{Name: name, W: W, H: H, Pix: make([]uint8, W*H)}
	switch m := img.(type) {
	case *image.Paletted:
		for y := 0; y < H; y++ {
			copy(out.Pix[y*W:(y+1)*W], m.Pix[y*m.Stride:y*m.Stride+W])
		}
	case *image.Gray:
		for y := 0; y < H; y++ {
			copy(out.Pix[y*W:(y+1)*W], m.Pix[y*m.Stride:y*m.Stride+W])
		}
	case *image.NRGBA: // greyscale with tRNS: R = G = B = the grey value
		for y := 0; y < H; y++ {
			row := m.Pix[y*m.Stride:]
			for x := 0; x < W; x++ {
				out.Pix[y*W+x] = row[4*x]
			}
		}
	case *image.Gray16:
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				i := y*m.Stride + 2*x
				v := int(m.Pix[i])<<8 | int(m.Pix[i+1])
				if v > 255 {
					return nil, &FormatError{name, fmt.Sprintf("16-bit greyscale value %d at pixel (%d,%d) does not fit a label index (0..255)", v, x, y)}
				}
				out.Pix[y*W+x] = uint8(v)
			}
		}
	case *image.NRGBA64: // 16-bit greyscale with tRNS
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				i := y*m.Stride + 8*x
				v := int(m.Pix[i])<<8 | int(m.Pix[i+1])
				if v > 255 {
					return nil, &FormatError{name, fmt.Sprintf("16-bit greyscale value %d at pixel (%d,%d) does not fit a label index (0..255)", v, x, y)}
				}
				out.Pix[y*W+x] = uint8(v)
			}
		}
	default:
		return nil, &FormatError{name, fmt.Sprintf("unsupported PNG pixel type %T for a label map", img)}
	}
	if ctype == ctGrey && depth == 1 {
		// Go scales 1-bit grey to 0/255; Pillow's mode "1" reads 0/1.
		for i, v := range out.Pix {
			if v != 0 {
				out.Pix[i] = 1
			}
		}
	}
	return out, nil
}

// ReduceZeroLabel applies MMSeg's reduce_zero_label in place:
// gt[gt==0] = 255; gt = gt-1; gt[gt==254] = 255. So 0 and 255 become 255
// (ignored) and every other value k becomes k-1.
func (l *LabelMap) ReduceZeroLabel() {
	for i, v := range l.Pix {
		if v == 0 {
			v = 255
		}
		v--
		if v == 254 {
			v = 255
		}
		l.Pix[i] = v
	}
}

// Check verifies that every value is a class index in [0, classes) or
// [Ignore], naming the file, the value and its first pixel otherwise.
func (l *LabelMap) Check(classes int) error {
	if len(l.Pix) != l.W*l.H {
		return fmt.Errorf("%s: %d values for %dx%d pixels", l.Name, len(l.Pix), l.W, l.H)
	}
	for i, v := range l.Pix {
		if int(v) >= classes && v != Ignore {
			n := 0
			for _, u := range l.Pix {
				if u == v {
					n++
				}
			}
			return &RangeError{Name: l.Name, Value: int(v), X: i % l.W, Y: i / l.W, Count: n, Classes: classes}
		}
	}
	return nil
}

// RangeError reports a label value that is neither a class nor [Ignore].
type RangeError struct {
	Name    string
	Value   int
	X, Y    int // first pixel with the value
	Count   int // pixels with the value
	Classes int
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%s: label value %d (first at pixel (%d,%d), %d pixels) is not a class index 0..%d nor the ignore index %d; wrong dataset, or reduce_zero_label not applied?",
		e.Name, e.Value, e.X, e.Y, e.Count, e.Classes-1, Ignore)
}
