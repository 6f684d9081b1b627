package freeseg_test

import (
	"context"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/testmodel"
)

// Valid but extreme images (a 1×19999 strip) get a clear error, never a
// panic, under every resize mode (issue 9, finding 5).
func TestSegmentExtremeAspect(t *testing.T) {
	e := freeseg.NewEngine(testmodel.Tiny(t))
	for _, sz := range [][2]int{{1, 19999}, {20000, 1}} {
		img := imageio.NewRGB(sz[0], sz[1])
		for _, mode := range []freeseg.ResizeMode{freeseg.ResizeShort, freeseg.ResizeNone} {
			o := freeseg.DefaultOptions()
			o.Resize.Mode = mode
			o.PAMRSteps = 0
			_, err := e.Segment(context.Background(), img, goldenVocab(), o)
			if err == nil || !strings.Contains(err.Error(), "smaller than one") {
				t.Fatalf("%dx%d image, resize %q: error %v, want one about the patch size", sz[0], sz[1], mode, err)
			}
		}
	}
}
