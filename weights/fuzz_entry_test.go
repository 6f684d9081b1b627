package weights

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/hostile"
)

// FuzzReadZipEntry checks the bounded zip entry readers on arbitrary
// archives: no panic, never more than asked, a complete read is exactly
// the entry (the same bytes archive/zip gives, size and CRC checked), and
// readEntry's limit holds whatever the headers claim.
func FuzzReadZipEntry(f *testing.F) {
	payload := []byte(strings.Repeat("0123456789abcdef", 300))
	f.Add(buildZip(f, zip.Store, zent{"a/x", payload}, zent{"a/y", nil}))
	f.Add(buildZip(f, zip.Deflate, zent{"a/x", payload}, zent{"a/y", []byte("z")}))
	for _, declared := range []uint64{0, 10, 1 << 40} {
		z, err := hostile.Zip(hostile.Entry{Name: "a/b", Parts: []hostile.Part{{Data: payload, Repeat: 20}}, DeclaredSize: declared})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(z)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for i, e := range zr.File {
			if i == 4 {
				break
			}
			var whole []byte
			if e.UncompressedSize64 <= 1<<20 {
				if rc, err := e.Open(); err == nil {
					whole, err = io.ReadAll(io.LimitReader(rc, 1<<20+1))
					if err != nil {
						whole = nil
					}
					rc.Close()
				}
			}
			for _, want := range []int64{0, 7, 1 << 20} {
				buf, complete, err := readEntryPrefix(e, int64(len(data)), want)
				if err != nil {
					continue
				}
				if int64(len(buf)) > want {
					t.Fatalf("%s: asked for %d bytes, got %d", e.Name, want, len(buf))
				}
				if complete && uint64(len(buf)) != e.UncompressedSize64 {
					t.Fatalf("%s: complete read of %d bytes, header says %d", e.Name, len(buf), e.UncompressedSize64)
				}
				if !complete && int64(len(buf)) != want {
					t.Fatalf("%s: partial read of %d bytes, asked for %d", e.Name, len(buf), want)
				}
				if whole != nil && !bytes.Equal(buf, whole[:len(buf)]) {
					t.Fatalf("%s: bytes differ from archive/zip's", e.Name)
				}
			}
			if buf, err := readEntry(e, int64(len(data)), 64, "a test"); err == nil && (len(buf) > 64 || (whole != nil && !bytes.Equal(buf, whole))) {
				t.Fatalf("%s: readEntry with limit 64 gave %d bytes", e.Name, len(buf))
			}
		}
	})
}

// addLyingZipSeeds adds checkpoints whose deflated entries' headers lie
// about their sizes (FuzzParseTorch's seeds).
func addLyingZipSeeds(f *testing.F) {
	for _, declared := range []uint64{3, 1 << 40} {
		z, err := hostile.Zip(hostile.Entry{Name: "a/data.pkl", Parts: []hostile.Part{{Data: syntheticPickle(true)}}, DeclaredSize: declared},
			hostile.Entry{Name: "a/data/0", Parts: []hostile.Part{{Data: make([]byte, 256), Repeat: 4}}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(z)
	}
}
