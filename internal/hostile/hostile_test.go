package hostile

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// The bombs must be what they claim: the standard library's own readers
// decompress them to the parts' content, CRC and size checked.
func TestBombsDecompressToTheirParts(t *testing.T) {
	parts := []Part{{Data: []byte("#version\n")}, {Data: bytes.Repeat([]byte("ab"), 1000), Repeat: 300}, {Data: []byte("\nend")}}
	want := append(append([]byte("#version\n"), bytes.Repeat([]byte("ab"), 300000)...), "\nend"...)
	if Size(parts...) != int64(len(want)) {
		t.Fatalf("Size %d, want %d", Size(parts...), len(want))
	}
	zr, err := gzip.NewReader(bytes.NewReader(Gzip(parts...)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("gzip: %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}
	z, err := Zip(Entry{Name: "a/x", Parts: parts}, Entry{Name: "a/y", Stored: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range [][]byte{want, []byte("hi")} {
		rc, err := r.File[i].Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, w) {
			t.Fatalf("zip entry %d: %d bytes, err %v; want %d bytes", i, len(got), err, len(w))
		}
	}
	if len(z) > 20000 {
		t.Errorf("zip of 600 kB of repeats is %d bytes: not a bomb", len(z))
	}
}

func TestMeasureSeesAllocations(t *testing.T) {
	var keep []byte
	c := Measure(func() {
		keep = make([]byte, 64<<20)
		keep[len(keep)-1] = 1
		for i := 0; i < len(keep); i += 4096 {
			keep[i] = 1
		}
	})
	if c.Allocated < 64<<20 {
		t.Errorf("64 MiB allocation measured as %v", c)
	}
	if c.PeakRSS >= 0 && c.PeakRSS < 32<<20 {
		t.Errorf("64 MiB touched, peak RSS rose by %v", c)
	}
	_ = keep[0]
}
