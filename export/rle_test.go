package export

import (
	"reflect"
	"testing"
)

// square is a w×h row-major mask with [lo, hi) × [lo, hi) set.
func square(w, h, lo, hi int) []bool {
	m := make([]bool, w*h)
	for y := lo; y < hi; y++ {
		for x := lo; x < hi; x++ {
			m[y*w+x] = true
		}
	}
	return m
}

// Encodings pycocotools gives for 25×25 masks with one 5×5 square set
// (mask.encode(np.asfortranarray(m)) with m[a:b, a:b] = 1), as published
// in the test suite of pytorchcocotools, which checks itself against
// pycocotools.
func TestCompressKnownPycocotools(t *testing.T) {
	for _, c := range []struct {
		lo, hi int
		want   string
	}{
		{0, 5, "05d00000000d?"},
		{5, 10, "R45d00000000b;"},
		{20, 25, "X`05d00000000"},
	} {
		m := square(25, 25, c.lo, c.hi)
		counts := EncodeMask(m, 25, 25)
		if got := CompressCounts(counts); got != c.want {
			t.Errorf("square [%d,%d): %q, want %q (counts %v)", c.lo, c.hi, got, c.want, counts)
		}
		back, err := DecompressCounts(c.want, 25, 25)
		if err != nil {
			t.Fatal(err)
		}
		mask, err := DecodeMask(back, 25, 25)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(mask, m) {
			t.Errorf("square [%d,%d): decoding %q gives another mask", c.lo, c.hi, c.want)
		}
	}
}

// Cases computed by hand from maskApi.c's rleToString.
func TestCompressHandComputed(t *testing.T) {
	for _, c := range []struct {
		counts []uint32
		want   string
	}{
		// Small values are one character each, '0'+x; the fourth run is
		// stored as its difference from the second: 4-2 = 2.
		{[]uint32{1, 2, 3, 4}, "1232"},
		// 40 = 0b01000_01000: low group 8 with the continuation bit
		// (8|32)+48 = 'X', then 1 = '1'. The fourth run 3-40 = -37:
		// low group 27 (-37 & 31) with continuation, (27|32)+48 = 'k';
		// then -37>>5 = -2, group 30 (sign bit 0x10 set, and -2>>5 = -1
		// ends it), 30+48 = 'N'.
		{[]uint32{0, 40, 2, 3}, "0X12kN"},
		// 20 has bit 0x10 set, so a zero group must follow: 'd','0'.
		{[]uint32{20}, "d0"},
		{[]uint32{4}, "4"},
		{[]uint32{0, 4}, "04"},
		{nil, ""},
	} {
		if got := CompressCounts(c.counts); got != c.want {
			t.Errorf("CompressCounts(%v) = %q, want %q", c.counts, got, c.want)
		}
		var total uint32
		for _, x := range c.counts {
			total += x
		}
		back, err := DecompressCounts(c.want, int(total), 1)
		if err != nil {
			t.Fatalf("DecompressCounts(%q): %v", c.want, err)
		}
		if len(back) != len(c.counts) || (len(back) > 0 && !reflect.DeepEqual(back, c.counts)) {
			t.Errorf("DecompressCounts(%q) = %v, want %v", c.want, back, c.counts)
		}
	}
}

func TestEncodeMaskColumnMajor(t *testing.T) {
	// 3 wide, 2 high:  row 0: 1 0 0
	//                  row 1: 1 1 0
	// column-major: (0,0)=1 (0,1)=1 (1,0)=0 (1,1)=1 (2,0)=0 (2,1)=0
	m := []bool{true, false, false, true, true, false}
	if got, want := EncodeMask(m, 3, 2), []uint32{0, 2, 1, 1, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("EncodeMask = %v, want %v", got, want)
	}
	all0 := make([]bool, 6)
	if got := EncodeMask(all0, 3, 2); !reflect.DeepEqual(got, []uint32{6}) {
		t.Errorf("empty mask: %v, want [6]", got)
	}
}

func TestEncodeRegionsMatchesEncodeMask(t *testing.T) {
	// Region ids on a 4×3 map; -1 and 7 belong to no region.
	ids := []int32{
		0, 0, 1, -1,
		2, 1, 1, 7,
		2, 2, 0, 0,
	}
	got := encodeRegions(ids, 4, 3, 4)
	for r := 0; r < 4; r++ {
		m := make([]bool, len(ids))
		any := false
		for i, id := range ids {
			m[i] = id == int32(r)
			any = any || m[i]
		}
		if !any {
			if got[r] != nil {
				t.Errorf("region %d is empty but has runs %v", r, got[r])
			}
			continue
		}
		if want := EncodeMask(m, 4, 3); !reflect.DeepEqual(got[r], want) {
			t.Errorf("region %d: %v, want %v", r, got[r], want)
		}
	}
}

func TestDecompressErrors(t *testing.T) {
	for _, c := range []struct {
		s    string
		h, w int
	}{
		{"5", 2, 2},         // 5 pixels in a 4-pixel mask
		{"3", 2, 2},         // 3 of 4
		{"X", 2, 2},         // ends inside a value (continuation bit set)
		{"0 4", 2, 2},       // ' ' is outside '0'..'o'
		{"p", 2, 2},         // 'p' too
		{"0N", 2, 2},        // second run -2
		{"XXXXXXXX1", 2, 2}, // a value of 9 groups
		{"4", -1, 2},
	} {
		if _, err := DecompressCounts(c.s, c.h, c.w); err == nil {
			t.Errorf("DecompressCounts(%q, %d, %d): no error", c.s, c.h, c.w)
		}
	}
}

func FuzzDecompressCounts(f *testing.F) {
	for _, s := range []string{"05d00000000d?", "R45d00000000b;", "0X12kN", "d0", "", "X", "0N"} {
		f.Add(s, 5, 9)
	}
	f.Fuzz(func(t *testing.T, s string, h, w int) {
		if h > 64 || w > 64 {
			return // the mask is expanded below
		}
		counts, err := DecompressCounts(s, h, w)
		if err != nil {
			return
		}
		mask, err := DecodeMask(counts, w, h)
		if err != nil {
			t.Fatalf("%q decompressed but does not decode: %v", s, err)
		}
		// Re-encoding gives the same mask (the runs may differ only by
		// empty runs, which EncodeMask never writes).
		re := CompressCounts(EncodeMask(mask, w, h))
		back, err := DecompressCounts(re, h, w)
		if err != nil {
			t.Fatalf("re-encoding %q as %q: %v", s, re, err)
		}
		mask2, _ := DecodeMask(back, w, h)
		if !reflect.DeepEqual(mask, mask2) {
			t.Fatalf("%q and its re-encoding %q differ", s, re)
		}
	})
}
