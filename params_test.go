package freeseg_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/seg"
)

// Params and Options convert both ways.
func TestParamsRoundTrip(t *testing.T) {
	d := freeseg.DefaultOptions()
	other := d
	other.Method = dense.NACLIP
	other.Resize = freeseg.Resize{Mode: "square", Size: 448, MaxLong: d.Resize.MaxLong}
	other.Window = seg.Window{}
	other.Partial = seg.PartialOptions{Enabled: true, Pool: seg.PoolLSE, Tau: 2, TopQ: 0.2, Thd: 0.05, TopK: 3}
	noPartial := d
	noPartial.Partial = seg.PartialOptions{}
	noPartial.Resize.Mode = "none"
	noPartial.Resize.Size = 0
	for _, o := range []freeseg.Options{d, other, noPartial} {
		got, err := freeseg.ParamsOf(o).Options(d)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Partial.Enabled {
			got.Partial = seg.PartialOptions{} // off keeps base's numbers
		}
		if !reflect.DeepEqual(got, o) {
			t.Errorf("round trip of %+v gave %+v", o, got)
		}
	}
	for _, p := range []freeseg.Params{
		{Method: "magic", Crop: 1, Stride: 1},
		{Method: "sclip", Crop: 0, Stride: 1},
		{Method: "sclip", Crop: 10, Stride: 0},
		{Method: "sclip", Whole: true, Partial: "median"},
	} {
		if _, err := p.Options(d); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if s := d.Summary(); s["method"] != "naclip" || s["window"] == "whole" || s["partial_labels"] == "off" {
		t.Errorf("summary %v", s)
	}
}

func TestWithBackground(t *testing.T) {
	v, _ := prompts.ParseClassList("cat; sky")
	out, bg, notes, err := freeseg.WithBackground(v, "default")
	if err != nil || !bg || len(out.Names) != 3 || len(out.Names[0]) != 25 || len(notes) != 1 || !strings.Contains(notes[0], "sky") {
		t.Fatalf("%v %v %q %v", out, bg, notes, err)
	}
	if out, bg, _, _ := freeseg.WithBackground(v, "none"); bg || out != v {
		t.Fatal("none")
	}
	if out, bg, _, _ := freeseg.WithBackground(v, "first"); !bg || out != v {
		t.Fatal("first")
	}
	if _, _, _, err := freeseg.WithBackground(v, "sky"); err == nil {
		t.Fatal("a background made only of class names was accepted")
	}
}
