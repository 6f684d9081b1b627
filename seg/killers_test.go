package seg_test

// Hand-computed cases for post-processing and window rules the golden
// cases do not pin down (docs/testing.md, issue 15's planted bugs).

import (
	"math"
	"testing"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/seg"
)

// SCLIP's area_thd: a foreground class whose argmax area is not above
// thd × the foreground argmax area loses its probabilities; background
// pixels do not count in that area.
func TestAreaFilterHandCase(t *testing.T) {
	// 10 pixels, 3 classes: argmax is background at 0-3, class 1 at 4-8,
	// class 2 at pixel 9. Foreground area = 6; class 2 has 1/6 ≈ 0.167.
	const C, HW = 3, 10
	base := make([]float32, C*HW)
	for i := 0; i < HW; i++ {
		best := 0
		switch {
		case i >= 4 && i <= 8:
			best = 1
		case i == 9:
			best = 2
		}
		for c := 0; c < C; c++ {
			base[c*HW+i] = 0.2
		}
		base[best*HW+i] = 0.6
	}
	for _, c := range []struct {
		thd  float64
		keep []bool
	}{
		{0.1, []bool{true, true, true}},   // 1 > 0.6
		{0.2, []bool{true, true, false}},  // 1 ≤ 1.2: class 2 removed
		{0.9, []bool{true, false, false}}, // 5 ≤ 5.4: class 1 too
	} {
		p := append([]float32(nil), base...)
		keep := seg.AreaFilter(p, C, HW, c.thd)
		for k := 0; k < C; k++ {
			if keep[k] != c.keep[k] {
				t.Fatalf("thd %g: keep %v, want %v", c.thd, keep, c.keep)
			}
			for i := 0; i < HW; i++ {
				want := base[k*HW+i]
				if !c.keep[k] {
					want = 0
				}
				if p[k*HW+i] != want {
					t.Fatalf("thd %g: class %d pixel %d probability %g, want %g", c.thd, k, i, p[k*HW+i], want)
				}
			}
		}
		labels := seg.Labels(p, C, HW, 0)
		if c.thd == 0.2 && labels[9] == 2 {
			t.Fatalf("thd 0.2: pixel 9 still labelled with the removed class 2")
		}
	}
}

// ClearCLIP's compute_padsize: a crop of n pixels is padded by
// p = patch − n mod patch, p//2 on the left (top) and the rest on the
// right (bottom), with F.pad(img, (l, r, t, b)). The crops the encoder
// receives show where the photo landed.
func TestPadToPatchSides(t *testing.T) {
	const patch = 16
	for _, c := range []struct{ H, W, crop int }{
		{21, 40, 25}, // crop 21x25: pads 11 → 5 top, 6 bottom; 7 → 3 left, 4 right
		{40, 30, 33}, // crop 33x30: 15 → 7/8; 2 → 1/1
		{17, 17, 17}, // 15 → 7/8 both ways
		{31, 48, 31}, // 1 → 0/1 rows; 31 → 0/1 columns
		{32, 32, 32}, // no padding
	} {
		img := make([]float32, 3*c.H*c.W)
		for i := range img {
			img[i] = float32(i%(c.H*c.W) + 1) // nonzero, unique per pixel
		}
		rects := seg.Windows(c.H, c.W, c.crop, c.crop/2+1)
		ch, cw := rects[0].Y1-rects[0].Y0, rects[0].X1-rects[0].X0
		padT := (patch - ch%patch) % patch
		padL := (patch - cw%patch) % patch
		top, left := padT/2, padL/2
		ih, iw := ch+padT, cw+padL
		calls := 0
		enc := func(imgs []float32, B, H, W int) (*dense.Features, error) {
			if H != ih || W != iw {
				t.Fatalf("%+v: encoder got %dx%d crops, want %dx%d", c, H, W, ih, iw)
			}
			for b := 0; b < B; b++ {
				r := rects[calls+b]
				crop := imgs[b*3*H*W : b*3*H*W+H*W] // channel 0
				for y := 0; y < H; y++ {
					for x := 0; x < W; x++ {
						want := float32(0)
						if yy, xx := y-top, x-left; yy >= 0 && yy < ch && xx >= 0 && xx < cw {
							want = img[(r.Y0+yy)*c.W+r.X0+xx]
						}
						if crop[y*W+x] != want {
							t.Fatalf("%+v crop %d: padded pixel (%d,%d) = %g, want %g (pads top %d left %d)", c, calls+b, y, x, crop[y*W+x], want, top, left)
						}
					}
				}
			}
			calls += B
			gh, gw := H/patch, W/patch
			f := &dense.Features{B: B, GH: gh, GW: gw, E: 2, Data: make([]float32, B*(1+gh*gw)*2)}
			for i := range f.Data {
				f.Data[i] = float32(1 + i%3)
			}
			return f, nil
		}
		lg, err := seg.Infer(seg.Job{Encode: enc, Input: img, H: c.H, W: c.W, Classifier: []float32{1, 0}, Q: 1, E: 2, Window: seg.Window{Crop: c.crop, Stride: c.crop/2 + 1, PadToPatch: true}, Patch: patch, OutH: c.H, OutW: c.W})
		if err != nil {
			t.Fatal(err)
		}
		if calls != len(rects) || len(lg.Data) != c.H*c.W {
			t.Fatalf("%+v: %d crops encoded of %d, %d logits", c, calls, len(rects), len(lg.Data))
		}
	}
}

// Smoothed min pooling covers the top ⌈q·n⌉ pixels: with 10 pixels and
// q = 0.25 that is 3 (floor would give 2). Values by hand, τ = 1.
func TestSmoothMinTopQRounding(t *testing.T) {
	// Class 0: logits 5, 4, 1 and seven zeros; class 1: all 3. Scale 1.
	const HW = 10
	data := make([]float32, 2*HW)
	data[0], data[1], data[2] = 5, 4, 1
	for i := HW; i < 2*HW; i++ {
		data[i] = 3
	}
	lg := &seg.Logits{Q: 2, H: 1, W: HW, Data: data, CLS: []float32{0, 0}}
	o := seg.PartialOptions{Enabled: true, Pool: seg.PoolSmoothMin, Tau: 1, TopQ: 0.25, Thd: 0}
	r := seg.PartialLabels(lg, []int{0, 1}, 2, 1, false, o)
	// top 3 of class 0: {5, 4, 1}: 1 − log((e^−4 + e^−3 + e^0)/3).
	s0 := 1 - math.Log((math.Exp(-4)+math.Exp(-3)+1)/3)
	s1 := 3.0
	want0 := math.Exp(s0) / (math.Exp(s0) + math.Exp(s1))
	if !numtest.Near(r.Scores[0], want0, 1e-12) || !numtest.Near(r.Scores[1], 1-want0, 1e-12) {
		t.Fatalf("scores %v, want %g, %g (top 3 of 10 pixels)", r.Scores, want0, 1-want0)
	}
	// Over the top 3 class 0 scores ≈ 2.03 and loses to class 1; over the
	// top 2 ({5, 4}) it would score 4 − log((e^−1+1)/2) ≈ 4.38 and win.
	if r.Scores[0] >= r.Scores[1] {
		t.Fatalf("class 0 scores %g ≥ class 1 %g", r.Scores[0], r.Scores[1])
	}
}
