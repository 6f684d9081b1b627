package freeseg_test

// The limits of Options.Validate and Engine.Segment's size checks, at and
// just beyond each boundary (mutation testing showed the boundaries were
// not pinned; docs/testing.md).

import (
	"context"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

func TestOptionsValidateBoundaries(t *testing.T) {
	const layers = 6
	for _, c := range []struct {
		name string
		edit func(*freeseg.Options)
		want string // "" = valid, else a word of the error
	}{
		{"defaults", func(o *freeseg.Options) {}, ""},
		{"prob thd 0", func(o *freeseg.Options) { o.ProbThd = 0 }, ""},
		{"prob thd 1", func(o *freeseg.Options) { o.ProbThd = 1 }, ""},
		{"prob thd below 0", func(o *freeseg.Options) { o.ProbThd = -1e-9 }, "probability threshold"},
		{"prob thd above 1", func(o *freeseg.Options) { o.ProbThd = 1.000001 }, "probability threshold"},
		{"area thd 0", func(o *freeseg.Options) { o.AreaThd = 0 }, ""},
		{"area thd 0.999", func(o *freeseg.Options) { o.AreaThd = 0.999 }, ""},
		{"area thd 1", func(o *freeseg.Options) { o.AreaThd = 1 }, "area threshold"},
		{"area thd below 0", func(o *freeseg.Options) { o.AreaThd = -0.1 }, "area threshold"},
		{"logit scale 0", func(o *freeseg.Options) { o.LogitScale = 0 }, "logit scale"},
		{"logit scale tiny", func(o *freeseg.Options) { o.LogitScale = 1e-9 }, ""},
		{"PAMR 0", func(o *freeseg.Options) { o.PAMRSteps = 0 }, ""},
		{"PAMR -1", func(o *freeseg.Options) { o.PAMRSteps = -1 }, "PAMR"},
		{"short size 0", func(o *freeseg.Options) { o.Resize = freeseg.Resize{Mode: freeseg.ResizeShort, Size: 0} }, "resize size"},
		{"short size 1", func(o *freeseg.Options) { o.Resize = freeseg.Resize{Mode: freeseg.ResizeShort, Size: 1} }, ""},
		{"square size 0", func(o *freeseg.Options) { o.Resize = freeseg.Resize{Mode: freeseg.ResizeSquare} }, "resize size"},
		{"no resize", func(o *freeseg.Options) { o.Resize = freeseg.Resize{Mode: freeseg.ResizeNone} }, ""},
		{"zero resize (short, size 0)", func(o *freeseg.Options) { o.Resize = freeseg.Resize{} }, "resize size"},
		{"unknown resize", func(o *freeseg.Options) { o.Resize.Mode = freeseg.ResizeMode(9) }, "resize mode"},
		{"templates", func(o *freeseg.Options) { o.Templates = "nonesuch" }, "nonesuch"},
		{"stride above crop", func(o *freeseg.Options) { o.Window = seg.Window{Crop: 10, Stride: 11} }, "stride"},
		{"partial top-q 0", func(o *freeseg.Options) { o.Partial.TopQ = 0 }, "top-q"},
	} {
		o := freeseg.DefaultOptions()
		c.edit(&o)
		err := o.Validate(layers)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one about %q", c.name, err, c.want)
		}
	}
}

// An input of exactly one patch is enough; one pixel less is not. A crop
// is refused only when it is larger than both sides of the input.
func TestSegmentSizeBoundaries(t *testing.T) {
	e := freeseg.NewEngine(randomModels(t)[0])
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}}}
	o := freeseg.Options{Method: freeseg.DefaultOptions().Method, Templates: "single", Resize: freeseg.Resize{Mode: freeseg.ResizeNone},
		LogitScale: 40}
	for _, c := range []struct {
		w, h int
		crop int
		ok   bool
	}{
		{16, 16, 0, true}, {15, 16, 0, false}, {16, 15, 0, false},
		{32, 20, 32, true},  // crop = the long side
		{32, 20, 33, false}, // larger than both
		{40, 20, 32, true},  // larger than one side only
	} {
		oo := o
		if c.crop > 0 {
			oo.Window = seg.Window{Crop: c.crop, Stride: c.crop}
		}
		res, err := e.Segment(context.Background(), imageio.NewRGB(c.w, c.h), v, oo)
		if c.ok && (err != nil || res.Width != c.w || res.Height != c.h || len(res.Labels) != c.w*c.h) {
			t.Errorf("%dx%d crop %d: %v", c.w, c.h, c.crop, err)
		}
		if !c.ok && err == nil {
			t.Errorf("%dx%d crop %d accepted", c.w, c.h, c.crop)
		}
	}
}
