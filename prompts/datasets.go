package prompts

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// classFS holds the class-name files, byte for byte as published:
//
//   - classes/cls_*.txt: wangf3014/SCLIP configs/ (commit
//     57fa9aa7448d476b237547a16a11af4e6c3f50ea), used by SCLIP and, per
//     docs/protocols.md#class-files, unchanged by NACLIP, ResCLIP and CASS. (NACLIP's copies
//     were not retrievable for comparison.)
//   - classes/clearclip/cls_voc21.txt: mc-lan/ClearCLIP configs/cls_voc21.txt
//     (commit fd05ce4a6adf002935445fdfc288d9e4f4c513d8), which names the
//     background "background" and uses one name per class.
//
// None ends in a line end; cls_context60.txt's last line is "wood " with a
// trailing blank, as published.
//
//go:embed classes/*.txt classes/clearclip/*.txt classes/proxyclip/*.txt
var classFS embed.FS

// ClassFile returns the raw bytes of an embedded class-name file, by its
// path under classes/ ("cls_voc21.txt", "clearclip/cls_voc21.txt").
func ClassFile(path string) ([]byte, error) {
	b, err := fs.ReadFile(classFS, "classes/"+path)
	if err != nil {
		return nil, fmt.Errorf("prompts: no embedded class file %q", path)
	}
	return b, nil
}

// datasetEntry is one embedded vocabulary.
type datasetEntry struct {
	file string // path under classes/
	sep  string
}

// datasets maps the names accepted by [Dataset] to their files.
var datasets = map[string]datasetEntry{
	"voc21":          {"cls_voc21.txt", SepSCLIP},
	"voc20":          {"cls_voc20.txt", SepSCLIP},
	"context60":      {"cls_context60.txt", SepSCLIP},
	"context59":      {"cls_context59.txt", SepSCLIP},
	"coco_object":    {"cls_coco_object.txt", SepSCLIP},
	"coco_stuff164k": {"cls_coco_stuff.txt", SepSCLIP},
	"cityscapes":     {"cls_city_scapes.txt", SepSCLIP},
	"ade20k":         {"cls_ade20k.txt", SepSCLIP},

	"clearclip/voc21": {"clearclip/cls_voc21.txt", SepClearCLIP},

	"proxyclip/voc21":       {"proxyclip/cls_voc21.txt", SepProxyCLIP},
	"proxyclip/voc20":       {"proxyclip/cls_voc20.txt", SepProxyCLIP},
	"proxyclip/coco_object": {"proxyclip/cls_coco_object.txt", SepProxyCLIP},
}

// datasetAliases are other spellings of the dataset names (the config-file
// names of the reference repositories).
var datasetAliases = map[string]string{
	"city_scapes": "cityscapes",
	"coco_stuff":  "coco_stuff164k",
	"pc60":        "context60",
	"pc59":        "context59",
	"ade":         "ade20k",
	"object":      "coco_object",
	"stuff":       "coco_stuff164k",
	"city":        "cityscapes",
}

// DatasetNames returns the canonical names [Dataset] accepts, sorted.
func DatasetNames() []string {
	names := make([]string, 0, len(datasets))
	for n := range datasets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func canonicalDataset(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := datasetAliases[n]; ok {
		return a
	}
	return n
}

// Dataset returns the published vocabulary of a benchmark, parsed the way
// the reference code splits it:
//
//	voc21           21 classes, 56 names (class 0: 26 background synonyms)
//	voc20           20 classes, 30 names
//	context60       60 classes (class 0: "background")
//	context59       59 classes
//	coco_object     81 classes, 113 names (class 0: 26 background synonyms)
//	coco_stuff164k  171 classes
//	cityscapes      19 classes
//	ade20k          150 classes
//	clearclip/voc21 21 classes, ClearCLIP's file ("background", "person", "tvmonitor")
//	proxyclip/voc21 21 classes, 46 names, ProxyCLIP's file ("; " separates synonyms; "person" alone)
//	proxyclip/voc20 20 classes, ProxyCLIP's file (one name per class)
//	proxyclip/coco_object 81 classes, 97 names, ProxyCLIP's file (17 background synonyms)
//
// coco_object keeps the published duplicate: "bed" is a background synonym
// and also class 60 (the line "bed"). Under the SCLIP/NACLIP post-processing
// both take the very same probability, and the arg-max keeps the first, so
// class "bed" can never win; the list is reproduced as published anyway.
//
// The aliases city_scapes, coco_stuff, pc60, pc59, ade, object, stuff
// and city are accepted too.
func Dataset(name string) (*Vocabulary, error) {
	e, ok := datasets[canonicalDataset(name)]
	if !ok {
		return nil, fmt.Errorf("prompts: unknown dataset %q (valid: %s)", name, strings.Join(DatasetNames(), ", "))
	}
	return loadClassFile(e.file, e.sep)
}

// loadClassFile parses an embedded file, accepting published duplicates.
func loadClassFile(path, sep string) (*Vocabulary, error) {
	b, err := ClassFile(path)
	if err != nil {
		return nil, err
	}
	return parseClassText(string(b), path, ParseOptions{Sep: sep, AllowDuplicates: true})
}
