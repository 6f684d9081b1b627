package eval

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/freeseg/freeseg/prompts"
)

// Spec describes one benchmark in MMSegmentation's layout (docs/protocols.md#datasets),
// as SCLIP's configs/cfg_*.py and custom_datasets.py read it. Paths are
// relative to the dataset root (MMSeg's data_root).
type Spec struct {
	Name            string // canonical name, as prompts.Dataset
	Title           string
	Classes         int
	Background      bool // class 0 is a background class that is scored
	ReduceZeroLabel bool // MMSeg reduce_zero_label: 0 ignored, k → k-1
	ImageDir        string
	LabelDir        string
	ImageSuffix     string // image = ImageDir/ID+ImageSuffix
	LabelSuffix     string // label = LabelDir/ID+LabelSuffix
	// Split is the split file (one ID per line); "" means every image
	// under ImageDir whose name ends in ImageSuffix, searched recursively
	// and sorted by path, as MMSeg lists a folder.
	Split string
	// Nest is the folder the root is usually the parent of
	// ("VOCdevkit/VOC2012"): a root without ImageDir but with
	// Nest/ImageDir is accepted.
	Nest   string
	Images int // images in the standard validation split
}

var benchmarks = []Spec{
	{Name: "voc21", Title: "PASCAL VOC 2012 val, 20 classes + background", Classes: 21, Background: true,
		ImageDir: "JPEGImages", LabelDir: "SegmentationClass", ImageSuffix: ".jpg", LabelSuffix: ".png",
		Split: "ImageSets/Segmentation/val.txt", Nest: "VOCdevkit/VOC2012", Images: 1449},
	{Name: "voc20", Title: "PASCAL VOC 2012 val, 20 classes (background ignored)", Classes: 20, ReduceZeroLabel: true,
		ImageDir: "JPEGImages", LabelDir: "SegmentationClass", ImageSuffix: ".jpg", LabelSuffix: ".png",
		Split: "ImageSets/Segmentation/val.txt", Nest: "VOCdevkit/VOC2012", Images: 1449},
	{Name: "context60", Title: "PASCAL Context val, 59 classes + background", Classes: 60, Background: true,
		ImageDir: "JPEGImages", LabelDir: "SegmentationClassContext", ImageSuffix: ".jpg", LabelSuffix: ".png",
		Split: "ImageSets/SegmentationContext/val.txt", Nest: "VOCdevkit/VOC2010", Images: 5105},
	{Name: "context59", Title: "PASCAL Context val, 59 classes (background ignored)", Classes: 59, ReduceZeroLabel: true,
		ImageDir: "JPEGImages", LabelDir: "SegmentationClassContext", ImageSuffix: ".jpg", LabelSuffix: ".png",
		Split: "ImageSets/SegmentationContext/val.txt", Nest: "VOCdevkit/VOC2010", Images: 5105},
	{Name: "coco_object", Title: "COCO-Object val2017, 80 thing classes + background", Classes: 81, Background: true,
		ImageDir: "images/val2017", LabelDir: "annotations/val2017", ImageSuffix: ".jpg", LabelSuffix: "_instanceTrainIds.png",
		Nest: "coco_stuff164k", Images: 5000},
	{Name: "coco_stuff164k", Title: "COCO-Stuff-164k val2017, 171 classes", Classes: 171,
		ImageDir: "images/val2017", LabelDir: "annotations/val2017", ImageSuffix: ".jpg", LabelSuffix: "_labelTrainIds.png",
		Nest: "coco_stuff164k", Images: 5000},
	{Name: "cityscapes", Title: "Cityscapes val, 19 classes", Classes: 19,
		ImageDir: "leftImg8bit/val", LabelDir: "gtFine/val", ImageSuffix: "_leftImg8bit.png", LabelSuffix: "_gtFine_labelTrainIds.png",
		Nest: "cityscapes", Images: 500},
	{Name: "ade20k", Title: "ADE20K val, 150 classes (\"other\" ignored)", Classes: 150, ReduceZeroLabel: true,
		ImageDir: "images/validation", LabelDir: "annotations/validation", ImageSuffix: ".jpg", LabelSuffix: ".png",
		Nest: "ADEChallengeData2016", Images: 2000},
}

// aliases are the other spellings prompts.Dataset accepts.
var aliases = map[string]string{
	"city_scapes": "cityscapes",
	"coco_stuff":  "coco_stuff164k",
	"pc60":        "context60",
	"pc59":        "context59",
	"ade":         "ade20k",
	"object":      "coco_object",
	"stuff":       "coco_stuff164k",
	"city":        "cityscapes",
}

// Folder is the name of the generic dataset ([OpenFolder]).
const Folder = "folder"

// Benchmarks returns the eight benchmark specs, with-background sets first.
func Benchmarks() []Spec { return slices.Clone(benchmarks) }

// BenchmarkNames returns the canonical benchmark names in [Benchmarks] order.
func BenchmarkNames() []string {
	out := make([]string, len(benchmarks))
	for i, s := range benchmarks {
		out[i] = s.Name
	}
	return out
}

// Lookup returns the spec of a benchmark by name or alias.
func Lookup(name string) (Spec, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, s := range benchmarks {
		if s.Name == n {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("eval: unknown dataset %q (valid: %s, or %s for your own images and labels)", name, strings.Join(BenchmarkNames(), ", "), Folder)
}

// Sample is one image and its label file.
type Sample struct {
	ID    string // split-file entry, or the image path under ImageDir without its suffix
	Image string
	Label string
}

// Dataset is an ordered list of samples with the label conventions to read
// them.
type Dataset struct {
	Spec
	Root      string
	SplitFile string // the split file read; "" when the image folder was listed
	Samples   []Sample
	// Vocabulary and ClassFile are set for folder datasets (the class file
	// given); a benchmark's vocabulary comes from its protocol.
	Vocabulary *prompts.Vocabulary
	ClassFile  string
}

// OpenOptions adjust [Open].
type OpenOptions struct {
	// Split replaces the spec's split file (a path, not relative to the
	// root), e.g. a subset list. For the sets MMSeg lists by folder (COCO,
	// Cityscapes, ADE) it gives the IDs to use instead of the listing:
	// paths under the image folder without the image suffix
	// ("frankfurt/frankfurt_000000_000294").
	Split string
}

// Open lists a benchmark under root. Errors name the missing path: the
// root, the image folder or the split file; a dataset without images is an
// error too. Labels are not checked here: a missing one makes the image a
// skip at evaluation time.
func Open(name, root string, opt OpenOptions) (*Dataset, error) {
	spec, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if root == "" {
		return nil, fmt.Errorf("eval: %s needs the dataset root (the folder holding %s)", spec.Name, spec.ImageDir)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("eval: dataset root %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("eval: dataset root %s is not a folder", root)
	}
	if !isDir(filepath.Join(root, spec.ImageDir)) && spec.Nest != "" && isDir(filepath.Join(root, spec.Nest, spec.ImageDir)) {
		root = filepath.Join(root, spec.Nest)
	}
	d := &Dataset{Spec: spec, Root: root}
	imgDir := filepath.Join(root, spec.ImageDir)
	if !isDir(imgDir) {
		return nil, fmt.Errorf("eval: %s: image folder %s not found (expected layout under --root: %s)", spec.Name, imgDir, Layout(spec))
	}
	split := opt.Split
	if split == "" && spec.Split != "" {
		split = filepath.Join(root, spec.Split)
	}
	if split != "" {
		ids, err := readSplit(split)
		if err != nil {
			return nil, err
		}
		// For the listed sets (COCO, Cityscapes, ADE) an override split
		// names images under ImageDir the same way (path without suffix).
		d.SplitFile = split
		for _, id := range ids {
			d.Samples = append(d.Samples, d.sample(id))
		}
	} else {
		ids, err := listImages(imgDir, spec.ImageSuffix)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			d.Samples = append(d.Samples, d.sample(id))
		}
	}
	if len(d.Samples) == 0 {
		where := imgDir + " (no *" + spec.ImageSuffix + " files)"
		if split != "" {
			where = "split file " + split
		}
		return nil, fmt.Errorf("eval: %s: empty dataset: %s", spec.Name, where)
	}
	return d, nil
}

func (d *Dataset) sample(id string) Sample {
	return Sample{
		ID:    id,
		Image: filepath.Join(d.Root, d.ImageDir, filepath.FromSlash(id)+d.ImageSuffix),
		Label: filepath.Join(d.Root, d.LabelDir, filepath.FromSlash(id)+d.LabelSuffix),
	}
}

// Layout describes the folders a spec expects under the root.
func Layout(s Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/*%s, %s/*%s", s.ImageDir, s.ImageSuffix, s.LabelDir, s.LabelSuffix)
	if s.Split != "" {
		fmt.Fprintf(&b, ", %s", s.Split)
	} else if strings.Contains(s.ImageDir, "leftImg8bit") {
		b.WriteString(" (one subfolder per city)")
	}
	return b.String()
}

// readSplit reads a split file: one ID per line, surrounding blanks
// trimmed (MMSeg strips each line), blank lines skipped. A repeated ID is
// an error: it would be counted twice.
func readSplit(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("eval: split file %s not found", path)
		}
		return nil, fmt.Errorf("eval: split file: %w", err)
	}
	defer f.Close()
	var ids []string
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		id := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if id == "" {
			continue
		}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("eval: split file %s: %q on line %d is already on line %d", path, id, line, first)
		}
		seen[id] = line
		ids = append(ids, filepath.ToSlash(id))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: split file %s: %w", path, err)
	}
	return ids, nil
}

// listImages returns the IDs (slash paths under dir, suffix removed) of the
// files under dir whose name ends in suffix, recursively, sorted by path.
func listImages(dir, suffix string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.HasSuffix(e.Name(), suffix) && len(e.Name()) > len(suffix) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: listing %s: %w", dir, err)
	}
	slices.Sort(paths)
	ids := make([]string, len(paths))
	for i, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, err
		}
		ids[i] = strings.TrimSuffix(filepath.ToSlash(rel), suffix)
	}
	return ids, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// FolderOptions describe a dataset of your own: an image folder, a label
// folder of palette or greyscale PNGs matched by name, and a class file.
type FolderOptions struct {
	Images    string // image folder (searched recursively)
	Labels    string // label folder: Labels/ID+LabelSuffix for Images/ID.ext
	ClassFile string // one class per line, synonyms separated by ", " (prompts.ParseClassFile)
	// LabelSuffix ends every label file name; "" means ".png".
	LabelSuffix string
	// Split optionally lists the IDs to evaluate (paths under Images
	// without extension), in order.
	Split           string
	Background      bool // class 0 (line 1 of the class file) is background
	ReduceZeroLabel bool // label 0 is ignored and k becomes class k-1
}

// ImageExts are the image extensions of folder datasets.
var ImageExts = []string{".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}

// OpenFolder lists a folder dataset. The number of classes is the number
// of lines of the class file (at most 255). Images are matched by their
// path under Images without the extension; two images with the same name
// and different extensions are an error.
func OpenFolder(o FolderOptions) (*Dataset, error) {
	if o.Images == "" || o.Labels == "" || o.ClassFile == "" {
		return nil, fmt.Errorf("eval: a folder dataset needs an image folder, a label folder and a class file")
	}
	if !isDir(o.Images) {
		return nil, fmt.Errorf("eval: image folder %s not found", o.Images)
	}
	if !isDir(o.Labels) {
		return nil, fmt.Errorf("eval: label folder %s not found", o.Labels)
	}
	f, err := os.Open(o.ClassFile)
	if err != nil {
		return nil, fmt.Errorf("eval: class file: %w", err)
	}
	vocab, err := prompts.ParseClassFile(f, o.ClassFile, prompts.SepSCLIP)
	f.Close()
	if err != nil {
		return nil, err
	}
	if vocab.Len() > Ignore {
		return nil, fmt.Errorf("eval: %s: %d classes; label PNGs hold at most %d (255 is the ignore index)", o.ClassFile, vocab.Len(), Ignore)
	}
	if o.Background && vocab.Len() < 2 {
		return nil, fmt.Errorf("eval: %s: a background line and at least one class are needed", o.ClassFile)
	}
	suffix := o.LabelSuffix
	if suffix == "" {
		suffix = ".png"
	}
	d := &Dataset{
		Spec: Spec{Name: Folder, Title: "folder " + o.Images, Classes: vocab.Len(), Background: o.Background,
			ReduceZeroLabel: o.ReduceZeroLabel, ImageDir: o.Images, LabelDir: o.Labels, LabelSuffix: suffix},
		Vocabulary: vocab, ClassFile: o.ClassFile,
	}
	// Every image, keyed by its path without extension.
	byID := map[string]string{}
	var ids []string
	err = filepath.WalkDir(o.Images, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !slices.Contains(ImageExts, strings.ToLower(filepath.Ext(p))) {
			return nil
		}
		rel, err := filepath.Rel(o.Images, p)
		if err != nil {
			return err
		}
		id := filepath.ToSlash(strings.TrimSuffix(rel, filepath.Ext(rel)))
		if prev, dup := byID[id]; dup {
			return fmt.Errorf("eval: %s and %s have the same name; labels are matched by name", prev, p)
		}
		byID[id] = p
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	if o.Split != "" {
		want, err := readSplit(o.Split)
		if err != nil {
			return nil, err
		}
		d.SplitFile = o.Split
		ids = ids[:0]
		for _, id := range want {
			if _, ok := byID[id]; !ok {
				// Listed but absent: kept, so that it shows as a skip.
				byID[id] = filepath.Join(o.Images, filepath.FromSlash(id)+".jpg")
			}
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		d.Samples = append(d.Samples, Sample{ID: id, Image: byID[id], Label: filepath.Join(o.Labels, filepath.FromSlash(id)+suffix)})
	}
	if len(d.Samples) == 0 {
		if o.Split != "" {
			return nil, fmt.Errorf("eval: empty dataset: split file %s lists no images", o.Split)
		}
		return nil, fmt.Errorf("eval: empty dataset: no images (%s) in %s", strings.Join(ImageExts, " "), o.Images)
	}
	return d, nil
}

// Shard returns the positions in Samples of shard i of n: every n-th
// sample starting at i.
func (d *Dataset) Shard(i, n int) []int {
	var out []int
	for k := i; k < len(d.Samples); k += n {
		out = append(out, k)
	}
	return out
}

// ListDigest is a SHA-256 over the ordered sample IDs: two runs share it
// exactly when they list the same images in the same order.
func (d *Dataset) ListDigest() string {
	h := sha256.New()
	for _, s := range d.Samples {
		fmt.Fprintf(h, "%d:%s\n", len(s.ID), s.ID)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// SkipError is a problem with one sample that the evaluator may skip
// (missing or unreadable file) rather than stop on.
type SkipError struct {
	ID     string
	Reason string
}

func (e *SkipError) Error() string { return e.ID + ": " + e.Reason }

// LoadLabel reads the sample's label map, applies reduce_zero_label when
// the dataset uses it, and checks every value is a class or [Ignore]. A
// missing or damaged file gives a *SkipError; a file that cannot be a
// label map (*FormatError) or holds a value out of range (*RangeError)
// gives that error.
func (d *Dataset) LoadLabel(s Sample) (*LabelMap, error) {
	l, err := ReadLabelFile(s.Label)
	if err != nil {
		var ce *CorruptError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &SkipError{s.ID, "label " + s.Label + " not found"}
		case errors.As(err, &ce):
			return nil, &SkipError{s.ID, ce.Error()}
		}
		return nil, err
	}
	if d.ReduceZeroLabel {
		l.ReduceZeroLabel()
	}
	if err := l.Check(d.Classes); err != nil {
		return nil, err
	}
	return l, nil
}
