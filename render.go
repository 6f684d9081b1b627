package freeseg

import (
	"fmt"

	"github.com/freeseg/freeseg/imageio"
)

// ClassColors are the display colours of C classes, from the PASCAL VOC
// palette: with a background class, class c gets VOC colour c (background
// black, as in VOC label maps); without one, class c gets VOC colour c+1,
// so that no class is drawn in black.
func ClassColors(C int, background bool) [][3]uint8 {
	if background {
		return imageio.Palette(C)
	}
	return imageio.Palette(C + 1)[1:]
}

// Overlay draws the label map of r over its photo (r.Image; ClassColors,
// half transparent) and adds a legend listing each class present with its
// share of the pixels. A background class 0 is left untinted so that the
// photo shows through where nothing was recognised.
func Overlay(r *Result) *imageio.RGB {
	img, names, background := r.Image, r.Classes, r.Background
	C := len(names)
	pal := ClassColors(C, background)
	var legendNames []string
	var legendColors [][3]uint8
	for c := 0; c < C; c++ {
		if r.Fractions[c] > 0 {
			legendNames = append(legendNames, fmt.Sprintf("%s %.0f%%", names[c], 100*r.Fractions[c]))
			legendColors = append(legendColors, pal[c])
		}
	}
	shown := r.Labels
	if background {
		// A label outside the palette (-1) leaves the photo's pixel as it is.
		shown = make([]int32, len(r.Labels))
		for i, l := range r.Labels {
			if l == 0 {
				l = -1
			}
			shown[i] = l
		}
	}
	return imageio.DrawLegend(imageio.Overlay(img, shown, pal, 0.5), legendNames, legendColors)
}
