package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/beam/storage"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// SegmentConfig is everything a worker needs to segment an image; it
// travels to the workers inside the pipeline (exported fields only).
type SegmentConfig struct {
	Model   string // folder, checkpoint, hub id or object-store prefix
	NoCache bool   // no on-disk classifier cache
	// Classes are the synonyms of each class, background first when
	// Background (freeseg.WithBackground's vocabulary).
	Classes    [][]string
	Background bool
	// Settings are the settings given on the command line, by name, over
	// freeseg.DefaultOptions (freeseg.Apply with freeseg.ForSegment: the
	// table freeseg segment and the service bind).
	Settings  map[string]string
	Exif      bool
	Output    string // output prefix (folder or object-store prefix)
	Strict    bool   // fail on an unreadable image instead of listing it
	Generator string // "freeseg VERSION", the JSON's and PNGs' marker
}

// Options are the segmentation options of c, built as freeseg segment
// builds them: the settings given over freeseg.DefaultOptions.
func (c *SegmentConfig) Options() (freeseg.Options, error) {
	o := freeseg.DefaultOptions()
	err := freeseg.Apply(&o, c.Settings, freeseg.ForSegment)
	return o, err
}

// Vocabulary is the classes as the engine takes them.
func (c *SegmentConfig) Vocabulary() *prompts.Vocabulary {
	return &prompts.Vocabulary{Names: c.Classes, Background: c.Background}
}

// Task is one image to segment: its path and the base name of its outputs
// (NAME.labels.png, NAME.overlay.png, NAME.json).
type Task struct {
	Image string
	Name  string
}

// segmentSuffixes are the files written per image.
var segmentSuffixes = []string{".labels.png", ".overlay.png", ".json"}

// Tasks names the outputs of each image the way freeseg segment does (one
// output folder): a file name without its extension when no other input
// has that stem (case-insensitively), else the whole file name, then
// "-2", "-3" ... until free; the files of inputs inside the output folder
// are never taken.
func Tasks(images []string, output string) []Task {
	out := make([]Task, len(images))
	reserved := map[string]bool{}
	for _, p := range images {
		if dirOf(p) == strings.TrimSuffix(output, "/") {
			reserved[strings.ToLower(storage.Base(p))] = true
		}
	}
	free := func(base string) bool {
		for _, s := range segmentSuffixes {
			if reserved[strings.ToLower(base+s)] {
				return false
			}
		}
		return true
	}
	take := func(base string) {
		for _, s := range segmentSuffixes {
			reserved[strings.ToLower(base+s)] = true
		}
	}
	stem := func(p string) string { b := storage.Base(p); return strings.TrimSuffix(b, extOf(b)) }
	count := map[string]int{}
	for _, p := range images {
		count[strings.ToLower(stem(p))]++
	}
	var dup []int
	for i, p := range images {
		out[i].Image = p
		if s := stem(p); count[strings.ToLower(s)] == 1 && free(s) {
			out[i].Name = s
			take(s)
		} else {
			dup = append(dup, i)
		}
	}
	for _, i := range dup {
		b := storage.Base(images[i])
		cand := b
		for n := 2; !free(cand); n++ {
			cand = fmt.Sprintf("%s-%d", b, n)
		}
		out[i].Name = cand
		take(cand)
	}
	return out
}

// dirOf is the folder (or prefix) of a path of any filesystem.
func dirOf(p string) string {
	if storage.IsLocal(p) {
		return filepath.Dir(p)
	}
	return p[:max(strings.LastIndex(p, "/"), 0)]
}

// Row is a line of summary.jsonl.
type Row struct {
	Image     string    `json:"image"`
	Name      string    `json:"name"`
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
	Classes   []string  `json:"classes,omitempty"`
	Fractions []float64 `json:"fractions,omitempty"`
	Scores    []float64 `json:"scores,omitempty"`
	Seconds   float64   `json:"seconds"`
	// Reused is set when the image's outputs were already complete (a
	// rerun): the values are read back from NAME.json and Seconds is 0.
	Reused bool `json:"reused,omitempty"`
	// Error says why an image has no outputs (unreadable, not an image).
	Error string `json:"error,omitempty"`
}

// segmentReport is NAME.json, as freeseg segment writes it.
type segmentReport struct {
	freeseg.SegmentReport
	Outputs []string `json:"outputs"`
}

// markerKey is the PNG text keyword freeseg marks its own images with (so
// that a later run over the folder does not take them for photos).
const markerKey = "freeseg"

func markedPNG(w io.Writer, kind string, enc func(io.Writer) error) error {
	mw, err := imageio.WithPNGText(w, markerKey, kind)
	if err != nil {
		return err
	}
	return enc(mw)
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// marshalJSON encodes as freeseg's JSON files are: two-space indent, no
// HTML escaping, a final newline.
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return b.Bytes(), err
}

// FailHook is the environment variable of the fault-injection test hook:
// a comma-separated list of output names (segment: the image fails after
// its label PNG is written, as a worker killed mid-image would leave it)
// or sample IDs (eval: the image fails after it is scored).
const FailHook = "FREESEG_BEAM_TEST_FAIL"

func failHook() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(os.Getenv(FailHook), ",") {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = true
		}
	}
	return m
}

func init() {
	register.DoFn3x1[context.Context, Task, func(string), error](&segmentFn{})
	register.Emitter1[string]()
	register.DoFn3x1[context.Context, int, func(*string) bool, error](&summaryFn{})
	register.Iter1[string]()
	beam.RegisterType(reflect.TypeOf((*Task)(nil)).Elem())
}

// segmentFn segments an image and writes its three outputs; it emits the
// summary row as JSON.
type segmentFn struct {
	Config SegmentConfig

	eng      *freeseg.Engine
	vocab    *prompts.Vocabulary
	opts     freeseg.Options
	settings []byte // JSON of the settings object, to recognise our outputs
	store    *storage.Store
	fail     map[string]bool
}

// Setup loads the model and the text classifier once per worker process.
func (f *segmentFn) Setup(ctx context.Context) error {
	var err error
	if f.opts, err = f.Config.Options(); err != nil {
		return err
	}
	if f.eng, err = engineFor(ctx, f.Config.Model, f.Config.NoCache); err != nil {
		return err
	}
	if err := f.eng.Validate(f.opts); err != nil {
		return err
	}
	f.vocab = f.Config.Vocabulary()
	if err := warmClassifier(f.eng, f.vocab, f.opts.Templates); err != nil {
		return err
	}
	if f.settings, err = json.Marshal(freeseg.ReportSettings(&f.opts, freeseg.ForSegment, f.Config.Background)); err != nil {
		return err
	}
	if f.store, err = storage.Open(ctx, f.Config.Output); err != nil {
		return err
	}
	f.fail = failHook()
	return nil
}

func (f *segmentFn) Teardown() error {
	if f.store != nil {
		return f.store.Close()
	}
	return nil
}

func (f *segmentFn) paths(name string) (labels, overlay, js string) {
	o := f.Config.Output
	return storage.Join(o, name+".labels.png"), storage.Join(o, name+".overlay.png"), storage.Join(o, name+".json")
}

func (f *segmentFn) ProcessElement(ctx context.Context, t Task, emit func(string)) error {
	row, err := f.process(ctx, t)
	if err != nil {
		return err
	}
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	emit(string(b))
	return nil
}

func (f *segmentFn) process(ctx context.Context, t Task) (*Row, error) {
	labelsPath, overlayPath, jsonPath := f.paths(t.Name)
	for _, p := range []string{labelsPath, overlayPath, jsonPath} {
		if p == t.Image {
			return nil, fmt.Errorf("refusing to write %s: it is one of the inputs", p)
		}
	}
	if row, err := f.done(ctx, t, labelsPath, overlayPath, jsonPath); row != nil || err != nil {
		return row, err
	}
	start := time.Now()
	data, err := f.store.Read(ctx, t.Image)
	var img *imageio.RGB
	var meta imageio.Meta
	if err == nil {
		img, meta, err = imageio.Decode(bytes.NewReader(data), t.Image)
	}
	if err != nil {
		if f.Config.Strict {
			return nil, fmt.Errorf("%s: %w (--strict)", t.Image, err)
		}
		return &Row{Image: t.Image, Name: t.Name, Error: err.Error()}, nil
	}
	if f.Config.Exif && meta.Orientation > 1 {
		img = imageio.ApplyOrientation(img, meta.Orientation)
	}
	if w, h := imageio.FitLongSide(img.W, img.H, f.opts.MaxSide); w != img.W || h != img.H {
		img = imageio.ResizePIL(img, w, h, imageio.Bicubic)
	}
	res, err := f.eng.Segment(ctx, img, f.vocab, f.opts)
	if err != nil {
		if f.Config.Strict {
			return nil, fmt.Errorf("%s: %w", t.Image, err)
		}
		return &Row{Image: t.Image, Name: t.Name, Error: err.Error()}, nil
	}
	C := len(res.Classes)
	pal := freeseg.ClassColors(C, res.Background)
	var lb, ob bytes.Buffer
	if err := markedPNG(&lb, "labels", func(w io.Writer) error {
		if freeseg.LabelsFormat(C) == "gray16" {
			return imageio.WriteGray16PNG(w, res.Labels, res.Width, res.Height)
		}
		return imageio.WritePalettePNG(w, res.Labels, res.Width, res.Height, pal)
	}); err != nil {
		return nil, err
	}
	if err := markedPNG(&ob, "overlay", func(w io.Writer) error { return imageio.EncodePNG(w, freeseg.Overlay(res)) }); err != nil {
		return nil, err
	}
	rep := segmentReport{SegmentReport: freeseg.NewSegmentReport(res, f.vocab, &f.opts), Outputs: []string{labelsPath, overlayPath}}
	rep.Generator, rep.Image = f.Config.Generator, t.Image
	row := &Row{Image: t.Image, Name: t.Name, Width: res.Width, Height: res.Height, Classes: res.Classes}
	for _, ci := range rep.Classes {
		row.Fractions = append(row.Fractions, ci.Fraction)
		row.Scores = append(row.Scores, ci.Score)
	}
	jb, err := marshalJSON(rep)
	if err != nil {
		return nil, err
	}
	// NAME.json goes last: its presence marks the image done.
	if err := f.store.Write(ctx, labelsPath, lb.Bytes()); err != nil {
		return nil, err
	}
	if f.fail[t.Name] {
		return nil, fmt.Errorf("%s: failure injected by %s", t.Image, FailHook)
	}
	if err := f.store.Write(ctx, overlayPath, ob.Bytes()); err != nil {
		return nil, err
	}
	if err := f.store.Write(ctx, jsonPath, jb); err != nil {
		return nil, err
	}
	row.Seconds = math.Round(time.Since(start).Seconds()*1e3) / 1e3
	return row, nil
}

// done returns the summary row of an image whose outputs are complete
// (NAME.json, written last, is there and both PNGs too), read back from
// NAME.json; nil when the image is still to do. Outputs made with other
// settings or classes are an error: they would otherwise be mixed with
// this run's.
func (f *segmentFn) done(ctx context.Context, t Task, labelsPath, overlayPath, jsonPath string) (*Row, error) {
	ok, err := f.store.Exists(ctx, jsonPath)
	if err != nil || !ok {
		return nil, err
	}
	b, err := f.store.Read(ctx, jsonPath)
	if err != nil {
		return nil, err
	}
	var rep struct {
		Width, Height int
		Classes       []freeseg.ClassReport `json:"classes"`
		Settings      json.RawMessage       `json:"settings"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s exists but is not a freeseg result (%v); choose another --output", jsonPath, err)
	}
	var a, want any
	if json.Unmarshal(rep.Settings, &a) != nil || json.Unmarshal(f.settings, &want) != nil || !reflect.DeepEqual(a, want) {
		return nil, fmt.Errorf("%s was made with other settings; choose another --output (or remove it)", jsonPath)
	}
	row := &Row{Image: t.Image, Name: t.Name, Width: rep.Width, Height: rep.Height, Reused: true}
	names := f.vocab.DisplayNames()
	if len(rep.Classes) != len(names) {
		return nil, fmt.Errorf("%s was made with %d classes, this run has %d; choose another --output", jsonPath, len(rep.Classes), len(names))
	}
	for i, c := range rep.Classes {
		if c.Name != names[i] || !slicesEqual(c.Synonyms, f.Config.Classes[i]) {
			return nil, fmt.Errorf("%s was made with other classes (%q); choose another --output", jsonPath, c.Name)
		}
		row.Classes = append(row.Classes, c.Name)
		row.Fractions = append(row.Fractions, c.Fraction)
		row.Scores = append(row.Scores, c.Score)
	}
	for _, p := range []string{labelsPath, overlayPath} {
		if ok, err := f.store.Exists(ctx, p); err != nil || !ok {
			return nil, err // redo the image
		}
	}
	return row, nil
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// summaryFn writes all rows, sorted by image and name, as one JSON Lines
// file. It runs once, after a GroupByKey on a fixed key, so the file is a
// pipeline output: a retried bundle rewrites the same bytes.
type summaryFn struct {
	Path string
}

func (f *summaryFn) ProcessElement(ctx context.Context, _ int, rows func(*string) bool) error {
	var lines []string
	var r string
	for rows(&r) {
		lines = append(lines, r)
	}
	// Each line starts with {"image":..., so this orders by image path.
	sort.Strings(lines)
	st, err := storage.Open(ctx, f.Path)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Write(ctx, f.Path, []byte(strings.Join(lines, "\n")+"\n"))
}

// SummaryName is the summary file under the output prefix.
const SummaryName = "summary.jsonl"

// BuildSegment adds the segmentation of tasks to the pipeline: one
// segmentFn per image (after a Reshuffle, so that runners spread the
// images over workers) and the summary written by one summaryFn.
func BuildSegment(s beam.Scope, c SegmentConfig, tasks []Task) {
	s = s.Scope("freeseg.segment")
	in := beam.Reshuffle(s, beam.CreateList(s, tasks))
	rows := beam.ParDo(s, &segmentFn{Config: c}, in)
	keyed := beam.AddFixedKey(s, rows)
	beam.ParDo0(s, &summaryFn{Path: storage.Join(c.Output, SummaryName)}, beam.GroupByKey(s, keyed))
}

// extOf is filepath.Ext of a base name.
func extOf(b string) string {
	if i := strings.LastIndex(b, "."); i >= 0 {
		return b[i:]
	}
	return ""
}
