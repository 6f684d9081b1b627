package export

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"sort"

	"github.com/freeseg/freeseg"
)

// Options of Instances.
type Options struct {
	// MinArea drops components of fewer pixels (noise specks).
	MinArea int
	// Connectivity joins pixels into components (Four or Eight).
	Connectivity Connectivity
	// MaxInstances keeps the largest ones per image (0 means
	// DefaultMaxInstances): a noisy map could have millions of specks.
	MaxInstances int
}

// DefaultOptions: 8-connectivity, 64 pixels (an 8×8 patch) at least, at
// most 1000 instances per image.
func DefaultOptions() Options {
	return Options{MinArea: 64, Connectivity: Eight, MaxInstances: DefaultMaxInstances}
}

// DefaultMaxInstances bounds the instances of one image.
const DefaultMaxInstances = 1000

// Validate checks the options.
func (o Options) Validate() error {
	if o.MinArea < 0 {
		return fmt.Errorf("instance minimum area %d must not be negative", o.MinArea)
	}
	if _, err := ParseConnectivity(int(o.Connectivity)); err != nil {
		return err
	}
	if o.MaxInstances < 0 {
		return fmt.Errorf("maximum instances %d must not be negative", o.MaxInstances)
	}
	return nil
}

// Region is a class's mask or one instance of it.
type Region struct {
	ID       int      `json:"id,omitempty"` // instances: 1, 2, ... by decreasing area
	Class    int      `json:"class"`        // index into the result's classes
	Name     string   `json:"name"`
	Box      [4]int   `json:"box"` // x, y, width, height in pixels (COCO's bbox)
	Area     int      `json:"area"`
	MeanProb float64  `json:"mean_prob"` // mean probability of the class over the region's pixels
	Mask     RLE      `json:"segmentation"`
	counts   []uint32 // uncompressed runs, for tests
}

// ClassRegions returns one region per class present in r's label map (the
// background class included, when there is one), in class order.
func ClassRegions(r *freeseg.Result) []Region {
	C := len(r.Classes)
	area := make([]int, C)
	for _, l := range r.Labels {
		if l >= 0 && int(l) < C {
			area[l]++
		}
	}
	return regions(r, r.Labels, C, func(id int) int { return id }, area)
}

// Instances returns the connected components of each class's mask, the
// background class left out when background is set, with at least
// o.MinArea pixels, largest first (at most o.MaxInstances; dropped says
// how many more there were above the area threshold).
func Instances(r *freeseg.Result, background bool, o Options) (inst []Region, dropped int, err error) {
	if err := o.Validate(); err != nil {
		return nil, 0, err
	}
	if o.MaxInstances == 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	skip := func(l int32) bool { return l < 0 || int(l) >= len(r.Classes) || (background && l == 0) }
	comp, label, area := Components(r.Labels, r.Width, r.Height, o.Connectivity, skip)
	// Keep the largest components above the threshold; renumber them
	// 0..k-1 in that order and drop the others from the map.
	order := make([]int, 0, len(area))
	for id, a := range area {
		if a >= o.MinArea {
			order = append(order, id)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return area[order[a]] > area[order[b]] })
	if len(order) > o.MaxInstances {
		dropped = len(order) - o.MaxInstances
		order = order[:o.MaxInstances]
	}
	newID := make([]int32, len(area))
	for i := range newID {
		newID[i] = -1
	}
	keptArea := make([]int, len(order))
	for k, id := range order {
		newID[id] = int32(k)
		keptArea[k] = area[id]
	}
	for i, c := range comp {
		if c >= 0 {
			comp[i] = newID[c]
		}
	}
	inst = regions(r, comp, len(order), func(k int) int { return int(label[order[k]]) }, keptArea)
	for k := range inst {
		inst[k].ID = k + 1
	}
	return inst, dropped, nil
}

// regions measures the n regions of the id map (ids outside 0..n-1 in
// none); class gives each region's class, area its pixel count (regions
// of area 0 are left out).
func regions(r *freeseg.Result, ids []int32, n int, class func(int) int, area []int) []Region {
	W, H, HW := r.Width, r.Height, r.Width*r.Height
	minX, minY := make([]int, n), make([]int, n)
	maxX, maxY := make([]int, n), make([]int, n)
	sum := make([]float64, n)
	for k := 0; k < n; k++ {
		minX[k], minY[k], maxX[k], maxY[k] = W, H, -1, -1
	}
	cls := make([]int, n)
	for k := range cls {
		cls[k] = class(k)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= n {
			continue
		}
		x, y := i%W, i/W
		minX[id], maxX[id] = min(minX[id], x), max(maxX[id], x)
		minY[id], maxY[id] = min(minY[id], y), max(maxY[id], y)
		if len(r.Probs) == len(r.Classes)*HW {
			sum[id] += float64(r.Probs[cls[id]*HW+i])
		}
	}
	counts := encodeRegions(ids, W, H, n)
	var out []Region
	for k := 0; k < n; k++ {
		if area[k] == 0 {
			continue
		}
		out = append(out, Region{
			Class: cls[k], Name: r.Classes[cls[k]],
			Box:  [4]int{minX[k], minY[k], maxX[k] - minX[k] + 1, maxY[k] - minY[k] + 1},
			Area: area[k], MeanProb: round6(sum[k] / float64(area[k])),
			Mask:   RLE{Size: [2]int{H, W}, Counts: CompressCounts(counts[k])},
			counts: counts[k],
		})
	}
	return out
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// WriteMaskPNG writes the pixels labelled class as an 8-bit greyscale PNG,
// 255 inside and 0 outside.
func WriteMaskPNG(w io.Writer, labels []int32, W, H int, class int) error {
	if len(labels) != W*H {
		return fmt.Errorf("mask: %d labels for %dx%d pixels", len(labels), W, H)
	}
	img := image.NewGray(image.Rect(0, 0, W, H))
	for i, l := range labels {
		if int(l) == class {
			img.Pix[i] = 255
		}
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, img)
}

// COCOResult is one entry of a COCO results file (the list that
// pycocotools' COCO.loadRes reads): a mask of one category on one image,
// with its score. category_name, file_name, area and bbox are extra
// fields for readers without the category list; loadRes recomputes area
// and bbox from the mask.
type COCOResult struct {
	ImageID      int64   `json:"image_id"`
	FileName     string  `json:"file_name,omitempty"`
	CategoryID   int     `json:"category_id"`
	CategoryName string  `json:"category_name"`
	Segmentation RLE     `json:"segmentation"`
	Score        float64 `json:"score"`
	Area         int     `json:"area"`
	BBox         [4]int  `json:"bbox"`
	InstanceID   int     `json:"instance_id,omitempty"`
}

// CategoryID is the COCO category id of class c: the class's position in
// the user's class list, from 1 (the background class, when there is one,
// has none and gets 0).
func CategoryID(c int, background bool) int {
	if background {
		return c
	}
	return c + 1
}

// COCOResults turns regions of one image into COCO result entries, the
// background class left out; the score is the region's mean probability.
func COCOResults(imageID int64, fileName string, regs []Region, background bool) []COCOResult {
	var out []COCOResult
	for _, g := range regs {
		if background && g.Class == 0 {
			continue
		}
		out = append(out, COCOResult{ImageID: imageID, FileName: fileName, CategoryID: CategoryID(g.Class, background),
			CategoryName: g.Name, Segmentation: g.Mask, Score: g.MeanProb, Area: g.Area, BBox: g.Box, InstanceID: g.ID})
	}
	return out
}
