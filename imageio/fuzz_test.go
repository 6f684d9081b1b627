package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "decode", "*"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	var b bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 5, 3), color.Palette{color.Black, color.White})
	gif.Encode(&b, pal, nil)
	f.Add(b.Bytes())
	b.Reset()
	png.Encode(&b, image.NewGray16(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	f.Add([]byte{})
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00II*\x00\x08\x00"))
	f.Add([]byte("RIFF\x10\x00\x00\x00WEBPEXIF\x04\x00\x00\x00II*\x00"))
}

// FuzzDecode: arbitrary bytes never panic or hang; a success is a
// well-formed image. The pixel limit is lowered so that headers claiming
// big sizes do not make the standard decoders allocate gigabytes.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, meta, err := decodeBytes(data, "fuzz", 1<<20)
		if err != nil {
			if img != nil {
				t.Fatal("image returned with an error")
			}
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("bad image %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
		if img.W != meta.Width || img.H != meta.Height || meta.Orientation < 1 || meta.Orientation > 8 || meta.Format == "" {
			t.Fatalf("meta %+v for %dx%d", meta, img.W, img.H)
		}
	})
}

// FuzzEXIF: the container walkers and the TIFF parser stay in bounds on
// any input.
func FuzzEXIF(f *testing.F) {
	fuzzSeeds(f)
	f.Add(tiffBlock(binary.LittleEndian, [][4]uint32{{0x0112, 3, 1, 6}}))
	f.Add(tiffBlock(binary.BigEndian, [][4]uint32{{0x010f, 2, 4, 0}, {0x0112, 3, 1, 8}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := ParseEXIFOrientation(data); o < 0 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		for _, format := range []string{"jpeg", "png", "webp", "tiff", "gif"} {
			blk := findEXIF(format, data)
			if blk != nil && (len(blk) > len(data)) {
				t.Fatalf("%s: block longer than the file", format)
			}
			if o := ParseEXIFOrientation(blk); o < 0 || o > 8 {
				t.Fatalf("%s: orientation %d", format, o)
			}
		}
		_, _ = gifFirstColorTable(data)
	})
}

// FuzzPNGText: the tEXt reader never panics, never returns a keyword that
// is empty or longer than 79 bytes, and reads what WithPNGText wrote.
func FuzzPNGText(f *testing.F) {
	var b bytes.Buffer
	w, _ := WithPNGText(&b, "freeseg", "overlay")
	EncodePNG(w, NewRGB(2, 2))
	f.Add(b.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x05tEXtk\x00v"))
	f.Add([]byte("\x89PNG\r\n\x1a\n\xff\xff\xff\xfftEXt"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ReadPNGText(bytes.NewReader(data))
		if err != nil {
			return
		}
		for k := range m {
			if len(k) < 1 || len(k) > 79 {
				t.Fatalf("keyword of %d bytes", len(k))
			}
		}
	})
}
