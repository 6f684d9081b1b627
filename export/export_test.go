package export

import (
	"bytes"
	"encoding/json"
	"image/png"
	"reflect"
	"testing"

	"github.com/freeseg/freeseg"
)

// testResult is a w×h result of C classes, every probability 0.
func testResult(w, h, C int) *freeseg.Result {
	r := &freeseg.Result{Width: w, Height: h, Labels: make([]int32, w*h), Probs: make([]float32, C*w*h)}
	for c := 0; c < C; c++ {
		r.Classes = append(r.Classes, []string{"background", "cat", "dog", "sky"}[c%4])
	}
	return r
}

// handResult: 6×4, background 0, cat 1, dog 2.
//
//	y0: 1 1 0 0 0 2
//	y1: 1 1 0 0 0 2
//	y2: 0 0 0 1 0 2
//	y3: 0 0 0 0 0 0
//
// Cat: a 2×2 block (prob 0.8 and 0.6) and one pixel at (3,2) (0.9);
// dog: a 1×3 bar at x=5 (0.5 each).
func handResult() *freeseg.Result {
	r := testResult(6, 4, 3)
	r.Classes = []string{"background", "cat", "dog"}
	copy(r.Labels, []int32{
		1, 1, 0, 0, 0, 2,
		1, 1, 0, 0, 0, 2,
		0, 0, 0, 1, 0, 2,
		0, 0, 0, 0, 0, 0,
	})
	HW := 24
	for _, i := range []int{0, 1} {
		r.Probs[HW+i] = 0.8
	}
	for _, i := range []int{6, 7} {
		r.Probs[HW+i] = 0.6
	}
	r.Probs[HW+15] = 0.9
	for _, i := range []int{5, 11, 17} {
		r.Probs[2*HW+i] = 0.5
	}
	return r
}

func TestInstancesHand(t *testing.T) {
	r := handResult()
	o := DefaultOptions()
	o.MinArea = 2
	inst, dropped, err := Instances(r, true, o)
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 0 || len(inst) != 2 {
		t.Fatalf("%d instances (%d dropped), want 2: %+v", len(inst), dropped, inst)
	}
	cat, dog := inst[0], inst[1]
	if cat.ID != 1 || cat.Class != 1 || cat.Name != "cat" || cat.Area != 4 || cat.Box != [4]int{0, 0, 2, 2} || cat.MeanProb != 0.7 {
		t.Errorf("cat instance %+v", cat)
	}
	if dog.ID != 2 || dog.Class != 2 || dog.Area != 3 || dog.Box != [4]int{5, 0, 1, 3} || dog.MeanProb != 0.5 {
		t.Errorf("dog instance %+v", dog)
	}
	// Cat block, column-major over 4 rows: 2 ones, 2 zeros, 2 ones, the
	// other 18 pixels zeros.
	if want := []uint32{0, 2, 2, 2, 18}; !reflect.DeepEqual(cat.counts, want) {
		t.Errorf("cat runs %v, want %v", cat.counts, want)
	}
	// Dog: columns 0..4 (20 pixels) zero, then 3 ones, then 1 zero.
	if want := []uint32{20, 3, 1}; !reflect.DeepEqual(dog.counts, want) {
		t.Errorf("dog runs %v, want %v", dog.counts, want)
	}
	if cat.Mask.Size != [2]int{4, 6} || cat.Mask.Counts != CompressCounts(cat.counts) {
		t.Errorf("cat mask %+v", cat.Mask)
	}

	// Area 1 keeps the single cat pixel too; MaxInstances 2 then drops
	// the smallest.
	o.MinArea = 1
	inst, _, _ = Instances(r, true, o)
	if len(inst) != 3 || inst[2].Area != 1 || inst[2].Box != [4]int{3, 2, 1, 1} || inst[2].MeanProb != 0.9 {
		t.Errorf("min area 1: %+v", inst)
	}
	o.MaxInstances = 2
	inst, dropped, _ = Instances(r, true, o)
	if len(inst) != 2 || dropped != 1 {
		t.Errorf("max 2: %d instances, %d dropped", len(inst), dropped)
	}
	// Without a background class, class 0 has instances too: the one
	// region of zeros around the objects (8-connected: the zeros at
	// (2..4, 0..2) and row 3 all touch).
	o = DefaultOptions()
	o.MinArea = 2
	inst, _, _ = Instances(r, false, o)
	if len(inst) != 3 || inst[0].Class != 0 || inst[0].Area != 24-8 {
		t.Errorf("no background: %+v", inst)
	}
	if _, _, err := Instances(r, true, Options{Connectivity: 6}); err == nil {
		t.Error("connectivity 6 accepted")
	}
}

func TestClassRegionsAndCOCO(t *testing.T) {
	r := handResult()
	regs := ClassRegions(r)
	if len(regs) != 3 {
		t.Fatalf("%d class regions, want 3", len(regs))
	}
	cat := regs[1]
	if cat.Class != 1 || cat.Area != 5 || cat.Box != [4]int{0, 0, 4, 3} || cat.MeanProb != 0.74 {
		t.Errorf("cat %+v", cat)
	}
	// Column 3 holds the single pixel at row 2: after the block, 2+4+2
	// zeros (rest of column 1, column 2, column 3 up to row 2), 1 one,
	// then 1+4+4 zeros.
	if want := []uint32{0, 2, 2, 2, 8, 1, 9}; !reflect.DeepEqual(cat.counts, want) {
		t.Errorf("cat runs %v, want %v", cat.counts, want)
	}

	res := COCOResults(7, "a.png", regs, true)
	if len(res) != 2 || res[0].CategoryID != 1 || res[0].CategoryName != "cat" || res[1].CategoryID != 2 || res[0].ImageID != 7 {
		t.Fatalf("COCO results %+v", res)
	}
	b, err := json.Marshal(res[0])
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	seg := back["segmentation"].(map[string]any)
	if !reflect.DeepEqual(seg["size"], []any{4.0, 6.0}) || seg["counts"] != CompressCounts(cat.counts) || back["score"] != 0.74 {
		t.Errorf("COCO JSON %s", b)
	}
	// Without background every class is a category, ids from 1.
	if res := COCOResults(1, "", regs, false); len(res) != 3 || res[0].CategoryID != 1 || res[0].CategoryName != "background" {
		t.Errorf("no background: %+v", res)
	}
}

func TestWriteMaskPNG(t *testing.T) {
	r := handResult()
	var buf bytes.Buffer
	if err := WriteMaskPNG(&buf, r.Labels, 6, 4, 2); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 4; y++ {
		for x := 0; x < 6; x++ {
			g, _, _, _ := img.At(x, y).RGBA()
			want := uint32(0)
			if x == 5 && y < 3 {
				want = 0xffff
			}
			if g != want {
				t.Errorf("pixel (%d,%d) = %#x, want %#x", x, y, g, want)
			}
		}
	}
	if err := WriteMaskPNG(&buf, r.Labels, 5, 4, 2); err == nil {
		t.Error("wrong size accepted")
	}
}
