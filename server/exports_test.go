package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/export"
)

// The exports agree with the label map of the same answer.
func TestSegmentExports(t *testing.T) {
	_, ts := testServer(t, Config{})
	img := photo(t, 64, 48)
	resp, b := postForm(t, ts.URL+"/v1/segment",
		part{"image", "photo.png", string(img)}, part{"classes", "", "cat; dog; tree"}, part{"background", "", "none"},
		part{"templates", "", "single"}, part{"pamr", "", "0"}, part{"whole", "", "1"},
		part{"masks", "", "1"}, part{"coco", "", "1"}, part{"instances", "", "1"},
		part{"instance_min_area", "", "1"}, part{"connectivity", "", "4"}, part{"image_id", "", "397133"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var r SegmentResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	labels := decodePNG(t, r.LabelsPNG).(*image.Paletted).Pix
	present := 0
	for _, c := range r.Classes {
		if c.Fraction > 0 {
			present++
		}
	}
	if len(r.Masks) != present {
		t.Fatalf("%d masks, %d classes present", len(r.Masks), present)
	}
	for _, m := range r.Masks {
		g := decodePNG(t, m.PNG).(*image.Gray)
		for i, v := range g.Pix {
			if (v == 255) != (labels[i] == uint8(m.Index)) {
				t.Fatalf("mask %s pixel %d = %d, label %d", m.Name, i, v, labels[i])
			}
		}
	}
	// Without background every class is a category and every pixel is in
	// exactly one instance; with area 1 the COCO entries are the instances.
	if len(r.COCO) != len(r.Instances) || len(r.Instances) == 0 {
		t.Fatalf("%d COCO entries, %d instances", len(r.COCO), len(r.Instances))
	}
	covered := make([]int, 64*48)
	for k, in := range r.Instances {
		e := r.COCO[k]
		if e.ImageID != 397133 || e.CategoryID != in.Class+1 || e.CategoryName != r.Classes[in.Class].Name || e.Segmentation != in.Mask {
			t.Fatalf("COCO entry %+v for instance %+v", e, in)
		}
		counts, err := export.DecompressCounts(in.Mask.Counts, 48, 64)
		if err != nil {
			t.Fatal(err)
		}
		mask, _ := export.DecodeMask(counts, 64, 48)
		for i, m := range mask {
			if m {
				covered[i]++
				if labels[i] != uint8(in.Class) {
					t.Fatalf("instance %d covers pixel %d of class %d", in.ID, i, labels[i])
				}
			}
		}
	}
	for i, n := range covered {
		if n != 1 {
			t.Fatalf("pixel %d in %d instances", i, n)
		}
	}
	if s, ok := r.Settings.Value("instances").(map[string]any); !ok || s["connectivity"] != 4.0 {
		t.Errorf("settings.instances %v", r.Settings.Value("instances"))
	}

	// Not asked for: not there.
	resp, b = postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(img)}, part{"classes", "", "cat"}, part{"whole", "", "1"}, part{"templates", "", "single"})
	var raw map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(b, &raw) != nil {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	for _, k := range []string{"masks", "coco", "instances"} {
		if _, ok := raw[k]; ok {
			t.Errorf("%s present without being asked for", k)
		}
	}
	for _, c := range []struct{ field, value, want string }{
		{"connectivity", "6", "connectivity"},
		{"instance_min_area", "-3", "instance_min_area"},
		{"masks", "perhaps", "masks"},
	} {
		resp, b := postForm(t, ts.URL+"/v1/segment", part{"image", "p.png", string(img)}, part{"classes", "", "cat"}, part{c.field, "", c.value})
		if resp.StatusCode != 400 || !strings.Contains(errorBody(t, b), c.want) {
			t.Errorf("%s=%s: %d %s", c.field, c.value, resp.StatusCode, b)
		}
	}
}

// FuzzExportFields: whatever values the export fields get, the form parser
// answers a 4xx or accepts valid export settings.
func FuzzExportFields(f *testing.F) {
	lim := Limits{MaxBodyBytes: 1 << 16, MaxPixels: 1 << 20, MaxMapValues: 1 << 24, MaxClasses: 8, MaxNames: 64, MaxSide: 1024}
	f.Add("1", "1", "1", "64", "8", "1")
	f.Add("on", "false", "yes", "-1", "4", "397133")
	f.Add("", "x", "2", "1e3", "6", "-5")
	f.Add("1", "1", "1", "99999999999999999999", "08", "0x10")
	f.Fuzz(func(t *testing.T, masks, coco, instances, minArea, conn, imageID string) {
		body := fixedForm(t, part{"image", "p.png", "x"}, part{"classes", "", "cat"}, part{"masks", "", masks}, part{"coco", "", coco},
			part{"instances", "", instances}, part{"instance_min_area", "", minArea}, part{"connectivity", "", conn}, part{"image_id", "", imageID})
		req, err := parseSegmentForm(formCT, bytes.NewReader(body), 6, lim, store{sizeHint: int64(len(body))})
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Code != 400 {
				t.Fatalf("error %v (%T) is not a 400", err, err)
			}
			return
		}
		x := req.exports
		if x.opts.Validate() != nil || x.opts.MinArea < 0 || x.imageID < 0 {
			t.Fatalf("accepted %+v", x)
		}
	})
}
