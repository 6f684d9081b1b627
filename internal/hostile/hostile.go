// Package hostile builds decompression bombs for tests at test time, and
// measures what a call costs in memory, so that the hostile-input suites of
// the readers (docs/model-files.md) need no stored bombs.
//
// A bomb is built without compressing its content: one DEFLATE chunk of a
// repeated unit is made once and repeated, which is valid because a chunk
// ended by a sync flush is a run of non-final blocks ending on a byte
// boundary (RFC 1951 3.2.3). A gigabyte of zeros so costs a few hundred
// milliseconds (the CRC) and about a megabyte of memory.
package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Part is a piece of decompressed content: Data repeated Repeat times
// (once when Repeat is 0).
type Part struct {
	Data   []byte
	Repeat int64
}

// Size is the decompressed size of the parts.
func Size(parts ...Part) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p.Data)) * max(p.Repeat, 1)
	}
	return n
}

// chunk compresses data and ends with a sync flush: non-final blocks only.
func chunk(data []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(data)
	w.Flush()
	return b.Bytes()
}

// finalBlock is an empty final stored block (BFINAL=1, BTYPE=00, LEN=0,
// NLEN=0xffff): it ends a DEFLATE stream after sync-flushed chunks.
var finalBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

// Deflate writes the raw DEFLATE stream of the parts to w and returns the
// CRC-32 of the decompressed content. A part's Data should be a large
// unit (e.g. 1 MiB) so the stream stays small.
func Deflate(w io.Writer, parts ...Part) (uint32, error) {
	var crc uint32
	for _, p := range parts {
		c := chunk(p.Data)
		for range max(p.Repeat, 1) {
			if _, err := w.Write(c); err != nil {
				return 0, err
			}
			crc = crc32.Update(crc, crc32.IEEETable, p.Data)
		}
	}
	_, err := w.Write(finalBlock)
	return crc, err
}

// Gzip returns a gzip file (RFC 1952) of the parts.
func Gzip(parts ...Part) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	crc, _ := Deflate(&b, parts...)
	b.Write(binary.LittleEndian.AppendUint32(nil, crc))
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(Size(parts...))))
	return b.Bytes()
}

// Entry is one file of a zip archive: either Parts (deflated, with the true
// sizes in its header unless DeclaredSize is set) or Stored bytes.
type Entry struct {
	Name   string
	Parts  []Part
	Stored []byte
	// DeclaredSize, when > 0, replaces the uncompressed size written in the
	// headers (a lying header).
	DeclaredSize uint64
}

// Zip returns a zip archive of the entries.
func Zip(entries ...Entry) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		if e.Parts == nil {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: e.Name, Method: zip.Store})
			if err != nil {
				return nil, err
			}
			w.Write(e.Stored)
			continue
		}
		var raw bytes.Buffer
		crc, err := Deflate(&raw, e.Parts...)
		if err != nil {
			return nil, err
		}
		size := uint64(Size(e.Parts...))
		if e.DeclaredSize > 0 {
			size = e.DeclaredSize
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.Name, Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(raw.Len()), UncompressedSize64: size})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(raw.Bytes()); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Cost is what a call cost in memory.
type Cost struct {
	// Allocated is the heap bytes allocated during the call (runtime/metrics
	// /gc/heap/allocs:bytes), whether freed or not: an upper bound of the
	// heap it grew by, independent of when the GC ran.
	Allocated uint64
	// PeakRSS is the rise of the process's peak resident memory over its
	// resident memory before the call (VmHWM after, VmRSS before, with the
	// peak reset through /proc/self/clear_refs), or -1 where /proc is not
	// available.
	PeakRSS int64
}

func (c Cost) String() string {
	return fmt.Sprintf("allocated %.1f MiB, peak RSS %+.1f MiB", float64(c.Allocated)/(1<<20), float64(c.PeakRSS)/(1<<20))
}

// Measure runs f and returns its memory cost.
func Measure(f func()) Cost {
	// Collect and return freed memory to the OS first, so that what f
	// allocates needs fresh pages and shows in the peak RSS.
	debug.FreeOSMemory()
	rssBefore := procStatus("VmRSS")
	if rssBefore >= 0 {
		// "5" resets the peak RSS (VmHWM) to the current RSS (proc(5)).
		if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) != nil {
			rssBefore = -1
		}
	}
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	a0 := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	c := Cost{Allocated: s[0].Value.Uint64() - a0, PeakRSS: -1}
	if rssBefore >= 0 {
		if hwm := procStatus("VmHWM"); hwm >= 0 {
			c.PeakRSS = hwm - rssBefore
		}
	}
	return c
}

// procStatus reads one "kB" field of /proc/self/status in bytes, or -1.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return n << 10
		}
	}
	return -1
}
