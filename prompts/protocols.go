package prompts

import (
	"fmt"
	"slices"
	"strings"
)

// Protocol is one method's published evaluation setting on one benchmark
// (docs/protocols.md#per-dataset-settings), as set by the segmentor defaults and configs/cfg_*.py of
// the reference repository.
//
// Images are resized with mmseg's Resize(scale=(MaxLong, Short),
// keep_ratio=True): factor min(MaxLong/long side, Short/short side), so the
// short side becomes Short unless the long side would pass MaxLong
// (upscaling allowed). Inference is a sliding window of Crop×Crop at Stride,
// or the whole image at once when Crop is 0 (Stride is then 0 too).
// Post-processing: softmax(LogitScale·cos) over all queries, max over each
// class's synonyms, SCLIP's area filter when AreaThd > 0 (the reference's
// None is 0 here), pixels whose top probability is below ProbThd set to
// class 0, and PAMRSteps iterations of PAMR (dilations 8 and 16) before
// that when non-zero.
type Protocol struct {
	Name       string      // benchmark: a canonical name of [Dataset]
	Method     string      // dense-feature method: "sclip", "naclip", "clearclip" or "proxyclip"
	Short      int         // short side after resizing
	MaxLong    int         // long-side cap of the resize (2048 in all three repositories)
	Crop       int         // sliding-window size; 0 = whole image
	Stride     int         // sliding-window stride; 0 with Crop 0
	LogitScale float64     // temperature before the softmax over queries
	ProbThd    float64     // background threshold on the top class probability; 0 = off
	AreaThd    float64     // SCLIP's area threshold (fraction of foreground area); 0 = off
	PAMRSteps  int         // PAMR iterations; 0 = off
	Templates  TemplateSet // template set
	ClassFile  string      // embedded class file, a path for [ClassFile]; "" = not available
	Sep        string      // synonym separator the reference splits ClassFile with
	Note       string      // caveats about the source of these values, if any
}

// Vocabulary parses the protocol's class file with its separator, keeping
// published duplicates (see [Dataset]).
func (p Protocol) Vocabulary() (*Vocabulary, error) {
	if p.ClassFile == "" {
		return nil, fmt.Errorf("prompts: no class file for %s on %s: %s", p.Method, p.Name, p.Note)
	}
	return loadClassFile(p.ClassFile, p.Sep)
}

// Sources of the values below (every value was checked against these files):
//
//	SCLIP:     wangf3014/SCLIP clip_segmentor.py (commit d84d4ab4f8da69957c9838aa81240b0bd7287f1e)
//	           defaults logit_scale=40, prob_thd=0.0, slide_crop=224, slide_stride=112,
//	           area_thd=None, pamr_steps=0; configs/cfg_*.py (commit 57fa9aa7448d476b237547a16a11af4e6c3f50ea).
//	NACLIP:    sinahmr/NACLIP naclip.py and configs/cfg_*.py (commit defb7c94b5a77a9c824188515a720ad9d242813d;
//	           files unchanged there are at cbb720dac5e6166bb901c154da0263708945573b) defaults
//	           logit_scale=40, prob_thd=0.0, slide_crop=224, slide_stride=112, pamr_steps=10;
//	           eval.py --pamr off sets 0, on sets 10. The first commit, cbb720d, still used the sliding
//	           window on VOC21/VOC20 and short side 448 on COCO-Stuff.
//	ClearCLIP: mc-lan/ClearCLIP clearclip_segmentor.py (commit afe06b8e42eb9623f6eb9da0cb0628bcc439a76d)
//	           defaults logit_scale=50, prob_thd=0.0, slide_crop=448, slide_stride=224, no PAMR;
//	           configs/cfg_*.py (commit fd05ce4a6adf002935445fdfc288d9e4f4c513d8). Its cfg_ade20k.py,
//	           cfg_coco_stuff164k.py and all class files but cls_voc21.txt were not retrievable.
//	ProxyCLIP: mc-lan/ProxyCLIP proxyclip_segmentor.py and configs/cfg_*.py (commit
//	           05c3c18c951ad8129c44d70afe2d46a85ec5085d) defaults logit_scale=40, prob_thd=0.0,
//	           slide_crop=336, slide_stride=112, beta=1.2, gamma=3.0, windows padded to a multiple
//	           of 56, no area threshold, no PAMR; the VFM is DINO ViT-B/8. Its cfg_voc20.py and
//	           cfg_context59.py, and its class files other than cls_voc21.txt, cls_voc20.txt and
//	           cls_coco_object.txt, were not retrievable.

const (
	noteClearCLIPFile   = "ClearCLIP's own copy of this class file was not retrievable; SCLIP's file is used (ClearCLIP builds on SCLIP, and only its VOC21 file is known to differ)"
	noteClearCLIPConfig = "ClearCLIP's config for this benchmark was not retrievable; short side 448 as in its other configs (docs/protocols.md#per-dataset-settings)"
	noteProxyCLIPConfig = "ProxyCLIP's config for this benchmark was not retrievable; its segmentor defaults (short side 336, crop 336, stride 112, no threshold) as in its configs of the other benchmarks without background"
	noteProxyCLIPFile   = "ProxyCLIP's copy of this class file was not retrievable; SCLIP's file is used, with SCLIP's separator"
	noteClearCLIPObject = "ClearCLIP's cls_coco_object.txt was not retrievable (it names the background \"background\", unlike SCLIP's 26-synonym line; docs/protocols.md#class-files); supply the class file yourself"
)

// benchmarkFiles names each benchmark's SCLIP class file.
var benchmarkFiles = map[string]string{
	"voc21":          "cls_voc21.txt",
	"voc20":          "cls_voc20.txt",
	"context60":      "cls_context60.txt",
	"context59":      "cls_context59.txt",
	"coco_object":    "cls_coco_object.txt",
	"coco_stuff164k": "cls_coco_stuff.txt",
	"cityscapes":     "cls_city_scapes.txt",
	"ade20k":         "cls_ade20k.txt",
}

// protocolTable maps method -> benchmark -> setting.
var protocolTable = func() map[string]map[string]Protocol {
	sclip := func(name string, short int, lt, pt, at float64) Protocol {
		return Protocol{Name: name, Method: "sclip", Short: short, MaxLong: 2048, Crop: 224, Stride: 112,
			LogitScale: lt, ProbThd: pt, AreaThd: at, Templates: "openai80",
			ClassFile: benchmarkFiles[name], Sep: SepSCLIP}
	}
	naclip := func(name string, short int, whole bool, pt float64, pamr int) Protocol {
		p := Protocol{Name: name, Method: "naclip", Short: short, MaxLong: 2048, Crop: 224, Stride: 112,
			LogitScale: 40, ProbThd: pt, PAMRSteps: pamr, Templates: "openai80",
			ClassFile: benchmarkFiles[name], Sep: SepSCLIP}
		if whole {
			p.Crop, p.Stride = 0, 0
		}
		return p
	}
	clearclip := func(name string, crop, stride int, pt float64) Protocol {
		return Protocol{Name: name, Method: "clearclip", Short: 448, MaxLong: 2048, Crop: crop, Stride: stride,
			LogitScale: 50, ProbThd: pt, Templates: "openai80",
			ClassFile: benchmarkFiles[name], Sep: SepClearCLIP, Note: noteClearCLIPFile}
	}

	proxyclip := func(name string, short, crop int, pt float64) Protocol {
		p := Protocol{Name: name, Method: "proxyclip", Short: short, MaxLong: 2048, Crop: crop, Stride: 112,
			LogitScale: 40, ProbThd: pt, Templates: "openai80",
			ClassFile: benchmarkFiles[name], Sep: SepSCLIP, Note: noteProxyCLIPFile}
		switch name {
		case "voc21", "voc20", "coco_object":
			p.ClassFile, p.Sep, p.Note = "proxyclip/"+benchmarkFiles[name], SepProxyCLIP, ""
		}
		return p
	}

	t := map[string]map[string]Protocol{"sclip": {}, "naclip": {}, "naclip+pamr": {}, "clearclip": {}, "proxyclip": {}}
	for _, p := range []Protocol{
		sclip("voc21", 336, 65, 0.1, 0.1),
		sclip("context60", 336, 50, 0.1, 0),
		sclip("coco_object", 336, 50, 0.1, 0),
		sclip("voc20", 336, 40, 0, 0),
		sclip("context59", 336, 40, 0, 0),
		sclip("coco_stuff164k", 448, 40, 0, 0),
		sclip("cityscapes", 560, 40, 0, 0),
		sclip("ade20k", 336, 40, 0, 0),
	} {
		t["sclip"][p.Name] = p
	}
	for _, steps := range []int{0, 10} {
		key := "naclip"
		if steps > 0 {
			key = "naclip+pamr"
		}
		for _, p := range []Protocol{
			naclip("voc21", 336, true, 0.1, steps),
			naclip("context60", 336, false, 0.1, steps),
			naclip("coco_object", 336, false, 0.1, steps),
			naclip("voc20", 336, true, 0, steps),
			naclip("context59", 336, false, 0, steps),
			naclip("coco_stuff164k", 336, false, 0, steps),
			naclip("cityscapes", 560, false, 0, steps),
			naclip("ade20k", 336, false, 0, steps),
		} {
			t[key][p.Name] = p
		}
	}
	cc := []Protocol{
		clearclip("voc21", 448, 224, 0.5),
		clearclip("context60", 448, 224, 0.15),
		clearclip("coco_object", 448, 224, 0.4),
		clearclip("voc20", 448, 224, 0),
		clearclip("context59", 448, 224, 0),
		clearclip("coco_stuff164k", 448, 224, 0),
		clearclip("cityscapes", 224, 224, 0),
		clearclip("ade20k", 448, 224, 0),
	}
	for _, p := range cc {
		switch p.Name {
		case "voc21":
			p.ClassFile, p.Note = "clearclip/cls_voc21.txt", ""
		case "coco_object":
			p.ClassFile, p.Note = "", noteClearCLIPObject
		case "coco_stuff164k", "ade20k":
			p.Note = noteClearCLIPConfig + "; " + noteClearCLIPFile
		}
		t["clearclip"][p.Name] = p
	}
	for _, p := range []Protocol{
		proxyclip("voc21", 336, 336, 0.2),
		proxyclip("context60", 336, 336, 0.15),
		proxyclip("coco_object", 336, 336, 0.25),
		proxyclip("voc20", 336, 336, 0),
		proxyclip("context59", 336, 336, 0),
		proxyclip("coco_stuff164k", 336, 336, 0),
		proxyclip("cityscapes", 448, 224, 0),
		proxyclip("ade20k", 448, 336, 0),
	} {
		switch p.Name {
		case "voc20":
			p.Note = noteProxyCLIPConfig
		case "context59":
			p.Note = noteProxyCLIPConfig + "; " + noteProxyCLIPFile
		}
		t["proxyclip"][p.Name] = p
	}
	return t
}()

var methodAliases = map[string]string{
	"naclip_pamr": "naclip+pamr",
	"naclip-pamr": "naclip+pamr",
}

// ProtocolMethods returns the method names [Protocols] accepts, sorted.
func ProtocolMethods() []string {
	names := make([]string, 0, len(protocolTable))
	for n := range protocolTable {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Protocols returns the published setting of method on dataset. Methods:
//
//	sclip        SCLIP's configs (the repository default; its README's numbers)
//	naclip       NACLIP without PAMR (eval.py --pamr off; the paper's main table)
//	naclip+pamr  NACLIP with 10 PAMR steps (--pamr on, also the segmentor default;
//	             the README's numbers); alias naclip_pamr
//	clearclip    ClearCLIP's configs
//	proxyclip    ProxyCLIP's configs (with a DINO ViT-B/8 as its VFM)
//
// dataset is a name or alias of [Dataset] ("voc21", "coco_object", ...;
// the clearclip/ prefix is not used here).
//
// Per benchmark (S short side, crop/stride, lt logit scale, pt prob_thd,
// at area_thd; unlisted values are the method defaults):
//
//	benchmark       SCLIP                       NACLIP                 ClearCLIP              ProxyCLIP
//	(defaults)      lt 40, 224/112              lt 40, 224/112         S 448, lt 50, 448/224  S 336, lt 40, 336/112
//	voc21           S 336, lt 65, pt .1, at .1  S 336, pt .1, whole    pt .5, own class file  pt .2, own class file
//	context60       S 336, lt 50, pt .1         S 336, pt .1           pt .15                 pt .15
//	coco_object     S 336, lt 50, pt .1         S 336, pt .1           pt .4, class file n/a  pt .25, own class file
//	voc20           S 336                       S 336, whole           -                      own class file (config n/a)
//	context59       S 336                       S 336                  -                      - (config n/a)
//	coco_stuff164k  S 448                       S 336                  - (config n/a)         -
//	cityscapes      S 560                       S 560                  crop 224, stride 224   S 448, crop 224
//	ade20k          S 336                       S 336                  - (config n/a)         S 448
func Protocols(method, dataset string) (Protocol, error) {
	m := strings.ToLower(strings.TrimSpace(method))
	if a, ok := methodAliases[m]; ok {
		m = a
	}
	tab, ok := protocolTable[m]
	if !ok {
		return Protocol{}, fmt.Errorf("prompts: unknown method %q (valid: %s)", method, strings.Join(ProtocolMethods(), ", "))
	}
	d := canonicalDataset(dataset)
	p, ok := tab[d]
	if !ok {
		valid := make([]string, 0, len(tab))
		for n := range tab {
			valid = append(valid, n)
		}
		slices.Sort(valid)
		return Protocol{}, fmt.Errorf("prompts: no %s protocol for dataset %q (valid: %s)", m, dataset, strings.Join(valid, ", "))
	}
	return p, nil
}
