package export

import "fmt"

// Connectivity is which neighbours join pixels into one component.
type Connectivity int

const (
	// Four joins pixels that share an edge (left, right, up, down).
	Four Connectivity = 4
	// Eight also joins pixels that touch at a corner (as OpenCV's
	// connectedComponents and scikit-image's label by default).
	Eight Connectivity = 8
)

// ParseConnectivity reads 4 or 8.
func ParseConnectivity(n int) (Connectivity, error) {
	switch n {
	case 4:
		return Four, nil
	case 8:
		return Eight, nil
	}
	return 0, fmt.Errorf("connectivity %d: want 4 or 8", n)
}

// Components labels the connected components of a row-major w×h label
// map: pixels with the same label that are neighbours (as conn says) get
// the same component id, numbered from 0 in the order of their first
// pixel in row-major order. Pixels whose label is in skip (such as the
// background) get -1. It returns the component map, each component's
// label and its pixel count.
func Components(labels []int32, w, h int, conn Connectivity, skip func(int32) bool) (comp []int32, label []int32, area []int) {
	comp = make([]int32, w*h)
	for i := range comp {
		comp[i] = -1
	}
	var stack []int
	for start, l := range labels {
		if comp[start] >= 0 || (skip != nil && skip(l)) {
			continue
		}
		id := int32(len(label))
		label = append(label, l)
		n := 0
		comp[start] = id
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			x, y := i%w, i/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if (dx == 0 && dy == 0) || (conn == Four && dx != 0 && dy != 0) {
						continue
					}
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					j := ny*w + nx
					if comp[j] < 0 && labels[j] == l {
						comp[j] = id
						stack = append(stack, j)
					}
				}
			}
		}
		area = append(area, n)
	}
	return comp, label, area
}
