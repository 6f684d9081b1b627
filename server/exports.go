package server

import (
	"bytes"
	"encoding/base64"
	"net/http"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/export"
)

// The exports of POST /v1/segment (docs/outputs.md): masks=1, coco=1,
// instances=1 with instance_min_area and connectivity, as freeseg
// segment's --masks, --coco and --instances.
var exportFields = []string{"masks", "coco", "instances", "instance_min_area", "connectivity", "image_id"}

type exportRequest struct {
	masks, coco, instances bool
	opts                   export.Options
	imageID                int
}

// MaskJSON is one class's binary mask as an 8-bit greyscale PNG (255 =
// the class), base64.
type MaskJSON struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	PNG   string `json:"png"`
}

func parseExportFields(f *form) (exportRequest, error) {
	x := exportRequest{opts: export.DefaultOptions(), imageID: 1}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"masks", &x.masks}, {"coco", &x.coco}, {"instances", &x.instances}} {
		if err := f.boolField(b.name, b.dst); err != nil {
			return x, err
		}
	}
	conn := int(x.opts.Connectivity)
	for _, n := range []struct {
		name string
		dst  *int
	}{{"instance_min_area", &x.opts.MinArea}, {"connectivity", &conn}, {"image_id", &x.imageID}} {
		if err := f.intField(n.name, n.dst); err != nil {
			return x, err
		}
	}
	var err error
	if x.opts.Connectivity, err = export.ParseConnectivity(conn); err != nil {
		return x, errorf(http.StatusBadRequest, "field connectivity: %v", err)
	}
	if x.opts.MinArea < 0 {
		return x, errorf(http.StatusBadRequest, "field instance_min_area: %d must not be negative", x.opts.MinArea)
	}
	if x.imageID < 0 {
		return x, errorf(http.StatusBadRequest, "field image_id: %d must not be negative", x.imageID)
	}
	return x, nil
}

// addExports fills the masks, COCO entries and instances asked for.
func addExports(resp *SegmentResponse, x exportRequest, r *freeseg.Result, names []string, background bool) error {
	if x.masks {
		resp.Masks = []MaskJSON{}
		for c, f := range r.Fractions {
			if f <= 0 {
				continue
			}
			var b bytes.Buffer
			if err := export.WriteMaskPNG(&b, r.Labels, r.Width, r.Height, c); err != nil {
				return err
			}
			resp.Masks = append(resp.Masks, MaskJSON{Index: c, Name: names[c], PNG: base64.StdEncoding.EncodeToString(b.Bytes())})
		}
	}
	if !x.instances && !x.coco {
		return nil
	}
	named := *r
	named.Classes = names
	var regs []export.Region
	if x.instances {
		var err error
		if regs, resp.InstancesDropped, err = export.Instances(&named, background, x.opts); err != nil {
			return err
		}
		resp.Instances = append([]export.Region{}, regs...)
		resp.Settings = append(resp.Settings, freeseg.Value{Name: "instances", Value: map[string]any{"min_area": x.opts.MinArea, "connectivity": int(x.opts.Connectivity), "max_instances": export.DefaultMaxInstances}})
	} else {
		regs = export.ClassRegions(&named)
	}
	if x.coco {
		resp.COCO = append([]export.COCOResult{}, export.COCOResults(int64(x.imageID), "", regs, background)...)
	}
	return nil
}
