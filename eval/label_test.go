package eval_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
)

// rawPNG builds a PNG by hand (Go's encoder cannot write 1-bit grey,
// 16-bit grey with tRNS, ...): rows are the unfiltered scanlines.
func rawPNG(t testing.TB, w, h int, depth, ctype byte, rows [][]byte, chunks ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = depth, ctype
	chunk("IHDR", ihdr)
	for i := 0; i+1 < len(chunks); i += 2 {
		chunk(string(chunks[i]), chunks[i+1])
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	for _, r := range rows {
		zw.Write([]byte{0}) // filter: none
		zw.Write(r)
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

// PNG colour types.
const (
	ctGrey      = 0
	ctRGB       = 2
	ctGreyAlpha = 4
)

func readBytes(t *testing.T, data []byte) (*eval.LabelMap, error) {
	t.Helper()
	return eval.ReadLabel(bytes.NewReader(data), "test.png")
}

func TestReadLabelPaletteGivesIndicesNotColours(t *testing.T) {
	w, h := 5, 4
	pix := evaltest.Label(w, h, 0, []uint8{0, 3, 20})
	l, err := readBytes(t, evaltest.PalettePNG(t, w, h, pix))
	if err != nil {
		t.Fatal(err)
	}
	if l.W != w || l.H != h || !bytes.Equal(l.Pix, pix) {
		t.Fatalf("got %dx%d %v, want %dx%d %v", l.W, l.H, l.Pix, w, h, pix)
	}
	// A small palette is written with 4 bits per pixel: still indices.
	pal := color.Palette{color.RGBA{9, 9, 9, 255}, color.RGBA{200, 0, 0, 255}, color.RGBA{0, 0, 200, 255}}
	img := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	img.Pix = []uint8{2, 0, 1}
	var b bytes.Buffer
	png.Encode(&b, img)
	l, err = readBytes(t, b.Bytes())
	if err != nil || !bytes.Equal(l.Pix, []uint8{2, 0, 1}) {
		t.Fatalf("4-bit palette: %v %v", l, err)
	}
}

func TestReadLabelGrey(t *testing.T) {
	pix := []uint8{0, 1, 2, 255, 150, 7}
	l, err := readBytes(t, evaltest.GreyPNG(t, 3, 2, pix))
	if err != nil || !bytes.Equal(l.Pix, pix) {
		t.Fatalf("8-bit grey: %v %v", l, err)
	}
	// 1-bit grey reads 0/1 as Pillow's mode "1" does (Go itself gives 0/255).
	l, err = readBytes(t, rawPNG(t, 10, 1, 1, ctGrey, [][]byte{{0b10110000, 0b01000000}}))
	if err != nil || !bytes.Equal(l.Pix, []uint8{1, 0, 1, 1, 0, 0, 0, 0, 0, 1}) {
		t.Fatalf("1-bit grey: %v %v", l, err)
	}
	// 4-bit grey is scaled ×17, as Pillow's L;4 unpacker does.
	l, err = readBytes(t, rawPNG(t, 2, 1, 4, ctGrey, [][]byte{{0x1f}}))
	if err != nil || !bytes.Equal(l.Pix, []uint8{17, 255}) {
		t.Fatalf("4-bit grey: %v %v", l, err)
	}
	// Grey with a tRNS chunk: Go decodes to NRGBA, the values are unchanged.
	l, err = readBytes(t, rawPNG(t, 3, 1, 8, ctGrey, [][]byte{{4, 0, 255}}, []byte("tRNS"), []byte{0, 4}))
	if err != nil || !bytes.Equal(l.Pix, []uint8{4, 0, 255}) {
		t.Fatalf("grey+tRNS: %v %v", l, err)
	}
}

func TestReadLabel16Bit(t *testing.T) {
	ok := rawPNG(t, 3, 1, 16, ctGrey, [][]byte{{0, 5, 0, 255, 0, 0}})
	l, err := readBytes(t, ok)
	if err != nil || !bytes.Equal(l.Pix, []uint8{5, 255, 0}) {
		t.Fatalf("16-bit grey <= 255: %v %v", l, err)
	}
	trns := rawPNG(t, 2, 1, 16, ctGrey, [][]byte{{0, 7, 0, 9}}, []byte("tRNS"), []byte{0, 7})
	l, err = readBytes(t, trns)
	if err != nil || !bytes.Equal(l.Pix, []uint8{7, 9}) {
		t.Fatalf("16-bit grey+tRNS: %v %v", l, err)
	}
	big := rawPNG(t, 3, 1, 16, ctGrey, [][]byte{{0, 5, 1, 44, 0, 0}})
	_, err = readBytes(t, big)
	var fe *eval.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "300") || !strings.Contains(err.Error(), "(1,0)") {
		t.Fatalf("16-bit value 300: got %v, want a FormatError naming 300 at (1,0)", err)
	}
}

func TestReadLabelRefusesNonIndexImages(t *testing.T) {
	var rgb bytes.Buffer
	png.Encode(&rgb, evaltest.Photo(4, 3, 1))
	var jp bytes.Buffer
	jpeg.Encode(&jp, evaltest.Photo(4, 3, 1), nil)
	cases := map[string][]byte{
		"colour PNG":     rgb.Bytes(),
		"grey+alpha PNG": rawPNG(t, 1, 1, 8, ctGreyAlpha, [][]byte{{3, 255}}),
		"RGB PNG":        rawPNG(t, 1, 1, 8, ctRGB, [][]byte{{3, 4, 5}}),
		"not a PNG":      jp.Bytes(),
	}
	for name, data := range cases {
		_, err := readBytes(t, data)
		var fe *eval.FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "test.png") {
			t.Errorf("%s: got %v, want a FormatError naming the file", name, err)
		}
	}
	full := evaltest.GreyPNG(t, 8, 8, make([]uint8, 64))
	for name, data := range map[string][]byte{"truncated": full[:len(full)-20], "empty": nil, "header only": full[:20]} {
		_, err := readBytes(t, data)
		var ce *eval.CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a CorruptError", name, err)
		}
	}
}

func TestReadLabelSizeLimit(t *testing.T) {
	defer func(n int) { eval.MaxLabelPixels = n }(eval.MaxLabelPixels)
	eval.MaxLabelPixels = 100
	_, err := readBytes(t, evaltest.GreyPNG(t, 11, 10, make([]uint8, 110)))
	if err == nil || !strings.Contains(err.Error(), "11x10") {
		t.Fatalf("got %v, want the size refused", err)
	}
}

func TestReduceZeroLabel(t *testing.T) {
	l := &eval.LabelMap{W: 6, H: 1, Pix: []uint8{0, 1, 2, 150, 254, 255}}
	l.ReduceZeroLabel()
	want := []uint8{255, 0, 1, 149, 253, 255}
	if !bytes.Equal(l.Pix, want) {
		t.Fatalf("got %v, want %v", l.Pix, want)
	}
}

func TestCheckNamesFileAndValue(t *testing.T) {
	l := &eval.LabelMap{Name: "a/b.png", W: 3, H: 2, Pix: []uint8{0, 1, 255, 2, 21, 21}}
	if err := l.Check(22); err != nil {
		t.Fatal(err)
	}
	err := l.Check(21)
	var re *eval.RangeError
	if !errors.As(err, &re) || re.Value != 21 || re.X != 1 || re.Y != 1 || re.Count != 2 {
		t.Fatalf("got %#v", err)
	}
	for _, s := range []string{"a/b.png", "21", "0..20", "255"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

// Several rows of every pixel type that is copied value by value (grey
// with tRNS decodes to NRGBA, 16-bit grey to Gray16, 16-bit grey with
// tRNS to NRGBA64): each row lands in its own row, and 255, the largest
// value a 16-bit label may hold, is kept.
func TestReadLabelRowsOfEveryPixelType(t *testing.T) {
	for _, c := range []struct {
		name   string
		data   []byte
		w, h   int
		expect []uint8
	}{
		{"grey+tRNS", rawPNG(t, 3, 2, 8, ctGrey, [][]byte{{1, 2, 3}, {4, 5, 255}}, []byte("tRNS"), []byte{0, 4}), 3, 2,
			[]uint8{1, 2, 3, 4, 5, 255}},
		{"16-bit grey", rawPNG(t, 2, 3, 16, ctGrey, [][]byte{{0, 1, 0, 2}, {0, 3, 0, 4}, {0, 5, 0, 255}}), 2, 3,
			[]uint8{1, 2, 3, 4, 5, 255}},
		{"16-bit grey+tRNS", rawPNG(t, 2, 3, 16, ctGrey, [][]byte{{0, 1, 0, 2}, {0, 3, 0, 4}, {0, 5, 0, 255}}, []byte("tRNS"), []byte{0, 1}), 2, 3,
			[]uint8{1, 2, 3, 4, 5, 255}},
	} {
		l, err := readBytes(t, c.data)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if l.W != c.w || l.H != c.h || !bytes.Equal(l.Pix, c.expect) {
			t.Errorf("%s: got %dx%d %v, want %dx%d %v", c.name, l.W, l.H, l.Pix, c.w, c.h, c.expect)
		}
	}
	// 256 in a 16-bit grey+tRNS label is refused, naming the value and pixel.
	_, err := readBytes(t, rawPNG(t, 2, 2, 16, ctGrey, [][]byte{{0, 1, 0, 2}, {1, 0, 0, 4}}, []byte("tRNS"), []byte{0, 1}))
	var fe *eval.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "256") || !strings.Contains(err.Error(), "(0,1)") {
		t.Errorf("16-bit+tRNS value 256: got %v, want a FormatError naming 256 at (0,1)", err)
	}
}

// A file cut right after the IHDR data (29 bytes: signature, chunk length
// and type, 13 bytes of header) still shows its colour type, so a colour
// PNG is refused as one (a FormatError stops the run); one byte less has no
// complete header and is a damaged file.
func TestReadLabelHeaderOnly(t *testing.T) {
	rgb := rawPNG(t, 1, 1, 8, ctRGB, [][]byte{{3, 4, 5}})
	_, err := readBytes(t, rgb[:29])
	var fe *eval.FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "colour") {
		t.Errorf("29-byte colour PNG: got %v, want a FormatError (colour PNG)", err)
	}
	_, err = readBytes(t, rgb[:28])
	var ce *eval.CorruptError
	if !errors.As(err, &ce) {
		t.Errorf("28-byte PNG: got %v, want a CorruptError", err)
	}
}

// The pixel limit is inclusive: exactly MaxLabelPixels pixels are read.
func TestReadLabelSizeLimitInclusive(t *testing.T) {
	defer func(n int) { eval.MaxLabelPixels = n }(eval.MaxLabelPixels)
	eval.MaxLabelPixels = 110
	l, err := readBytes(t, evaltest.GreyPNG(t, 11, 10, make([]uint8, 110)))
	if err != nil || l.W != 11 || l.H != 10 {
		t.Fatalf("11x10 with a limit of 110 pixels: %v %v", l, err)
	}
}
