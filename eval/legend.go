package eval

import "github.com/freeseg/freeseg/imageio"

// legendScale is how much the legend (a 13-pixel font) is enlarged beside
// an image h pixels high, so that it stays readable on large photos.
func legendScale(h int) int { return max(1, h/500) }

// withLegend adds the legend of imageio.DrawLegend on img's right,
// enlarged by legendScale (nearest neighbour, so it stays crisp).
func withLegend(img *imageio.RGB, names []string, colors [][3]uint8) *imageio.RGB {
	k := legendScale(img.H)
	if k == 1 {
		return imageio.DrawLegend(img, names, colors)
	}
	panel := imageio.DrawLegend(imageio.NewRGB(0, 0), names, colors)
	W, H := img.W+k*panel.W, max(img.H, k*panel.H)
	out := imageio.NewRGB(W, H)
	for i := range out.Pix {
		out.Pix[i] = 255
	}
	for y := 0; y < img.H; y++ {
		copy(out.Pix[3*y*W:], img.Pix[3*y*img.W:3*(y+1)*img.W])
	}
	for y := 0; y < k*panel.H; y++ {
		for x := 0; x < k*panel.W; x++ {
			src := 3 * ((y/k)*panel.W + x/k)
			copy(out.Pix[3*(y*W+img.W+x):3*(y*W+img.W+x)+3], panel.Pix[src:src+3])
		}
	}
	return out
}
