package export

import (
	"reflect"
	"testing"
)

func TestComponentsDiagonal(t *testing.T) {
	// Two pixels touching only at a corner: separate under 4-connectivity,
	// one component under 8.
	labels := []int32{
		1, 0,
		0, 1,
	}
	skip0 := func(l int32) bool { return l == 0 }
	comp, lab, area := Components(labels, 2, 2, Four, skip0)
	if want := []int32{0, -1, -1, 1}; !reflect.DeepEqual(comp, want) || len(area) != 2 || !reflect.DeepEqual(lab, []int32{1, 1}) {
		t.Errorf("4-connectivity: %v (areas %v), want %v", comp, area, want)
	}
	comp, lab, area = Components(labels, 2, 2, Eight, skip0)
	if want := []int32{0, -1, -1, 0}; !reflect.DeepEqual(comp, want) || !reflect.DeepEqual(area, []int{2}) || !reflect.DeepEqual(lab, []int32{1}) {
		t.Errorf("8-connectivity: %v (labels %v, areas %v), want %v", comp, lab, area, want)
	}
}

func TestComponentsNoWrapAtRowEnd(t *testing.T) {
	// Pixel (2,0) and (0,1) are neighbours in memory (indices 2 and 3)
	// but not in the image: they must stay apart under both rules.
	labels := []int32{
		0, 0, 1,
		1, 0, 0,
		0, 0, 0,
	}
	for _, conn := range []Connectivity{Four, Eight} {
		comp, _, area := Components(labels, 3, 3, conn, func(l int32) bool { return l == 0 })
		if len(area) != 2 || comp[2] == comp[3] {
			t.Errorf("connectivity %d: %v, want two components", conn, comp)
		}
	}
}

func TestComponentsSeparatesLabels(t *testing.T) {
	// Adjacent pixels of different labels are different components; no
	// skip function means every label counts, 0 included.
	labels := []int32{
		2, 2, 3,
		2, 3, 3,
	}
	comp, lab, area := Components(labels, 3, 2, Four, nil)
	if want := []int32{0, 0, 1, 0, 1, 1}; !reflect.DeepEqual(comp, want) {
		t.Errorf("comp %v, want %v", comp, want)
	}
	if !reflect.DeepEqual(lab, []int32{2, 3}) || !reflect.DeepEqual(area, []int{3, 3}) {
		t.Errorf("labels %v areas %v", lab, area)
	}
	// A U shape is one component though the scan meets its arms first.
	u := []int32{
		1, 0, 1,
		1, 0, 1,
		1, 1, 1,
	}
	_, _, area = Components(u, 3, 3, Four, func(l int32) bool { return l == 0 })
	if !reflect.DeepEqual(area, []int{7}) {
		t.Errorf("U shape: areas %v, want [7]", area)
	}
}

func TestParseConnectivity(t *testing.T) {
	for _, n := range []int{0, 2, 6, -4} {
		if _, err := ParseConnectivity(n); err == nil {
			t.Errorf("ParseConnectivity(%d): no error", n)
		}
	}
}

func BenchmarkInstances(b *testing.B) {
	// A 640×480 map of 21 classes in 40-pixel stripes and blocks.
	const W, H = 640, 480
	r := testResult(W, H, 21)
	for i := range r.Labels {
		x, y := i%W, i/W
		r.Labels[i] = int32((x/40 + 3*(y/40)) % 21)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Instances(r, true, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
