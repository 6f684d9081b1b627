package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// a 3×2 image with distinct pixels a..f:
//
//	a b c
//	d e f
func orientTestImage() *RGB {
	img := NewRGB(3, 2)
	for i := 0; i < 6; i++ {
		img.Pix[3*i] = uint8('a' + i)
	}
	return img
}

func layout(img *RGB) string {
	var sb strings.Builder
	for y := 0; y < img.H; y++ {
		if y > 0 {
			sb.WriteByte('/')
		}
		for x := 0; x < img.W; x++ {
			sb.WriteByte(img.At(x, y)[0])
		}
	}
	return sb.String()
}

func TestApplyOrientation(t *testing.T) {
	want := map[int]string{
		1: "abc/def",
		2: "cba/fed",  // mirror left-right
		3: "fed/cba",  // rotate 180
		4: "def/abc",  // mirror top-bottom
		5: "ad/be/cf", // transpose
		6: "da/eb/fc", // rotate 90° clockwise
		7: "fc/eb/da", // transverse
		8: "cf/be/ad", // rotate 90° counter-clockwise
		0: "abc/def",  // invalid: unchanged
		9: "abc/def",
	}
	src := orientTestImage()
	for o, w := range want {
		got := ApplyOrientation(src, o)
		if layout(got) != w {
			t.Errorf("orientation %d: %s, want %s", o, layout(got), w)
		}
	}
	if layout(src) != "abc/def" {
		t.Error("ApplyOrientation modified its input")
	}
	// 6 then 8 is the identity; 3 twice too.
	if layout(ApplyOrientation(ApplyOrientation(src, 6), 8)) != "abc/def" || layout(ApplyOrientation(ApplyOrientation(src, 3), 3)) != "abc/def" {
		t.Error("rotations do not compose")
	}
}

// tiffBlock builds a minimal EXIF TIFF block with IFD0 entries (tag, type,
// count, value).
func tiffBlock(bo binary.ByteOrder, entries [][4]uint32) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	binary.Write(&b, bo, uint16(42))
	binary.Write(&b, bo, uint32(8))
	binary.Write(&b, bo, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, bo, uint16(e[0]))
		binary.Write(&b, bo, uint16(e[1]))
		binary.Write(&b, bo, e[2])
		if e[1] == 3 {
			binary.Write(&b, bo, uint16(e[3]))
			binary.Write(&b, bo, uint16(0))
		} else {
			binary.Write(&b, bo, e[3])
		}
	}
	binary.Write(&b, bo, uint32(0))
	return b.Bytes()
}

func TestParseEXIFOrientation(t *testing.T) {
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for o := 1; o <= 8; o++ {
			blk := tiffBlock(bo, [][4]uint32{{0x010f, 2, 1, 0}, {0x0112, 3, 1, uint32(o)}})
			if got := ParseEXIFOrientation(blk); got != o {
				t.Errorf("%v orientation %d: got %d", bo, o, got)
			}
			if got := ParseEXIFOrientation(append([]byte("Exif\x00\x00"), blk...)); got != o {
				t.Errorf("with Exif prefix: got %d", got)
			}
		}
		if got := ParseEXIFOrientation(tiffBlock(bo, [][4]uint32{{0x0112, 4, 1, 6}})); got != 6 {
			t.Errorf("LONG orientation: %d", got)
		}
		for _, bad := range [][4]uint32{{0x0112, 3, 1, 0}, {0x0112, 3, 1, 9}, {0x0112, 2, 1, 6}, {0x0110, 3, 1, 6}} {
			if got := ParseEXIFOrientation(tiffBlock(bo, [][4]uint32{bad})); got != 0 {
				t.Errorf("entry %v: got %d, want 0", bad, got)
			}
		}
	}
	blk := tiffBlock(binary.LittleEndian, [][4]uint32{{0x0112, 3, 1, 6}})
	for n := 0; n < len(blk)-4; n++ { // every truncation fails cleanly
		if got := ParseEXIFOrientation(blk[:n]); got != 0 {
			t.Errorf("truncated to %d bytes: %d", n, got)
		}
	}
	for _, junk := range [][]byte{nil, []byte("II"), []byte("XX*\x00\x08\x00\x00\x00"), []byte("II*\x00\xff\xff\xff\xff")} {
		if got := ParseEXIFOrientation(junk); got != 0 {
			t.Errorf("%q: %d", junk, got)
		}
	}
}

func encodeJPEG(t *testing.T, img image.Image, app1 []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if app1 == nil {
		return data
	}
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(app1)+2))
	out := append([]byte{0xff, 0xd8}, seg...)
	out = append(out, app1...)
	return append(out, data[2:]...)
}

func TestDecodeJPEGOrientation(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 16, 8))
	exif := append([]byte("Exif\x00\x00"), tiffBlock(binary.BigEndian, [][4]uint32{{0x0112, 3, 1, 6}})...)
	data := encodeJPEG(t, src, exif)
	img, meta, err := Decode(bytes.NewReader(data), "rot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if meta.Format != "jpeg" || meta.Orientation != 6 || meta.Width != 16 || meta.Height != 8 || img.W != 16 {
		t.Fatalf("meta %+v, image %dx%d (orientation must not be applied)", meta, img.W, img.H)
	}
	if o := ApplyOrientation(img, meta.Orientation); o.W != 8 || o.H != 16 {
		t.Errorf("oriented size %dx%d", o.W, o.H)
	}
	_, meta, err = Decode(bytes.NewReader(encodeJPEG(t, src, nil)), "plain.jpg")
	if err != nil || meta.Orientation != 1 {
		t.Errorf("no EXIF: orientation %d, %v", meta.Orientation, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	if _, _, err := Decode(bytes.NewReader(nil), "empty.png"); err == nil || !strings.Contains(err.Error(), "empty.png") || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, _, err := Decode(strings.NewReader("hello world"), "notes.txt"); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("text file: %v", err)
	}
	var b bytes.Buffer
	png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4)))
	trunc := b.Bytes()[:b.Len()-20]
	if _, _, err := Decode(bytes.NewReader(trunc), "cut.png"); err == nil || !strings.Contains(err.Error(), "cut.png") {
		t.Errorf("truncated PNG: %v", err)
	}
	// A header claiming 20000×20000 is refused before decoding, with the size.
	big := pngHeader(20000, 20000)
	_, meta, err := Decode(bytes.NewReader(big), "huge.png")
	if err == nil || !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "20000x20000") || !strings.Contains(err.Error(), "huge.png") {
		t.Errorf("huge image: %v", err)
	}
	if meta.Width != 20000 {
		t.Errorf("meta of the refused image: %+v", meta)
	}
	if _, _, err := Decode(bytes.NewReader(pngHeader(40000, 10000)), "wide.png"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("40000x10000: %v", err)
	}
	// 19999×20000 passes the size check (and then fails on missing data).
	if _, _, err := Decode(bytes.NewReader(pngHeader(19999, 20000)), "big.png"); err == nil || errors.Is(err, ErrTooLarge) {
		t.Errorf("19999x20000: %v", err)
	}
	if _, _, err := Decode(bytes.NewReader(pngHeader(0, 5)), "zero.png"); err == nil || !strings.Contains(err.Error(), "zero.png") {
		t.Errorf("zero width: %v", err)
	}
	if _, _, err := Open(filepath.Join(t.TempDir(), "missing.jpg")); err == nil || !os.IsNotExist(errors.Unwrap(err)) {
		t.Errorf("missing file: %v", err)
	}
}

// pngHeader is a PNG signature and IHDR only (valid CRC), no image data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	writeChunk(&b, "IHDR", ihdr)
	return b.Bytes()
}

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	binary.Write(b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(b, binary.BigEndian, crc32IEEE(append([]byte(typ), data...)))
}

func TestFromImageConversions(t *testing.T) {
	g := image.NewGray(image.Rect(2, 3, 4, 4)) // non-zero origin
	g.SetGray(2, 3, color.Gray{7})
	g.SetGray(3, 3, color.Gray{250})
	if got := FromImage(g); got.W != 2 || got.H != 1 || got.At(0, 0) != [3]uint8{7, 7, 7} || got.At(1, 0) != [3]uint8{250, 250, 250} {
		t.Errorf("gray: %v", got.Pix)
	}
	n := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	n.SetNRGBA(0, 0, color.NRGBA{10, 20, 30, 0})
	if got := FromImage(n); got.At(0, 0) != [3]uint8{10, 20, 30} {
		t.Errorf("NRGBA alpha 0 must keep its colour: %v", got.Pix)
	}
	c := image.NewCMYK(image.Rect(0, 0, 1, 1))
	c.SetCMYK(0, 0, color.CMYK{10, 20, 30, 200})
	if got := FromImage(c); got.At(0, 0) != [3]uint8{53, 51, 49} { // Pillow's cmyk2rgb
		t.Errorf("CMYK: %v", got.Pix)
	}
	g16 := image.NewGray16(image.Rect(0, 0, 3, 1))
	g16.SetGray16(0, 0, color.Gray16{100})
	g16.SetGray16(1, 0, color.Gray16{255})
	g16.SetGray16(2, 0, color.Gray16{0x8000})
	if got := FromImage(g16); got.Pix[0] != 100 || got.Pix[3] != 255 || got.Pix[6] != 255 {
		t.Errorf("Gray16 (Pillow clips): %v", got.Pix)
	}
	// YCbCr: libjpeg's arithmetic on a 4:4:4 grey and a saturated colour.
	y := image.NewYCbCr(image.Rect(0, 0, 2, 1), image.YCbCrSubsampleRatio444)
	y.Y[0], y.Cb[0], y.Cr[0] = 128, 128, 128
	y.Y[1], y.Cb[1], y.Cr[1] = 76, 85, 255 // ≈ pure red
	got := FromImage(y)
	if got.At(0, 0) != [3]uint8{128, 128, 128} || got.At(1, 0) != [3]uint8{254, 0, 0} {
		t.Errorf("YCbCr: %v", got.Pix)
	}
}

func TestCropAndImage(t *testing.T) {
	img := orientTestImage()
	if c := img.Crop(1, 0, 2, 2); layout(c) != "bc/ef" {
		t.Errorf("crop %s", layout(c))
	}
	rgba := img.Image()
	if r, _, _, a := rgba.At(2, 1).RGBA(); r>>8 != 'f' || a != 0xffff {
		t.Error("Image()")
	}
	if FromImage(rgba).At(2, 1) != img.At(2, 1) {
		t.Error("FromImage(Image()) round trip")
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
