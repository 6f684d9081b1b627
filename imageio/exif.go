package imageio

import (
	"bytes"
	"encoding/binary"
)

var exifPrefix = []byte("Exif\x00\x00")

// findEXIF returns the TIFF-structured EXIF block of a file (starting at
// its "II"/"MM" byte-order mark, or with the "Exif\0\0" prefix some writers
// keep), or nil. Every offset is bounds-checked.
func findEXIF(format string, b []byte) []byte {
	switch format {
	case "jpeg":
		return jpegEXIF(b)
	case "png":
		return pngEXIF(b)
	case "webp":
		return webpEXIF(b)
	case "tiff":
		return b
	}
	return nil
}

// jpegEXIF walks the marker segments up to the first scan and returns the
// first APP1 segment that starts with "Exif\0\0".
func jpegEXIF(b []byte) []byte {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil
	}
	pos := 2
	for pos+1 < len(b) {
		if b[pos] != 0xff {
			return nil
		}
		// Fill bytes: any number of 0xFF may precede a marker.
		for pos+1 < len(b) && b[pos+1] == 0xff {
			pos++
		}
		if pos+1 >= len(b) {
			return nil
		}
		marker := b[pos+1]
		pos += 2
		switch {
		case marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7):
			continue // stand-alone markers
		case marker == 0xd9 || marker == 0xda:
			return nil // end of image, start of scan: no EXIF before pixels
		}
		if pos+2 > len(b) {
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[pos:]))
		if n < 2 || pos+n > len(b) {
			return nil
		}
		seg := b[pos+2 : pos+n]
		if marker == 0xe1 && bytes.HasPrefix(seg, exifPrefix) {
			return seg[len(exifPrefix):]
		}
		pos += n
	}
	return nil
}

// pngEXIF returns the payload of the eXIf chunk.
func pngEXIF(b []byte) []byte {
	pos := 8
	for pos+8 <= len(b) {
		n := int64(binary.BigEndian.Uint32(b[pos:]))
		typ := string(b[pos+4 : pos+8])
		end := int64(pos) + 8 + n
		if end > int64(len(b)) {
			return nil
		}
		if typ == "eXIf" {
			return bytes.TrimPrefix(b[pos+8:end], exifPrefix)
		}
		if typ == "IEND" {
			return nil
		}
		pos = int(end) + 4 // skip the CRC
	}
	return nil
}

// webpEXIF returns the payload of the RIFF "EXIF" chunk.
func webpEXIF(b []byte) []byte {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil
	}
	pos := 12
	for pos+8 <= len(b) {
		id := string(b[pos : pos+4])
		n := int64(binary.LittleEndian.Uint32(b[pos+4:]))
		end := int64(pos) + 8 + n
		if end > int64(len(b)) {
			return nil
		}
		if id == "EXIF" {
			return bytes.TrimPrefix(b[pos+8:end], exifPrefix)
		}
		pos = int(end + end&1) // chunks are padded to even length
	}
	return nil
}

// ParseEXIFOrientation returns the Orientation tag (0x0112) of IFD0 of a
// TIFF-structured EXIF block — the byte-order mark "II" or "MM", the magic
// 42, the IFD0 offset, then 12-byte entries — or 0 when the block is
// malformed, has no such tag, or the value is not 1..8. A leading
// "Exif\0\0" is skipped. It never panics and reads nothing outside b.
func ParseEXIFOrientation(b []byte) int {
	b = bytes.TrimPrefix(b, exifPrefix)
	if len(b) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(b[2:]) != 42 {
		return 0
	}
	ifd := int64(bo.Uint32(b[4:]))
	if ifd < 8 || ifd+2 > int64(len(b)) {
		return 0
	}
	n := int64(bo.Uint16(b[ifd:]))
	for i := int64(0); i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(b)) {
			return 0
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		if count < 1 {
			return 0
		}
		var v uint32
		switch typ {
		case 3: // SHORT, stored in the first two bytes of the value field
			v = uint32(bo.Uint16(b[e+8:]))
		case 4: // LONG (non-standard but seen)
			if count != 1 {
				return 0
			}
			v = bo.Uint32(b[e+8:])
		default:
			return 0
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 0
	}
	return 0
}

// ApplyOrientation returns img transformed for display according to an
// EXIF orientation value (what PIL's ImageOps.exif_transpose does):
//
//	1 unchanged            5 transpose (mirror along the main diagonal)
//	2 mirror left-right    6 rotate 90° clockwise
//	3 rotate 180°          7 transverse (mirror along the anti-diagonal)
//	4 mirror top-bottom    8 rotate 90° counter-clockwise
//
// Orientations 5-8 swap width and height. For 1 and for values outside 1..8
// img itself is returned; otherwise a new image.
func ApplyOrientation(img *RGB, orient int) *RGB {
	if orient < 2 || orient > 8 {
		return img
	}
	w, h := img.W, img.H
	ow, oh := w, h
	if orient >= 5 {
		ow, oh = h, w
	}
	out := NewRGB(ow, oh)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			// (sx, sy): the stored pixel shown at (x, y).
			var sx, sy int
			switch orient {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			s := 3 * (sy*w + sx)
			d := 3 * (y*ow + x)
			out.Pix[d], out.Pix[d+1], out.Pix[d+2] = img.Pix[s], img.Pix[s+1], img.Pix[s+2]
		}
	}
	return out
}
