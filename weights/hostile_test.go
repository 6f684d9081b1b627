package weights

import (
	"bytes"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/hostile"
)

// Hostile checkpoints, built at test time (internal/hostile): each is about
// a megabyte but decompresses to gigabytes. Reading one must cost memory in
// proportion to what a real checkpoint of its tensors needs, never to what
// it decompresses to; the bounds are checked on the process's own
// accounting of allocations and peak RSS.

var zeros1M = make([]byte, 1<<20)

// oneStorageZip is a checkpoint with one tensor "w" of 16 floats viewing
// storage "0", which declares storNumel elements, and the given blob.
func oneStorageZip(t *testing.T, storNumel int64, blob hostile.Entry) []byte {
	t.Helper()
	p := newPW(false)
	p.op('}')
	p.mark()
	p.str("w")
	p.tensor(stor{"FloatStorage", "0", storNumel}, 0, []int64{4, 4}, []int64{4, 1})
	p.op('u')
	blob.Name = "a/data/0"
	z, err := hostile.Zip(hostile.Entry{Name: "a/data.pkl", Stored: p.stop()}, blob)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func parseMeasured(t *testing.T, z []byte) (*File, hostile.Cost, error) {
	t.Helper()
	var f *File
	var err error
	c := hostile.Measure(func() { f, err = ParseTorch(bytes.NewReader(z), int64(len(z)), "bomb.pt") })
	t.Logf("%d-byte file: %v", len(z), c)
	return f, c, err
}

func checkCost(t *testing.T, c hostile.Cost, limit uint64) {
	t.Helper()
	if c.Allocated > limit {
		t.Errorf("allocated %d bytes, want at most %d", c.Allocated, limit)
	}
	if c.PeakRSS > int64(limit)+32<<20 {
		t.Errorf("peak RSS rose by %d bytes, want at most %d", c.PeakRSS, int64(limit)+32<<20)
	}
}

func TestHostilePickleOfZeros(t *testing.T) {
	pkl := []hostile.Part{{Data: zeros1M, Repeat: 1024}} // 1 GiB
	for _, tc := range []struct {
		name     string
		declared uint64
		err      string
	}{{"true size", 0, "16777216 bytes allowed for a pickle"}, {"header claims 100 bytes", 100, "more than the 100 bytes its header declares"}} {
		t.Run(tc.name, func(t *testing.T) {
			z, err := hostile.Zip(hostile.Entry{Name: "a/data.pkl", Parts: pkl, DeclaredSize: tc.declared},
				hostile.Entry{Name: "a/data/0", Stored: make([]byte, 64)})
			if err != nil {
				t.Fatal(err)
			}
			_, c, err := parseMeasured(t, z)
			wantErr(t, err, "bomb.pt", "a/data.pkl", tc.err)
			checkCost(t, c, 48<<20) // the 16 MiB limit, read with doubling growth
		})
	}
}

func TestHostileStorageBlob(t *testing.T) {
	blob := []hostile.Part{{Data: zeros1M, Repeat: 1536}} // 1.5 GiB
	for _, tc := range []struct {
		name  string
		numel int64
	}{
		{"storage declares 16 elements", 16},
		{"storage declares the whole blob, the view needs 16", 1536 << 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := oneStorageZip(t, tc.numel, hostile.Entry{Parts: blob})
			f, c, err := parseMeasured(t, z)
			if err != nil {
				t.Fatal(err)
			}
			w := f.Tensors["w"]
			if w == nil || len(w.F32) != 16 || w.F32[15] != 0 {
				t.Fatalf("tensor w = %+v, want 16 zeros", w)
			}
			checkCost(t, c, 4<<20)
		})
	}
	// A blob shorter than its storage claims is still refused (the check
	// that reading a prefix must not lose).
	z := oneStorageZip(t, 16, hostile.Entry{Parts: []hostile.Part{{Data: make([]byte, 60)}}})
	_, _, err := parseMeasured(t, z)
	wantErr(t, err, "bomb.pt", `storage "0"`, "blob has 60 bytes", "16 elements = 64 bytes")
	// So is one whose header claims less than the storage needs.
	z = oneStorageZip(t, 1536<<18, hostile.Entry{Parts: blob, DeclaredSize: 1 << 20})
	_, _, err = parseMeasured(t, z)
	wantErr(t, err, "bomb.pt", `storage "0"`, "blob has 1048576 bytes")
}

// Pickles under the size limit whose opcodes build far more than their
// bytes: each must stop at the value or memo limit with little memory.
func TestHostilePickleOpcodes(t *testing.T) {
	flood := func(head, unit []byte) []byte {
		b := append([]byte{0x80, 2}, head...)
		b = append(b, bytes.Repeat(unit, (maxPickleBytes-100)/len(unit))...)
		return append(b, '.')
	}
	for _, tc := range []struct {
		name string
		pkl  []byte
		err  string
	}{
		{"DUP", flood([]byte{'N'}, []byte{'2'}), "values pushed"},
		{"dicts appended to a list", flood([]byte{']'}, []byte{'}', 'a'}), "values pushed"},
		{"MEMOIZE", flood([]byte{'N'}, []byte{0x94}), "memo entries"},
		{"BINPUT", nil, ""},
	} {
		if tc.name == "BINPUT" {
			// Distinct LONG_BINPUT keys: r + 4-byte index.
			b := []byte{0x80, 2, 'N'}
			for i := uint32(0); len(b) < maxPickleBytes-10; i++ {
				b = append(b, 'r', byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
			}
			tc.pkl, tc.err = append(b, '.'), "memo entries"
		}
		t.Run(tc.name, func(t *testing.T) {
			var err error
			c := hostile.Measure(func() { _, err = collectRefs("bomb.pkl", tc.pkl, false) })
			t.Logf("%d-byte pickle: %v", len(tc.pkl), c)
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "bomb.pkl") {
				t.Fatalf("error %v, want one about %q", err, tc.err)
			}
			checkCost(t, c, 256<<20)
		})
	}
}
