package prompts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// Length and sha256 of each embedded file. The lengths equal the sizes the
// sources report (wangf3014/SCLIP configs @57fa9aa, mc-lan/ClearCLIP
// configs @fd05ce4); the digests pin the bytes against later edits.
var classFileDigests = map[string]struct {
	size int
	sha  string
}{
	"cls_ade20k.txt":          {1103, "e53ded02c488bdb903ef000a2d207e4ac4f2bb4502a72572e4aab7c2504aef3a"},
	"cls_city_scapes.txt":     {138, "6f6782fc1bf92bfd9f5562192e92045e0e093870e613f387f6c98fc66d4ceba4"},
	"cls_coco_object.txt":     {911, "3475d03d61f85ce03812ce62d019de8f2ea51053885374629d29a17fbd3f02a6"},
	"cls_coco_stuff.txt":      {1374, "fb98709b9ab1baff4fd930bac4a77772a0458c7d534911de545f9a4081e14a3e"},
	"cls_context59.txt":       {378, "cd808465f06a16169edc25580073f0eda347e64f06cc1c2e24acd0b237f6497d"},
	"cls_context60.txt":       {390, "5e620446a8699f292a4c2e37fa8918a33dd4f14713dc1b3f22884d2be68b45a1"},
	"cls_voc20.txt":           {283, "c68f65a2b342397cdfe05ff5289517e1e370b1d574a218ff1a17db27f2576db1"},
	"cls_voc21.txt":           {463, "80e643a9a143966800cd4a49324fd0be2f94c0d7bac817ea16a5f66ed706bc38"},
	"clearclip/cls_voc21.txt": {139, "265d9ede93be451d724981c5ffde13a8eb3082674e98021aa8d5445f81f4498a"},
	// mc-lan/ProxyCLIP configs @05c3c18
	"proxyclip/cls_voc21.txt":       {308, "6a194e9134d44459bf8b86ba89a9cf06242848051e04d130011c017bca3e3c05"},
	"proxyclip/cls_voc20.txt":       {128, "6b9a85ffb907e34ac920d704a520b45e1424bf96796ca7de5b1823ee202db119"},
	"proxyclip/cls_coco_object.txt": {731, "87b6d3e1d3adf5202f4fe5a2a939cfc62224065f3a8e44a8f64fe1a81b751dc6"},
}

func TestClassFileBytes(t *testing.T) {
	var found []string
	err := fs.WalkDir(classFS, "classes", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, strings.TrimPrefix(p, "classes/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(classFileDigests) {
		t.Errorf("embedded files %q, want %d", found, len(classFileDigests))
	}
	for path, want := range classFileDigests {
		b, err := ClassFile(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		h := sha256.Sum256(b)
		if len(b) != want.size || hex.EncodeToString(h[:]) != want.sha {
			t.Errorf("%s: %d bytes, sha256 %x; want %d, %s", path, len(b), h, want.size, want.sha)
		}
		if bytes.HasSuffix(b, []byte("\n")) || bytes.Contains(b, []byte("\r")) {
			t.Errorf("%s: line ends differ from the published file", path)
		}
	}
	if _, err := ClassFile("cls_nope.txt"); err == nil {
		t.Error("ClassFile(cls_nope.txt): no error")
	}
}

// Counts from docs/protocols.md#class-files (prompt counts = names × 80).
func TestDatasetCounts(t *testing.T) {
	cases := []struct {
		name            string
		classes, names  int
		first, last     string
		prompts80       int
		multiSynonymAt  []int
		firstClassNames int
	}{
		{"voc21", 21, 56, "sky", "television monitor", 4480, []int{0, 15, 20}, 26},
		{"voc20", 20, 30, "aeroplane", "television monitor", 2400, []int{14, 19}, 1},
		{"context60", 60, 60, "background", "wood", 4800, nil, 1},
		{"context59", 59, 59, "aeroplane", "wood", 4720, nil, 1},
		{"coco_object", 81, 113, "sky", "toothbrush", 9040, []int{0, 1}, 26},
		{"coco_stuff164k", 171, 171, "person", "wood", 13680, nil, 1},
		{"cityscapes", 19, 19, "road", "bicycle", 1520, nil, 1},
		{"ade20k", 150, 150, "wall", "flag", 12000, nil, 1},
		{"clearclip/voc21", 21, 21, "background", "tvmonitor", 1680, nil, 1},
		{"proxyclip/voc21", 21, 46, "sky", "tvmonitor", 46 * 80, []int{0}, 26},
		{"proxyclip/voc20", 20, 20, "aeroplane", "tvmonitor", 1600, nil, 1},
		{"proxyclip/coco_object", 81, 97, "sky", "toothbrush", 97 * 80, []int{0}, 17},
	}
	for _, c := range cases {
		v, err := Dataset(c.name)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		names, classOf := v.Queries()
		if v.Len() != c.classes || len(names) != c.names || len(classOf) != c.names {
			t.Errorf("%s: %d classes, %d names; want %d, %d", c.name, v.Len(), len(names), c.classes, c.names)
		}
		if len(names)*len(OpenAI80) != c.prompts80 {
			t.Errorf("%s: %d prompts, want %d", c.name, len(names)*80, c.prompts80)
		}
		if names[0] != c.first || v.Names[v.Len()-1][0] != c.last {
			t.Errorf("%s: first %q, last class %q; want %q, %q", c.name, names[0], v.Names[v.Len()-1][0], c.first, c.last)
		}
		if len(v.Names[0]) != c.firstClassNames {
			t.Errorf("%s: class 0 has %d names, want %d", c.name, len(v.Names[0]), c.firstClassNames)
		}
		var multi []int
		for i, syn := range v.Names {
			if len(syn) > 1 {
				multi = append(multi, i)
			}
			for _, n := range syn {
				if n == "" || n != strings.TrimSpace(n) {
					t.Errorf("%s: class %d name %q", c.name, i, n)
				}
			}
		}
		if !slices.Equal(multi, c.multiSynonymAt) {
			t.Errorf("%s: classes with synonyms %v, want %v", c.name, multi, c.multiSynonymAt)
		}
	}
}

func TestDatasetContent(t *testing.T) {
	voc21, _ := Dataset("voc21")
	voc20, _ := Dataset("voc20")
	if !slicesEqual2(voc21.Names[1:], voc20.Names) {
		t.Error("voc20 is not voc21 without its background line")
	}
	wantBG := strings.Split("sky, wall, tree, wood, grass, road, sea, river, mountain, sands, desk, bed, building, cloud, lamp, door, window, wardrobe, ceiling, shelf, curtain, stair, floor, hill, rail, fence", ", ")
	if !slices.Equal(voc21.Names[0], wantBG) {
		t.Errorf("voc21 background %q", voc21.Names[0])
	}
	if got := voc21.Names[15]; !slices.Equal(got, []string{"person", "person in shirt", "person in jeans", "person in dress", "person in sweater", "person in skirt", "person in jacket"}) {
		t.Errorf("voc21 person %q", got)
	}
	if got := voc21.Names[20]; !slices.Equal(got, []string{"television monitor", "tv monitor", "monitor", "television", "screen"}) {
		t.Errorf("voc21 tv %q", got)
	}
	// The renamed VOC classes.
	if voc21.Names[4][0] != "ship" || voc21.Names[11][0] != "table" {
		t.Errorf("voc21 classes 4, 11 = %q, %q; want ship, table", voc21.Names[4], voc21.Names[11])
	}

	c60, _ := Dataset("context60")
	c59, _ := Dataset("context59")
	if !slicesEqual2(c60.Names[1:], c59.Names) {
		t.Error("context59 is not context60 without its background line")
	}
	raw, _ := ClassFile("cls_context60.txt")
	if !bytes.HasSuffix(raw, []byte("\nwood ")) {
		t.Error("cls_context60.txt should end in the published \"wood \" (trailing blank)")
	}

	obj, _ := Dataset("coco_object")
	if !slices.Equal(obj.Names[0], wantBG) {
		t.Errorf("coco_object background %q", obj.Names[0])
	}
	if got := obj.Names[1]; len(got) != 8 || got[0] != "person" || got[7] != "body" {
		t.Errorf("coco_object person %q", got)
	}
	// The published duplicate: "bed" is background and class 60.
	if obj.Names[60][0] != "bed" || !slices.Contains(obj.Names[0], "bed") {
		t.Errorf("coco_object class 60 = %q", obj.Names[60])
	}
	stuff, _ := Dataset("coco_stuff164k")
	for i, n := range stuff.ClassNames() {
		if strings.Contains(n, " ") {
			t.Errorf("coco_stuff class %d %q has a blank (the file removes them)", i, n)
		}
	}
	if stuff.Names[9][0] != "trafficlight" || stuff.Names[80][0] != "banner" {
		t.Errorf("coco_stuff classes 9, 80 = %q, %q", stuff.Names[9], stuff.Names[80])
	}
	ade, _ := Dataset("ade20k")
	if ade.Names[44][0] != "chestofdrawers" || ade.Names[89][0] != "televisionreceiver" {
		t.Errorf("ade20k classes 44, 89 = %q, %q", ade.Names[44], ade.Names[89])
	}

	cc, _ := Dataset("clearclip/voc21")
	want := []string{"background", "aeroplane", "bicycle", "bird", "ship", "bottle", "bus", "car", "cat", "chair", "cow",
		"table", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"}
	if !slices.Equal(cc.ClassNames(), want) {
		t.Errorf("clearclip/voc21 = %q", cc.ClassNames())
	}
	// Apart from the background line and the synonyms, the class lists agree.
	for i := 1; i < 21; i++ {
		if i != 15 && i != 20 && cc.Names[i][0] != voc21.Names[i][0] {
			t.Errorf("class %d: clearclip %q, sclip %q", i, cc.Names[i][0], voc21.Names[i][0])
		}
	}
}

// The strict parser rejects the published COCO-Object file, naming both lines.
func TestStrictParseOfCOCOObject(t *testing.T) {
	raw, _ := ClassFile("cls_coco_object.txt")
	_, err := ParseClassFile(bytes.NewReader(raw), "cls_coco_object.txt", SepSCLIP)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Index != 61 || !strings.Contains(err.Error(), `"bed"`) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v, want a duplicate \"bed\" on lines 1 and 61", err)
	}
	// All other files parse strictly, with either separator.
	for path := range classFileDigests {
		if path == "cls_coco_object.txt" {
			continue
		}
		raw, _ := ClassFile(path)
		a, err := ParseClassFile(bytes.NewReader(raw), path, SepSCLIP)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		b, err := ParseClassFile(bytes.NewReader(raw), path, SepClearCLIP)
		if err != nil {
			t.Errorf("%s (','): %v", path, err)
			continue
		}
		// With trimming, ClearCLIP's ',' split gives the same names.
		if !slicesEqual2(a.Names, b.Names) {
			t.Errorf("%s: ', ' and ',' splits differ", path)
		}
	}
}

func TestDatasetLookup(t *testing.T) {
	for alias, canon := range map[string]string{"city_scapes": "cityscapes", "coco_stuff": "coco_stuff164k", " VOC21 ": "voc21", "pc59": "context59"} {
		a, err := Dataset(alias)
		if err != nil {
			t.Fatalf("Dataset(%q): %v", alias, err)
		}
		b, _ := Dataset(canon)
		if !slicesEqual2(a.Names, b.Names) {
			t.Errorf("Dataset(%q) differs from Dataset(%q)", alias, canon)
		}
	}
	_, err := Dataset("coco")
	if err == nil {
		t.Fatal("Dataset(coco): no error")
	}
	for _, n := range DatasetNames() {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
	if len(DatasetNames()) != 12 {
		t.Errorf("DatasetNames = %q", DatasetNames())
	}
}

func slicesEqual2(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}
