package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// MaxPixels is the refusal threshold: images of 20000×20000 pixels or more
// (width·height ≥ MaxPixels) are refused before any pixel is decoded.
const MaxPixels = 20000 * 20000

// maxFileBytes bounds how much of a stream Decode reads (1 GiB); a
// variable so that a test can lower it to a size it can reach.
var maxFileBytes int64 = 1 << 30

// Meta describes a decoded file.
type Meta struct {
	Format string // "png", "jpeg", "gif", "webp", "bmp" or "tiff"
	// Width and Height are the stored size, before any EXIF orientation.
	Width, Height int
	// Orientation is the EXIF Orientation tag (1..8) from a JPEG APP1, PNG
	// eXIf, WebP EXIF chunk or TIFF IFD0; 1 when absent or invalid. Decode
	// does not apply it (see ApplyOrientation).
	Orientation int
}

// Open reads and decodes the image file at path (see Decode).
func Open(path string) (*RGB, Meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("imageio: %w", err)
	}
	defer f.Close()
	return Decode(f, path)
}

// Decode reads a PNG, JPEG, GIF (first frame), WebP, BMP or TIFF image from
// r and converts it to 8-bit RGB the way Pillow's Image.open(...).convert
// ("RGB") does, since that is what the reference pipelines feed the
// network:
//
//   - alpha is dropped, not composited (RGBA, LA, and palette transparency
//     all keep the stored colour);
//   - 16-bit colour (RGB/RGBA/LA 16-bit PNG, TIFF) keeps the high byte of
//     each sample (Pillow's ";16B" unpackers);
//   - 16-bit greyscale (PNG, TIFF) is clipped, values above 255 becoming
//     255 (Pillow opens it as mode I / I;16, whose RGB conversion clips);
//   - CMYK (Adobe JPEG) uses Pillow's cmyk2rgb arithmetic;
//   - JPEG YCbCr uses libjpeg's fancy (triangle) chroma upsampling and its
//     fixed-point YCbCr→RGB tables, as libjpeg-turbo does for Pillow; the
//     IDCT is Go's, so pixels can differ from libjpeg-turbo's by a level or
//     two;
//   - lossy WebP uses libwebp's fancy upsampling and fixed-point
//     conversion;
//   - a GIF's first frame is placed on its logical screen, the rest filled
//     with the transparency index or, without one, index 0 (Pillow's first
//     frame), with colours from the file's own colour table.
//
// name is used in error messages only. Empty files, zero-size images and
// images of 20000×20000 pixels or more (MaxPixels) are refused with an
// error naming the file, the last before any pixel data is decoded.
func Decode(r io.Reader, name string) (*RGB, Meta, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, Meta{}, fmt.Errorf("imageio: reading %s: %w", name, err)
	}
	if int64(len(data)) > maxFileBytes {
		return nil, Meta{}, fmt.Errorf("imageio: %s: file larger than %d bytes", name, maxFileBytes)
	}
	return decodeBytes(data, name, MaxPixels)
}

// ErrTooLarge is wrapped by the error for images of MaxPixels or more.
var ErrTooLarge = errors.New("image too large")

// sniff names the format from the first bytes.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	}
	return ""
}

func decodeConfig(format string, r io.Reader) (image.Config, error) {
	switch format {
	case "png":
		return png.DecodeConfig(r)
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "gif":
		return gif.DecodeConfig(r)
	case "webp":
		return webp.DecodeConfig(r)
	case "bmp":
		return bmp.DecodeConfig(r)
	case "tiff":
		return tiff.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("unknown format %q", format)
}

func decodeImage(format string, r io.Reader) (image.Image, error) {
	switch format {
	case "png":
		return png.Decode(r)
	case "jpeg":
		return jpeg.Decode(r)
	case "gif":
		return gif.Decode(r)
	case "webp":
		return webp.Decode(r)
	case "bmp":
		return bmp.Decode(r)
	case "tiff":
		return tiff.Decode(r)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// decodeBytes is Decode on an in-memory file with an explicit pixel limit
// (the fuzz test uses a small one so that headers claiming huge sizes do not
// make the standard decoders allocate gigabytes).
func decodeBytes(data []byte, name string, maxPixels int64) (img *RGB, meta Meta, err error) {
	if len(data) == 0 {
		return nil, Meta{}, fmt.Errorf("imageio: %s: empty file", name)
	}
	format := sniff(data)
	if format == "" {
		return nil, Meta{}, fmt.Errorf("imageio: %s: not a PNG, JPEG, GIF, WebP, BMP or TIFF file", name)
	}
	meta.Format = format
	defer func() {
		// The decoders are not expected to panic on bad input, but a
		// corrupt file must never take the process down.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("imageio: %s: corrupt %s data (decoder panic: %v)", name, format, r)
		}
	}()
	cfg, err := decodeConfig(format, bytes.NewReader(data))
	if err != nil {
		return nil, meta, fmt.Errorf("imageio: %s: reading the %s header: %w", name, format, err)
	}
	meta.Width, meta.Height = cfg.Width, cfg.Height
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, meta, fmt.Errorf("imageio: %s: image has zero size (%dx%d)", name, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px >= maxPixels {
		return nil, meta, fmt.Errorf("imageio: %s: %w: %dx%d pixels (%.1f megapixels); images of %d pixels or more (20000x20000) are refused",
			name, ErrTooLarge, cfg.Width, cfg.Height, float64(px)/1e6, maxPixels)
	}
	meta.Orientation = 1
	if o := ParseEXIFOrientation(findEXIF(format, data)); o != 0 {
		meta.Orientation = o
	}
	m, err := decodeImage(format, bytes.NewReader(data))
	if err != nil {
		return nil, meta, fmt.Errorf("imageio: %s: decoding %s: %w", name, format, err)
	}
	var opt convOpts
	switch format {
	case "png":
		opt.grey16Clip = pngIsGrey16(data)
	case "webp":
		opt.webp = true
	case "gif":
		if p, ok := m.(*image.Paletted); ok {
			return gifFirstFrame(p, data, cfg), meta, nil
		}
	}
	img = toRGB(m, opt)
	if img.W != cfg.Width || img.H != cfg.Height {
		return nil, meta, fmt.Errorf("imageio: %s: decoded %dx%d pixels, header says %dx%d", name, img.W, img.H, cfg.Width, cfg.Height)
	}
	return img, meta, nil
}

// pngIsGrey16 reports a 16-bit greyscale PNG (IHDR colour type 0, depth 16),
// which Pillow opens as I;16 whatever the tRNS chunk says.
func pngIsGrey16(b []byte) bool {
	// signature(8) length(4) "IHDR"(4) width(4) height(4) depth(1) type(1)
	return len(b) >= 26 && string(b[12:16]) == "IHDR" && b[24] == 16 && b[25] == 0
}

// gifFirstFrame places the first frame on the logical screen as Pillow
// does, taking colours from the file's colour table (image/gif blanks the
// colour of the transparent index, Pillow keeps it).
func gifFirstFrame(p *image.Paletted, data []byte, cfg image.Config) *RGB {
	table, transparent := gifFirstColorTable(data)
	var pal [256][3]uint8
	for i := range pal {
		switch {
		case 3*i+2 < len(table):
			pal[i] = [3]uint8{table[3*i], table[3*i+1], table[3*i+2]}
		case i < len(p.Palette):
			pal[i] = paletteRGB(p.Palette[i])
		}
	}
	fill := uint8(0)
	if transparent >= 0 {
		fill = uint8(transparent)
	}
	out := NewRGB(cfg.Width, cfg.Height)
	for i := 0; i < cfg.Width*cfg.Height; i++ {
		copy(out.Pix[3*i:3*i+3], pal[fill][:])
	}
	r := p.Rect.Intersect(image.Rect(0, 0, cfg.Width, cfg.Height))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := pal[p.Pix[p.PixOffset(x, y)]]
			copy(out.Pix[3*(y*cfg.Width+x):], c[:])
		}
	}
	return out
}

// gifFirstColorTable returns the colour table that applies to the first
// image of a GIF (its local table, else the global one) and the transparent
// index of the graphic control extension before it (-1 if none). Bad
// structure just ends the walk.
func gifFirstColorTable(b []byte) (table []byte, transparent int) {
	transparent = -1
	if len(b) < 13 {
		return nil, -1
	}
	pos := 13
	if flags := b[10]; flags&0x80 != 0 {
		n := 3 << (1 + flags&7)
		if pos+n > len(b) {
			return nil, -1
		}
		table = b[pos : pos+n]
		pos += n
	}
	for pos < len(b) {
		switch b[pos] {
		case 0x21: // extension
			if pos+2 > len(b) {
				return table, transparent
			}
			label := b[pos+1]
			pos += 2
			first := true
			for pos < len(b) {
				n := int(b[pos])
				pos++
				if n == 0 {
					break
				}
				if pos+n > len(b) {
					return table, transparent
				}
				if label == 0xf9 && first && n >= 4 {
					if b[pos]&1 != 0 {
						transparent = int(b[pos+3])
					} else {
						transparent = -1
					}
				}
				first = false
				pos += n
			}
		case 0x2c: // image descriptor
			if pos+10 > len(b) {
				return table, transparent
			}
			if flags := b[pos+9]; flags&0x80 != 0 {
				n := 3 << (1 + flags&7)
				if pos+10+n <= len(b) {
					table = b[pos+10 : pos+10+n]
				}
			}
			return table, transparent
		default:
			return table, transparent
		}
	}
	return table, transparent
}
