// Package export turns a segmentation into the formats other tools read:
// one binary mask per class, COCO run-length encodings (the compressed
// string form of pycocotools), and instances, the connected components of
// each class's mask with their box, area and mean probability
// (docs/outputs.md). It also writes the files of freeseg segment (label
// map, overlay, NAME.json, tensors) and freeseg explain (heat maps).
package export

import (
	"fmt"
	"strings"
)

// RLE is a mask in COCO's compressed run-length form, as pycocotools'
// mask.encode returns it (with counts decoded to a string): Size is
// [height, width], Counts the runs of the column-major mask, starting with
// a run of zeros, written by CompressCounts.
type RLE struct {
	Size   [2]int `json:"size"`
	Counts string `json:"counts"`
}

// CompressCounts writes run lengths as COCO's string (pycocotools'
// rleToString, Lin et al., "Microsoft COCO", 2014, and its maskApi.c):
// from the fourth run on, each run is stored as its difference from the
// run two places before; each value is written in 5-bit groups, low
// first, as the characters '0'+group, with 0x20 set on every group but
// the last, and the last group's 0x10 bit carrying the sign.
func CompressCounts(counts []uint32) string {
	var b strings.Builder
	b.Grow(2 * len(counts))
	for i, c := range counts {
		x := int64(c)
		if i > 2 { // pycocotools deltas from i > 2, not i >= 2
			x -= int64(counts[i-2])
		}
		for more := true; more; {
			g := byte(x & 0x1f)
			x >>= 5 // arithmetic shift: negative values end at -1
			if g&0x10 != 0 {
				more = x != -1
			} else {
				more = x != 0
			}
			if more {
				g |= 0x20
			}
			b.WriteByte(g + '0')
		}
	}
	return b.String()
}

// DecompressCounts reads a COCO counts string back into run lengths
// (pycocotools' rleFrString) and checks that they describe a mask of
// h×w pixels: every character in '0'..'o', no value past 32 bits, no
// negative run, and runs summing to h·w.
func DecompressCounts(s string, h, w int) ([]uint32, error) {
	if h < 0 || w < 0 || h > 1<<24 || w > 1<<24 {
		return nil, fmt.Errorf("rle: size [%d, %d] is outside 0..%d", h, w, 1<<24)
	}
	var counts []uint32
	var total int64
	for p := 0; p < len(s); {
		var x int64
		for k := 0; ; k++ {
			if p >= len(s) {
				return nil, fmt.Errorf("rle: counts end inside a value at character %d", p)
			}
			if k >= 7 { // 7 groups hold 35 bits, more than a uint32 needs
				return nil, fmt.Errorf("rle: value at character %d is longer than 7 characters", p)
			}
			ch := s[p]
			if ch < '0' || ch > '0'+63 {
				return nil, fmt.Errorf("rle: character %q at %d is outside '0'..'o'", ch, p)
			}
			g := int64(ch - '0')
			x |= (g & 0x1f) << (5 * k)
			p++
			if g&0x20 == 0 {
				if g&0x10 != 0 {
					x |= -1 << (5 * (k + 1))
				}
				break
			}
		}
		if m := len(counts); m > 2 {
			x += int64(counts[m-2])
		}
		if x < 0 || x > 1<<32-1 {
			return nil, fmt.Errorf("rle: run %d has length %d", len(counts), x)
		}
		counts = append(counts, uint32(x))
		total += x
		if total > int64(h)*int64(w) {
			return nil, fmt.Errorf("rle: runs cover more than the %d×%d = %d pixels", h, w, int64(h)*int64(w))
		}
	}
	if total != int64(h)*int64(w) {
		return nil, fmt.Errorf("rle: runs cover %d pixels, the %d×%d mask has %d", total, h, w, int64(h)*int64(w))
	}
	return counts, nil
}

// EncodeMask returns the column-major run lengths of a row-major mask of
// w×h pixels (true = inside), starting with the run of zeros (0 when the
// first pixel is inside), as pycocotools' rleEncode on a Fortran-order
// array.
func EncodeMask(mask []bool, w, h int) []uint32 {
	var counts []uint32
	var run uint32
	prev := false
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			if v := mask[y*w+x]; v != prev {
				counts = append(counts, run)
				run, prev = 0, v
			}
			run++
		}
	}
	return append(counts, run)
}

// DecodeMask expands column-major run lengths into a row-major w×h mask.
// The runs must sum to w·h (DecompressCounts checks that).
func DecodeMask(counts []uint32, w, h int) ([]bool, error) {
	mask := make([]bool, w*h)
	j, v := 0, false
	for _, c := range counts {
		if j+int(c) > w*h {
			return nil, fmt.Errorf("rle: runs cover more than %d pixels", w*h)
		}
		for k := 0; k < int(c); k++ {
			if v {
				x, y := (j+k)/h, (j+k)%h
				mask[y*w+x] = true
			}
		}
		j += int(c)
		v = !v
	}
	if j != w*h {
		return nil, fmt.Errorf("rle: runs cover %d pixels, the mask has %d", j, w*h)
	}
	return mask, nil
}

// encodeRegions returns the column-major run lengths of every region of
// a row-major w×h map of region ids in one pass over the pixels: region
// r's mask is the pixels where ids == r (ids outside 0..n-1 belong to
// none). Regions with no pixel get nil.
func encodeRegions(ids []int32, w, h, n int) [][]uint32 {
	counts := make([][]uint32, n)
	end := make([]int, n) // column-major index just past the region's last run
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			r := ids[y*w+x]
			if r < 0 || int(r) >= n {
				continue
			}
			j := x*h + y
			c := counts[r]
			if len(c) > 0 && end[r] == j {
				c[len(c)-1]++
			} else {
				c = append(c, uint32(j-end[r]), 1)
			}
			counts[r] = c
			end[r] = j + 1
		}
	}
	for r := range counts {
		if counts[r] != nil && end[r] < w*h {
			counts[r] = append(counts[r], uint32(w*h-end[r]))
		}
	}
	return counts
}
