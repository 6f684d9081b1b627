package prompts

import (
	"strings"
	"testing"
)

// The values of docs/protocols.md#per-dataset-settings, re-read from the repositories' configs.
func TestProtocolValues(t *testing.T) {
	type want struct {
		short, crop, stride int
		lt, pt, at          float64
		pamr                int
		file, sep           string
	}
	cases := map[string]map[string]want{
		"sclip": {
			"voc21":          {336, 224, 112, 65, 0.1, 0.1, 0, "cls_voc21.txt", ", "},
			"context60":      {336, 224, 112, 50, 0.1, 0, 0, "cls_context60.txt", ", "},
			"coco_object":    {336, 224, 112, 50, 0.1, 0, 0, "cls_coco_object.txt", ", "},
			"voc20":          {336, 224, 112, 40, 0, 0, 0, "cls_voc20.txt", ", "},
			"context59":      {336, 224, 112, 40, 0, 0, 0, "cls_context59.txt", ", "},
			"coco_stuff164k": {448, 224, 112, 40, 0, 0, 0, "cls_coco_stuff.txt", ", "},
			"cityscapes":     {560, 224, 112, 40, 0, 0, 0, "cls_city_scapes.txt", ", "},
			"ade20k":         {336, 224, 112, 40, 0, 0, 0, "cls_ade20k.txt", ", "},
		},
		"naclip": {
			"voc21":          {336, 0, 0, 40, 0.1, 0, 0, "cls_voc21.txt", ", "},
			"context60":      {336, 224, 112, 40, 0.1, 0, 0, "cls_context60.txt", ", "},
			"coco_object":    {336, 224, 112, 40, 0.1, 0, 0, "cls_coco_object.txt", ", "},
			"voc20":          {336, 0, 0, 40, 0, 0, 0, "cls_voc20.txt", ", "},
			"context59":      {336, 224, 112, 40, 0, 0, 0, "cls_context59.txt", ", "},
			"coco_stuff164k": {336, 224, 112, 40, 0, 0, 0, "cls_coco_stuff.txt", ", "},
			"cityscapes":     {560, 224, 112, 40, 0, 0, 0, "cls_city_scapes.txt", ", "},
			"ade20k":         {336, 224, 112, 40, 0, 0, 0, "cls_ade20k.txt", ", "},
		},
		"clearclip": {
			"voc21":          {448, 448, 224, 50, 0.5, 0, 0, "clearclip/cls_voc21.txt", ","},
			"context60":      {448, 448, 224, 50, 0.15, 0, 0, "cls_context60.txt", ","},
			"coco_object":    {448, 448, 224, 50, 0.4, 0, 0, "", ","},
			"voc20":          {448, 448, 224, 50, 0, 0, 0, "cls_voc20.txt", ","},
			"context59":      {448, 448, 224, 50, 0, 0, 0, "cls_context59.txt", ","},
			"coco_stuff164k": {448, 448, 224, 50, 0, 0, 0, "cls_coco_stuff.txt", ","},
			"cityscapes":     {448, 224, 224, 50, 0, 0, 0, "cls_city_scapes.txt", ","},
			"ade20k":         {448, 448, 224, 50, 0, 0, 0, "cls_ade20k.txt", ","},
		},
	}
	// mc-lan/ProxyCLIP configs @05c3c18 (cfg_voc20/cfg_context59: segmentor defaults).
	cases["proxyclip"] = map[string]want{
		"voc21":          {336, 336, 112, 40, 0.2, 0, 0, "proxyclip/cls_voc21.txt", "; "},
		"context60":      {336, 336, 112, 40, 0.15, 0, 0, "cls_context60.txt", ", "},
		"coco_object":    {336, 336, 112, 40, 0.25, 0, 0, "proxyclip/cls_coco_object.txt", "; "},
		"voc20":          {336, 336, 112, 40, 0, 0, 0, "proxyclip/cls_voc20.txt", "; "},
		"context59":      {336, 336, 112, 40, 0, 0, 0, "cls_context59.txt", ", "},
		"coco_stuff164k": {336, 336, 112, 40, 0, 0, 0, "cls_coco_stuff.txt", ", "},
		"cityscapes":     {448, 224, 112, 40, 0, 0, 0, "cls_city_scapes.txt", ", "},
		"ade20k":         {448, 336, 112, 40, 0, 0, 0, "cls_ade20k.txt", ", "},
	}
	// naclip+pamr is naclip with 10 PAMR steps.
	cases["naclip+pamr"] = map[string]want{}
	for d, w := range cases["naclip"] {
		w.pamr = 10
		cases["naclip+pamr"][d] = w
	}
	for method, tab := range cases {
		for d, w := range tab {
			p, err := Protocols(method, d)
			if err != nil {
				t.Errorf("%s/%s: %v", method, d, err)
				continue
			}
			got := want{p.Short, p.Crop, p.Stride, p.LogitScale, p.ProbThd, p.AreaThd, p.PAMRSteps, p.ClassFile, p.Sep}
			if got != w {
				t.Errorf("%s/%s = %+v, want %+v", method, d, got, w)
			}
			if p.Name != d || p.MaxLong != 2048 || p.Templates != "openai80" {
				t.Errorf("%s/%s: name %q, max long %d, templates %q", method, d, p.Name, p.MaxLong, p.Templates)
			}
			if wantMethod := strings.TrimSuffix(method, "+pamr"); p.Method != wantMethod {
				t.Errorf("%s/%s: method %q", method, d, p.Method)
			}
			if _, err := Templates(string(p.Templates)); err != nil {
				t.Errorf("%s/%s: %v", method, d, err)
			}
			v, err := p.Vocabulary()
			if p.ClassFile == "" {
				if err == nil || p.Note == "" {
					t.Errorf("%s/%s: no class file, yet err=%v note=%q", method, d, err, p.Note)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s/%s: %v", method, d, err)
				continue
			}
			ds := d
			if p.ClassFile == "clearclip/cls_voc21.txt" {
				ds = "clearclip/voc21"
			}
			if strings.HasPrefix(p.ClassFile, "proxyclip/") {
				ds = "proxyclip/" + d
			}
			ref, _ := Dataset(ds)
			if !slicesEqual2(v.Names, ref.Names) {
				t.Errorf("%s/%s: vocabulary differs from Dataset(%q)", method, d, ds)
			}
		}
	}
}

func TestProtocolLookup(t *testing.T) {
	a, err := Protocols("NACLIP_PAMR", "city_scapes")
	if err != nil || a.PAMRSteps != 10 || a.Name != "cityscapes" {
		t.Fatalf("alias lookup: %+v, %v", a, err)
	}
	_, err = Protocols("maskclip", "voc21")
	if err == nil || !strings.Contains(err.Error(), "sclip") || !strings.Contains(err.Error(), "naclip+pamr") {
		t.Errorf("unknown method: %v", err)
	}
	_, err = Protocols("sclip", "coco_stuff10k")
	if err == nil || !strings.Contains(err.Error(), "voc21") {
		t.Errorf("unknown dataset: %v", err)
	}
	_, err = Protocols("clearclip", "clearclip/voc21")
	if err == nil {
		t.Error("clearclip/voc21 is a Dataset name, not a protocol benchmark")
	}
	if got := ProtocolMethods(); strings.Join(got, ",") != "clearclip,naclip,naclip+pamr,proxyclip,sclip" {
		t.Errorf("ProtocolMethods = %q", got)
	}
}
