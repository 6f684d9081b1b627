package eval

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/freeseg/freeseg/imageio"
)

// The legend beside a large image is enlarged by a whole factor: its panel
// is k times the panel drawn for a small image, pixel for pixel.
func TestOverlayLegendScales(t *testing.T) {
	names, colors := []string{"background", "cat"}, [][3]uint8{{0, 0, 0}, {128, 0, 0}}
	panel := imageio.DrawLegend(imageio.NewRGB(0, 0), names, colors)
	small := withLegend(imageio.NewRGB(40, 30), names, colors)
	if small.W != 40+panel.W {
		t.Fatalf("small image: width %d, want %d", small.W, 40+panel.W)
	}
	big := withLegend(imageio.NewRGB(50, 1600), names, colors)
	k := 3 // 1600/500
	if big.W != 50+k*panel.W || big.H != 1600 {
		t.Fatalf("1600-high image: %dx%d, want %dx1600", big.W, big.H, 50+k*panel.W)
	}
	for y := 0; y < k*panel.H; y++ {
		for x := 0; x < k*panel.W; x++ {
			got := big.Pix[3*(y*big.W+50+x) : 3*(y*big.W+50+x)+3]
			want := panel.Pix[3*((y/k)*panel.W+x/k) : 3*((y/k)*panel.W+x/k)+3]
			if !bytes.Equal(got, want) {
				t.Fatalf("legend pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	// OverlayImage uses it: a tall image gets the enlarged legend.
	img := imageio.NewRGB(20, 1000)
	gt := &LabelMap{W: 20, H: 1000, Pix: make([]uint8, 20*1000)}
	ov := OverlayImage(img, make([]int32, 20*1000), gt, []string{"background"})
	one := imageio.DrawLegend(imageio.NewRGB(0, 0), []string{"background"}, [][3]uint8{{0, 0, 0}})
	if ov.W != 2*20+8+2*one.W {
		t.Errorf("overlay of a 1000-high image is %d wide, want %d (legend enlarged 2x)", ov.W, 2*20+8+2*one.W)
	}
}

// A legend taller than the image (many classes beside a 1000-pixel image,
// enlarged twice) makes the output as tall as the enlarged legend; the
// image is copied row for row at the top left, white below it.
func TestOverlayLegendTallerThanImage(t *testing.T) {
	var names []string
	var colors [][3]uint8
	var panel *imageio.RGB
	for len(names) < 255 {
		names = append(names, fmt.Sprintf("class %d", len(names)))
		colors = append(colors, [3]uint8{uint8(len(names)), 0, 0})
		if panel = imageio.DrawLegend(imageio.NewRGB(0, 0), names, colors); 2*panel.H > 1000+10 {
			break
		}
	}
	if 2*panel.H <= 1000 {
		t.Fatalf("the legend of %d classes is %d high: not taller than the image", len(names), 2*panel.H)
	}
	img := imageio.NewRGB(7, 1000)
	for i := range img.Pix {
		img.Pix[i] = uint8(i%251) + 1 // never 0 nor 255, differs along every row and column
	}
	out := withLegend(img, names, colors)
	if out.W != 7+2*panel.W || out.H != 2*panel.H {
		t.Fatalf("%d classes beside a 7x1000 image: %dx%d, want %dx%d", len(names), out.W, out.H, 7+2*panel.W, 2*panel.H)
	}
	for y := 0; y < out.H; y++ {
		for x := 0; x < 7; x++ {
			got := out.Pix[3*(y*out.W+x) : 3*(y*out.W+x)+3]
			want := []uint8{255, 255, 255}
			if y < 1000 {
				want = img.Pix[3*(y*7+x) : 3*(y*7+x)+3]
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}
