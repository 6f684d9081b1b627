package imageio

// Boundary tests for decode.go, exif.go, image.go and output.go: each case
// has a hand-built input and a hand-derived expectation (the EXIF and GIF
// byte layouts of their specifications, Pillow's conversion rules, the
// legend layout constants), chosen where an off-by-one, a swapped sign or a
// negated test would change the answer.

import (
	"bytes"
	"compress/lzw"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gifFile builds a GIF89a: a screen of sw×sh, a global colour table (none
// if nil), a graphic control extension with that transparent index (none if
// transparent < 0), and one frame at (fx, fy) of fw×fh with a local colour
// table (none if nil) and the given indices. Colour tables must hold 2, 4,
// ... 256 entries.
func gifFile(t *testing.T, sw, sh int, global [][3]uint8, transparent int, fx, fy, fw, fh int, local [][3]uint8, pix []byte) []byte {
	t.Helper()
	tableFlags := func(tab [][3]uint8) byte {
		for k := 0; k < 8; k++ {
			if 2<<k == len(tab) {
				return 0x80 | byte(k)
			}
		}
		t.Fatalf("colour table of %d entries", len(tab))
		return 0
	}
	le16 := func(b *bytes.Buffer, v int) { b.WriteByte(byte(v)); b.WriteByte(byte(v >> 8)) }
	var b bytes.Buffer
	b.WriteString("GIF89a")
	le16(&b, sw)
	le16(&b, sh)
	if global != nil {
		b.WriteByte(tableFlags(global))
	} else {
		b.WriteByte(0)
	}
	b.Write([]byte{0, 0}) // background index, aspect
	for _, c := range global {
		b.Write(c[:])
	}
	if transparent >= 0 {
		b.Write([]byte{0x21, 0xf9, 4, 1, 0, 0, byte(transparent), 0})
	}
	b.WriteByte(0x2c)
	le16(&b, fx)
	le16(&b, fy)
	le16(&b, fw)
	le16(&b, fh)
	if local != nil {
		b.WriteByte(tableFlags(local))
		for _, c := range local {
			b.Write(c[:])
		}
	} else {
		b.WriteByte(0)
	}
	var z bytes.Buffer
	w := lzw.NewWriter(&z, lzw.LSB, 2)
	w.Write(pix)
	w.Close()
	b.WriteByte(2)
	for d := z.Bytes(); len(d) > 0; {
		n := min(len(d), 255)
		b.WriteByte(byte(n))
		b.Write(d[:n])
		d = d[n:]
	}
	b.Write([]byte{0, 0x3b})
	return b.Bytes()
}

var (
	red   = [3]uint8{255, 0, 0}
	green = [3]uint8{0, 255, 0}
	blue  = [3]uint8{0, 0, 255}
	white = [3]uint8{255, 255, 255}
)

// TestGIFFirstFrameColours: a GIF frame smaller than its screen; outside the
// frame Pillow shows index 0 when there is no transparency (else the
// transparent index); a local colour table replaces the global one.
func TestGIFFirstFrameColours(t *testing.T) {
	cases := []struct {
		name        string
		transparent int
		local       [][3]uint8
		want        [2][3]uint8 // pixel (0,0) outside the frame, (1,0) inside
	}{
		{"no GCE", -1, nil, [2][3]uint8{red, green}},
		{"transparent 1", 1, nil, [2][3]uint8{green, green}},
		{"local table", -1, [][3]uint8{blue, white}, [2][3]uint8{blue, white}},
	}
	for _, c := range cases {
		data := gifFile(t, 2, 1, [][3]uint8{red, green}, c.transparent, 1, 0, 1, 1, c.local, []byte{1})
		img, meta, err := Decode(bytes.NewReader(data), c.name+".gif")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if meta.Format != "gif" || img.W != 2 || img.H != 1 {
			t.Fatalf("%s: %+v, %dx%d", c.name, meta, img.W, img.H)
		}
		if got := [2][3]uint8{img.At(0, 0), img.At(1, 0)}; got != c.want {
			t.Errorf("%s: pixels %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGIFColorTableWalkEnds: the walk to the first image's colour table stops
// cleanly (no panic, nothing read past the end) wherever the bytes end, and
// still reports what it found up to there.
func TestGIFColorTableWalkEnds(t *testing.T) {
	hdr := func(flags byte) []byte { return []byte{'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, flags, 0, 0} }
	tab2 := []byte{1, 2, 3, 4, 5, 6} // 2 entries (flags 0x80)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name  string
		data  []byte
		table []byte
		trans int
	}{
		{"signature only", []byte("GIF89a"), nil, -1},
		{"global table ends the data", cat(hdr(0x80), tab2), tab2, -1},
		{"global table cut", cat(hdr(0x80), tab2[:4]), nil, -1},
		{"extension introducer last", cat(hdr(0), []byte{0x21}), nil, -1},
		{"extension label last", cat(hdr(0), []byte{0x21, 0xf9}), nil, -1},
		{"GCE block ends the data", cat(hdr(0x80), tab2, []byte{0x21, 0xf9, 4, 1, 0, 0, 5}), tab2, 5},
		{"GCE block cut", cat(hdr(0x80), tab2, []byte{0x21, 0xf9, 4, 1, 0, 0}), tab2, -1},
		{"image descriptor cut", cat(hdr(0x80), tab2, []byte{0x2c, 0, 0, 0, 0, 1}), tab2, -1},
		{"local table", cat(hdr(0x80), tab2, []byte{0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0x80}, []byte{9, 8, 7, 6, 5, 4}, []byte{2, 2, 0x44, 1, 0, 0x3b}), []byte{9, 8, 7, 6, 5, 4}, -1},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v", c.name, r)
				}
			}()
			table, trans := gifFirstColorTable(c.data)
			if !bytes.Equal(table, c.table) || trans != c.trans {
				t.Errorf("%s: table %v transparent %d, want %v %d", c.name, table, trans, c.table, c.trans)
			}
		}()
	}
}

// TestDecodeZeroSizeScreen: a GIF whose logical screen has a zero side is
// refused as a zero-size image, naming the size.
func TestDecodeZeroSizeScreen(t *testing.T) {
	for _, s := range [][2]int{{0, 1}, {1, 0}} {
		data := gifFile(t, s[0], s[1], [][3]uint8{red, green}, -1, 0, 0, 1, 1, nil, []byte{1})
		_, _, err := Decode(bytes.NewReader(data), "flat.gif")
		if err == nil || !strings.Contains(err.Error(), "zero size") || !strings.Contains(err.Error(), "flat.gif") {
			t.Errorf("%dx%d screen: %v", s[0], s[1], err)
		}
	}
}

// TestDecodeTooLargeMegapixels: the refusal states the size in megapixels
// (20000·20000 = 400.0 million pixels, 30000·20000 = 600.0).
func TestDecodeTooLargeMegapixels(t *testing.T) {
	for _, c := range []struct {
		w, h uint32
		want string
	}{{20000, 20000, "(400.0 megapixels)"}, {30000, 20000, "(600.0 megapixels)"}} {
		_, _, err := Decode(bytes.NewReader(pngHeader(c.w, c.h)), "big.png")
		if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%dx%d: %v, want %q", c.w, c.h, err, c.want)
		}
	}
}

// TestPNGIsGrey16Header: the 26 bytes up to the IHDR colour type are enough
// to tell a 16-bit greyscale PNG.
func TestPNGIsGrey16Header(t *testing.T) {
	h := pngHeader(3, 2)
	h[24], h[25] = 16, 0 // depth 16, colour type 0
	if !pngIsGrey16(h[:26]) {
		t.Error("26-byte grey16 header not recognised")
	}
	if pngIsGrey16(h[:25]) {
		t.Error("25 bytes: the colour type is missing")
	}
	h[25] = 2
	if pngIsGrey16(h) {
		t.Error("16-bit RGB taken for grey")
	}
}

// jpegSeg is a JPEG marker segment: 0xFF, marker, big-endian length
// (payload + 2), payload.
func jpegSeg(marker byte, payload []byte) []byte {
	s := []byte{0xff, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// TestJPEGEXIFSegments: the APP1 "Exif\0\0" segment is found after fill
// bytes and empty segments and when it ends the data; every truncation gives
// nil without a panic.
func TestJPEGEXIFSegments(t *testing.T) {
	tiff := tiffBlock(binary.LittleEndian, [][4]uint32{{0x0112, 3, 1, 6}})
	app1 := jpegSeg(0xe1, append([]byte("Exif\x00\x00"), tiff...))
	soi := []byte{0xff, 0xd8}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		data []byte
		want []byte
	}{
		{"APP1 ends the data", cat(soi, app1), tiff},
		{"after an empty APP0", cat(soi, []byte{0xff, 0xe0, 0, 2}, app1), tiff},
		{"after fill bytes", cat(soi, []byte{0xff, 0xff}, app1), tiff},
		{"fill bytes end the data", cat(soi, []byte{0xff, 0xff}), nil},
		{"length cut", cat(soi, []byte{0xff, 0xe1, 0}), nil},
		{"APP0 ends the data", cat(soi, jpegSeg(0xe0, []byte{1, 2})), nil},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v", c.name, r)
				}
			}()
			if got := findEXIF("jpeg", c.data); !bytes.Equal(got, c.want) {
				t.Errorf("%s: %x, want %x", c.name, got, c.want)
			}
		}()
	}
}

// TestPNGEXIFLastChunk: an eXIf chunk whose payload reaches the last byte
// (CRC cut off) still yields the payload; one byte short yields nil.
func TestPNGEXIFLastChunk(t *testing.T) {
	tiff := tiffBlock(binary.BigEndian, [][4]uint32{{0x0112, 3, 1, 8}})
	var b bytes.Buffer
	b.Write(pngHeader(1, 1))
	writeChunk(&b, "eXIf", tiff)
	full := b.Bytes()
	noCRC := full[:len(full)-4]
	if got := findEXIF("png", noCRC); !bytes.Equal(got, tiff) {
		t.Errorf("payload at the end: %x", got)
	}
	if got := findEXIF("png", noCRC[:len(noCRC)-1]); got != nil {
		t.Errorf("payload cut: %x", got)
	}
}

// riffWebP builds "RIFF" size "WEBP" and the chunks, each padded to an even
// length as RIFF requires.
func riffWebP(chunks ...any) []byte {
	var body bytes.Buffer
	body.WriteString("WEBP")
	for i := 0; i < len(chunks); i += 2 {
		id, data := chunks[i].(string), chunks[i+1].([]byte)
		body.WriteString(id)
		binary.Write(&body, binary.LittleEndian, uint32(len(data)))
		body.Write(data)
		if len(data)%2 == 1 {
			body.WriteByte(0)
		}
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(body.Len()))
	return append(out, body.Bytes()...)
}

// TestWebPEXIFChunk: the EXIF chunk's payload, exactly, found past chunks of
// odd size (padding), with or without the "Exif\0\0" prefix, when it is the
// last chunk of the file.
func TestWebPEXIFChunk(t *testing.T) {
	tiff := tiffBlock(binary.LittleEndian, [][4]uint32{{0x0112, 3, 1, 3}})
	vp8x := []byte{8, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	cases := []struct {
		name string
		data []byte
		want []byte
	}{
		{"after VP8X and an odd ICCP", riffWebP("VP8X", vp8x, "ICCP", []byte{1, 2, 3}, "EXIF", tiff), tiff},
		{"first chunk", riffWebP("EXIF", tiff), tiff},
		{"Exif prefix", riffWebP("VP8X", vp8x, "EXIF", append([]byte("Exif\x00\x00"), tiff...)), tiff},
		{"no EXIF", riffWebP("VP8X", vp8x, "ICCP", []byte{1, 2, 3}), nil},
		{"not RIFF", append([]byte("RIFX"), riffWebP("EXIF", tiff)[4:]...), nil},
		{"not WEBP", append(append([]byte{}, riffWebP("EXIF", tiff)[:8]...), append([]byte("WAVE"), riffWebP("EXIF", tiff)[12:]...)...), nil},
	}
	for _, c := range cases {
		if got := findEXIF("webp", c.data); !bytes.Equal(got, c.want) {
			t.Errorf("%s: %x, want %x", c.name, got, c.want)
		}
		if c.want != nil {
			if o := ParseEXIFOrientation(findEXIF("webp", c.data)); o != 3 {
				t.Errorf("%s: orientation %d, want 3", c.name, o)
			}
		}
	}
	// The EXIF chunk cut by one byte is not returned.
	d := riffWebP("EXIF", tiff)
	if got := findEXIF("webp", d[:len(d)-1]); got != nil {
		t.Errorf("cut chunk: %x", got)
	}
}

// TestEXIFIFDBounds: only the entries the IFD0 count declares are read, and
// an entry that ends exactly at the end of the block is read.
func TestEXIFIFDBounds(t *testing.T) {
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		// Count says 1 entry; the orientation entry after it is not part
		// of IFD0.
		blk := tiffBlock(bo, [][4]uint32{{0x010f, 2, 1, 0}, {0x0112, 3, 1, 6}})
		bo.PutUint16(blk[8:], 1)
		if got := ParseEXIFOrientation(blk); got != 0 {
			t.Errorf("%v: entry beyond the count read: %d", bo, got)
		}
		// No next-IFD pointer: the block ends with the entry.
		blk = tiffBlock(bo, [][4]uint32{{0x0112, 3, 1, 6}})
		if got := ParseEXIFOrientation(blk[:len(blk)-4]); got != 6 {
			t.Errorf("%v: entry ending the block: %d, want 6", bo, got)
		}
		if got := ParseEXIFOrientation(blk[:len(blk)-5]); got != 0 {
			t.Errorf("%v: entry cut: %d, want 0", bo, got)
		}
	}
}

// TestZeroSizeRGB: zero-width or zero-height images and crops are valid and
// empty; negative sizes panic.
func TestZeroSizeRGB(t *testing.T) {
	for _, s := range [][2]int{{0, 2}, {2, 0}, {0, 0}} {
		m := NewRGB(s[0], s[1])
		if m.W != s[0] || m.H != s[1] || len(m.Pix) != 0 {
			t.Errorf("NewRGB(%d,%d): %dx%d, %d bytes", s[0], s[1], m.W, m.H, len(m.Pix))
		}
	}
	img := orientTestImage()
	for _, c := range [][4]int{{1, 1, 0, 1}, {1, 1, 1, 0}, {3, 2, 0, 0}} {
		got := img.Crop(c[0], c[1], c[2], c[3])
		if got.W != c[2] || got.H != c[3] || len(got.Pix) != 0 {
			t.Errorf("Crop%v: %dx%d", c, got.W, got.H)
		}
	}
	if msg := panicMessage(func() { NewRGB(-1, 2) }); !strings.Contains(msg, "negative size -1x2") {
		t.Errorf("NewRGB(-1,2): %q", msg)
	}
}

func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
			if msg == "" {
				msg = "non-string panic"
			}
		}
	}()
	f()
	return ""
}

// TestCropOutside: a crop reaching past the right or bottom edge panics with
// a message giving the crop and the image size, even where the bytes would
// be there (the next row).
func TestCropOutside(t *testing.T) {
	img := orientTestImage() // 3×2
	for _, c := range []struct {
		x0, y0, w, h int
		want         string
	}{
		{2, 0, 2, 1, "crop 2x1+2+0 outside a 3x2 image"},
		{0, 1, 1, 2, "crop 1x2+0+1 outside a 3x2 image"},
	} {
		if msg := panicMessage(func() { img.Crop(c.x0, c.y0, c.w, c.h) }); !strings.Contains(msg, c.want) {
			t.Errorf("Crop(%d,%d,%d,%d): panic %q, want %q", c.x0, c.y0, c.w, c.h, msg, c.want)
		}
	}
}

// TestFromImageAlpha: premultiplied colours (image.RGBA, color.RGBA palette
// entries) are un-premultiplied with rounding: 30/120 of full alpha is
// 30·255/120 = 63.75 → 64, 45 → 95.625 → 96, 120 → 255; alpha 0 and 255
// keep the stored values.
func TestFromImageAlpha(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(0, 0, 3, 1))
	rgba.SetRGBA(0, 0, color.RGBA{30, 45, 120, 120})
	rgba.SetRGBA(1, 0, color.RGBA{7, 8, 9, 255})
	rgba.SetRGBA(2, 0, color.RGBA{0, 0, 0, 0})
	want := [][3]uint8{{64, 96, 255}, {7, 8, 9}, {0, 0, 0}}
	got := FromImage(rgba)
	for x, w := range want {
		if got.At(x, 0) != w {
			t.Errorf("RGBA pixel %d: %v, want %v", x, got.At(x, 0), w)
		}
	}
	pal := color.Palette{color.RGBA{30, 45, 120, 120}, color.RGBA{7, 8, 9, 255}, color.RGBA{0, 0, 0, 0}}
	p := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	copy(p.Pix, []uint8{0, 1, 2})
	got = FromImage(p)
	for x, w := range want {
		if got.At(x, 0) != w {
			t.Errorf("palette entry %d: %v, want %v", x, got.At(x, 0), w)
		}
	}
}

// TestFromImageLongPalette: a palette longer than 256 entries (possible in
// an image.Paletted, not in a file) is read up to index 255.
func TestFromImageLongPalette(t *testing.T) {
	pal := make(color.Palette, 257)
	for i := range pal {
		pal[i] = color.NRGBA{uint8(i), uint8(255 - i%256), 1, 255}
	}
	p := image.NewPaletted(image.Rect(0, 0, 2, 1), pal)
	p.Pix[0], p.Pix[1] = 0, 255
	got := FromImage(p)
	if got.At(0, 0) != [3]uint8{0, 255, 1} || got.At(1, 0) != [3]uint8{255, 0, 1} {
		t.Errorf("pixels %v", got.Pix)
	}
}

// TestWritePalettePNGBounds: 256 colours is allowed (label 255 is the VOC
// colour (224,224,192): bits 11|111|111 dealt to r,g,b from the top bit);
// zero sizes and out-of-palette labels are refused, the latter naming the
// pixel (x, y) = (i mod W, i div W).
func TestWritePalettePNGBounds(t *testing.T) {
	var b bytes.Buffer
	if err := WritePalettePNG(&b, []uint8{0, 255}, 2, 1, Palette(256)); err != nil {
		t.Fatalf("256 colours: %v", err)
	}
	m, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := m.(*image.Paletted)
	if !ok || len(p.Palette) != 256 || p.Pix[0] != 0 || p.Pix[1] != 255 {
		t.Fatalf("decoded %T", m)
	}
	if r, g, bl, _ := p.Palette[255].RGBA(); r>>8 != 224 || g>>8 != 224 || bl>>8 != 192 {
		t.Errorf("palette[255] = %d,%d,%d", r>>8, g>>8, bl>>8)
	}
	for _, s := range [][2]int{{0, 5}, {5, 0}} {
		err := WritePalettePNG(io.Discard, []uint8(nil), s[0], s[1], Palette(2))
		want := "label map of 0 values for " + map[bool]string{true: "0x5", false: "5x0"}[s[0] == 0]
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%dx%d: %v, want %q", s[0], s[1], err, want)
		}
	}
	err = WritePalettePNG(io.Discard, []int{0, 1, 2, 3, 0, 9}, 3, 2, Palette(4))
	if err == nil || !strings.Contains(err.Error(), "label 9 at pixel (2,1)") {
		t.Errorf("bad label: %v", err)
	}
}

// TestOverlayHandValues: 0.5 blend, truncated: (100+200)/2 = 150, (100+0)/2
// = 50; label 2 with a 2-colour palette (and -1) leaves the pixel.
func TestOverlayHandValues(t *testing.T) {
	img := constantRGB(3, 2, [3]uint8{100, 100, 100})
	pal := [][3]uint8{{0, 0, 0}, {200, 0, 0}}
	out := Overlay(img, []int{1, 0, 2, -1, 1, 0}, pal, 0.5)
	want := [][3]uint8{{150, 50, 50}, {50, 50, 50}, {100, 100, 100}, {100, 100, 100}, {150, 50, 50}, {50, 50, 50}}
	for i, w := range want {
		if got := out.At(i%3, i/3); got != w {
			t.Errorf("pixel %d: %v, want %v", i, got, w)
		}
	}
	if msg := panicMessage(func() { Overlay(img, []int{0}, pal, 0.5) }); !strings.Contains(msg, "1 labels for a 3x2 image") {
		t.Errorf("1 label for 3x2: panic %q", msg)
	}
}

// TestHeatOverlayHandValues: heat 0 is jet (0,0,128), heat 1 is (128,0,0);
// 0.4·100 + 0.6·128 = 116.8 → 116, 0.4·100 = 40.
func TestHeatOverlayHandValues(t *testing.T) {
	img := constantRGB(3, 2, [3]uint8{100, 100, 100})
	out := HeatOverlay(img, []float32{0, 1, 0, 1, 0, 1})
	for i := 0; i < 6; i++ {
		want := [3]uint8{40, 40, 116}
		if i%2 == 1 {
			want = [3]uint8{116, 40, 40}
		}
		if got := out.At(i%3, i/3); got != want {
			t.Errorf("pixel %d: %v, want %v", i, got, want)
		}
	}
	if msg := panicMessage(func() { HeatOverlay(img, []float32{0}) }); !strings.Contains(msg, "1 map values for a 3x2 image") {
		t.Errorf("1 value for 3x2: panic %q", msg)
	}
}

// TestDrawLegendGeometry checks the legend layout from its constants: the
// panel is pad 8 + swatch 14 + gap 6 + text + pad 8 wide (text: 7 pixels a
// character in the 7×13 font); row i starts at y = 8 + 18i; the 14-pixel
// swatch is centred in the 18-pixel row (top y+2) with a 1-pixel black
// outline; the text starts 6 pixels right of the swatch and its 13-pixel
// cell (ascent 11, descent 2) is centred in the row: rows y+2 .. y+14.
func TestDrawLegendGeometry(t *testing.T) {
	img := constantRGB(4, 40, [3]uint8{50, 60, 70})
	col := [3]uint8{10, 200, 30}
	out := DrawLegend(img, []string{"Hg"}, [][3]uint8{col})
	if out.W != 4+8+14+6+14+8 || out.H != 40 {
		t.Fatalf("size %dx%d, want 54x40", out.W, out.H)
	}
	black, whiteC := [3]uint8{0, 0, 0}, [3]uint8{255, 255, 255}
	x0, y := 4+8, 8
	// A column through the middle of the swatch.
	for yy, want := range map[int][3]uint8{y + 1: whiteC, y + 2: black, y + 3: col, y + 14: col, y + 15: black, y + 16: whiteC} {
		if got := out.At(x0+7, yy); got != want {
			t.Errorf("swatch column, row %d: %v, want %v", yy, got, want)
		}
	}
	// The swatch interior is uniformly the colour (no text over it).
	for yy := y + 3; yy <= y+14; yy++ {
		for xx := x0 + 1; xx < x0+13; xx++ {
			if out.At(xx, yy) != col {
				t.Fatalf("swatch interior (%d,%d) = %v", xx, yy, out.At(xx, yy))
			}
		}
	}
	// Text: every non-white pixel right of the swatch lies in the text box.
	minX, maxX, minY, maxY, n := out.W, -1, out.H, -1, 0
	for yy := 0; yy < out.H; yy++ {
		for xx := x0 + 14; xx < out.W; xx++ {
			if out.At(xx, yy) != whiteC {
				minX, maxX, minY, maxY, n = min(minX, xx), max(maxX, xx), min(minY, yy), max(maxY, yy), n+1
			}
		}
	}
	tx := x0 + 14 + 6
	if n == 0 || minX < tx || minX >= tx+7 || maxX >= tx+14 || minY < y+2 || maxY >= y+15 {
		t.Errorf("text pixels in x %d..%d, y %d..%d (%d); want x in [%d,%d) starting in the first cell, y in [%d,%d)",
			minX, maxX, minY, maxY, n, tx, tx+14, y+2, y+15)
	}
	// 'g' has a descender: the text reaches below the baseline y+13.
	if maxY <= y+13-1 {
		t.Errorf("text bottom row %d: the descender of g is missing", maxY)
	}
}

// TestWriteFileAtomicTempBeside: the temporary file lives in the target's
// folder (so the rename cannot cross file systems), for a path with a folder
// and for a bare name (the current folder).
func TestWriteFileAtomicTempBeside(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, folder string }{{filepath.Join(sub, "a.png"), sub}, {"b.png", dir}} {
		var temps []string
		err := WriteFileAtomic(c.path, func(w io.Writer) error {
			ents, err := os.ReadDir(c.folder)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if IsTempOf(e.Name(), c.path) {
					temps = append(temps, e.Name())
				}
			}
			_, err = w.Write([]byte("x"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(temps) != 1 {
			t.Errorf("%s: temporaries in %s while writing: %v, want one", c.path, c.folder, temps)
		}
		if b, err := os.ReadFile(filepath.Join(c.folder, filepath.Base(c.path))); err != nil || string(b) != "x" {
			t.Errorf("%s: %q, %v", c.path, b, err)
		}
	}
}

// TestIsTempOfNeedsDigits: the temporary's name is "." + base + ".tmp" and at
// least one digit.
func TestIsTempOfNeedsDigits(t *testing.T) {
	for name, want := range map[string]bool{".out.png.tmp": false, ".out.png.tmp7": true, ".out.png.tmpx": false} {
		if got := IsTempOf(name, "dir/out.png"); got != want {
			t.Errorf("IsTempOf(%q): %v, want %v", name, got, want)
		}
	}
}
