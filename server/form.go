package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/prompts"
)

// maxFieldBytes bounds each text field of a form.
const maxFieldBytes = 1 << 20

// form is a parsed multipart/form-data body: its text fields and the one
// file (the image).
type form struct {
	fields    map[string]string
	image     *upload
	imageName string
	hasImage  bool
}

// readForm reads a multipart/form-data body. Only the names in allowed are
// accepted (an unknown or repeated field is an error: a typo must not be
// silently ignored); fileField is the one part read as a file, at most
// maxImage bytes, kept as st says (in memory, or a temporary file past
// st.spillAt). On success the caller must close f.image.
func readForm(contentType string, body io.Reader, allowed map[string]bool, fileField string, maxImage int64, st store) (_ *form, err error) {
	if strings.TrimSpace(contentType) == "" {
		return nil, errorf(http.StatusUnsupportedMediaType, "no Content-Type: send multipart/form-data (curl -F image=@photo.jpg -F ...)")
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed Content-Type %q: %v", contentType, err)
	}
	if mt != "multipart/form-data" {
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Type %s is not supported: send multipart/form-data (curl -F image=@photo.jpg -F ...)", mt)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, errorf(http.StatusBadRequest, "malformed multipart body: Content-Type has no boundary")
	}
	// The multipart reader may turn a read error into a parse error (a
	// timeout inside a part's header reads as a malformed header): keep
	// the first error of the body itself to classify the failure.
	rec := &errRecorder{r: body}
	mr := multipart.NewReader(rec, boundary)
	f := &form{fields: map[string]string{}}
	defer func() {
		if err != nil && f.image != nil {
			f.image.close()
		}
	}()
	fail := func(err error) (*form, error) {
		if rec.err != nil {
			return nil, multipartError(rec.err)
		}
		return nil, multipartError(err)
	}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			if n == 0 {
				return nil, errorf(http.StatusBadRequest, "malformed multipart body: no parts (does the body use the boundary of its Content-Type?)")
			}
			break
		}
		if err != nil {
			return fail(err)
		}
		name := p.FormName()
		switch {
		case name == "":
			return nil, errorf(http.StatusBadRequest, "malformed multipart body: a part has no form name")
		case !allowed[name] && name != fileField:
			return nil, errorf(http.StatusBadRequest, "unknown field %q (known: %s)", name, strings.Join(knownFields(allowed, fileField), ", "))
		case name == fileField:
			if f.hasImage {
				return nil, errorf(http.StatusBadRequest, "field %q given twice", name)
			}
			u, err := readUpload(p, maxImage, st)
			var ae *apiError
			if errors.As(err, &ae) {
				return nil, err
			}
			if err != nil {
				return fail(err)
			}
			f.image, f.imageName, f.hasImage = u, p.FileName(), true
		default:
			if _, dup := f.fields[name]; dup {
				return nil, errorf(http.StatusBadRequest, "field %q given twice", name)
			}
			data, err := readLimited(p, maxFieldBytes, -1)
			if err != nil {
				return fail(err)
			}
			if len(data) > maxFieldBytes {
				return nil, errorf(http.StatusRequestEntityTooLarge, "field %q longer than %d bytes", name, maxFieldBytes)
			}
			f.fields[name] = string(data)
		}
		p.Close()
	}
	return f, nil
}

// errRecorder passes reads through and keeps the first error other than
// io.EOF.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// readLimited reads r to its end or to limit+1 bytes, whichever comes
// first, into a buffer of sizeHint bytes (capped at limit+1) grown only if
// needed; more than limit bytes means over the limit.
func readLimited(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	n := sizeHint
	if n <= 0 || n > limit+1 {
		n = min(limit+1, 64<<10)
	}
	buf := make([]byte, 0, n)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, nil
			}
			nb := make([]byte, len(buf), min(2*int64(cap(buf))+4096, limit+1))
			copy(nb, buf)
			buf = nb
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func multipartError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return asAPIError(err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(http.StatusBadRequest, "malformed multipart body: it ends before its closing boundary")
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return errorf(http.StatusRequestTimeout, "reading the request body timed out")
	}
	return errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
}

func knownFields(allowed map[string]bool, fileField string) []string {
	out := []string{fileField}
	for k := range allowed {
		out = append(out, k)
	}
	sort.Strings(out[1:])
	return out
}

// value returns a field's trimmed value and whether it was given (an empty
// value counts as not given, as an empty HTML input does).
func (f *form) value(name string) (string, bool) {
	v, ok := f.fields[name]
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (f *form) intField(name string, dst *int) error {
	if v, ok := f.value(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "field %s: %q is not an integer", name, v)
		}
		*dst = n
	}
	return nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on", "t", "y":
		return true, true
	case "0", "false", "no", "off", "f", "n":
		return false, true
	}
	return false, false
}

func (f *form) boolField(name string, dst *bool) error {
	if v, ok := f.value(name); ok {
		b, ok := parseBool(v)
		if !ok {
			return errorf(http.StatusBadRequest, "field %s: %q is not a boolean (1/0, true/false, on/off)", name, v)
		}
		*dst = b
	}
	return nil
}

// Limits bound what one request may ask for.
type Limits struct {
	MaxBodyBytes int64 // request body
	MaxPixels    int64 // decoded image width·height
	// MaxMapValues bounds (queries + classes)·pixels of a segmentation, and
	// texts·pixels of an explanation: the float32 maps one request holds
	// (4 bytes each) at the image's size.
	MaxMapValues int64
	MaxClasses   int // classes (segment) or texts (explain), background not counted
	MaxNames     int // text queries of a segmentation: every synonym, background included
	MaxSide      int // largest short_side, square, crop and size, and max_side
}

// segmentRequest is a parsed POST /v1/segment form.
type segmentRequest struct {
	image     *upload
	imageName string
	vocab     *prompts.Vocabulary
	names     []string // display name per class ("background" for class 0 when it is)
	notes     []string
	opts      freeseg.Options
	heatmaps  bool
	exports   exportRequest // masks, coco, instances (exports.go)
	exif      bool
}

// Fields of the forms besides the settings of freeseg.Settings, which are
// accepted by name (see GET /v1/params).
var (
	segmentFields = fieldSet(freeseg.ForSegment, append([]string{"classes", "background", "heatmaps", "exif"}, exportFields...)...)
	explainFields = fieldSet(freeseg.ForExplain, "texts", "exif", "size")
)

func fieldSet(u freeseg.Use, names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range append(names, freeseg.SettingNames(u)...) {
		m[n] = true
	}
	return m
}

// applySettings sets the form's settings fields on o (each checked for its
// type and range by the table) and then checks the sizes against the
// service's own limit.
func applySettings(f *form, o *freeseg.Options, u freeseg.Use, lim Limits) error {
	given := map[string]string{}
	for _, n := range freeseg.SettingNames(u) {
		if v, ok := f.value(n); ok {
			given[n] = v
		}
	}
	if err := freeseg.Apply(o, given, u); err != nil {
		return errorf(http.StatusBadRequest, "field %v", err)
	}
	for _, n := range []string{"short_side", "square", "crop", "stride", "max_side"} {
		if v, ok := given[n]; ok {
			s, _ := freeseg.SettingByName(n)
			if x := s.Get(o).(int); x > lim.MaxSide {
				return errorf(http.StatusBadRequest, "field %s: %s is above this service's limit of %d", n, v, lim.MaxSide)
			}
		}
	}
	return nil
}

// parseSegmentForm reads and checks a segment request; layers is the
// model's vision depth (for Options.Validate). Every error is an *apiError
// with a 4xx code.
// On success the caller must close req.image.
func parseSegmentForm(contentType string, body io.Reader, layers int, lim Limits, st store) (req *segmentRequest, err error) {
	f, err := readForm(contentType, body, segmentFields, "image", lim.MaxBodyBytes, st)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && f.image != nil {
			f.image.close()
		}
	}()
	if !f.hasImage {
		return nil, errorf(http.StatusBadRequest, "missing field image: the photo, as a file part (curl -F image=@photo.jpg)")
	}
	if f.image.size == 0 {
		return nil, errorf(http.StatusBadRequest, "the image file is empty")
	}
	classes, ok := f.value("classes")
	if !ok {
		return nil, errorf(http.StatusBadRequest, "missing field classes: the class names, e.g. \"cat, dog; sky\" (';' separates classes, ',' synonyms)")
	}
	// Count before parsing in full: a huge list is refused cheaply.
	if n := strings.Count(classes, ";") + strings.Count(classes, "\n") + strings.Count(classes, ",") + 1; n > 4*lim.MaxNames {
		return nil, errorf(http.StatusBadRequest, "too many classes (about %d names); at most %d classes and %d names per request", n, lim.MaxClasses, lim.MaxNames)
	}
	v, err := prompts.ParseClassList(classes)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "classes: %v", err)
	}
	if v.Len() > lim.MaxClasses {
		return nil, errorf(http.StatusBadRequest, "%d classes; at most %d per request", v.Len(), lim.MaxClasses)
	}
	background, _ := f.value("background")
	if strings.EqualFold(background, "file") || strings.EqualFold(background, "first") {
		// The service has no class file; "first" would silently turn the
		// first class into background.
		return nil, errorf(http.StatusBadRequest, "background %q is not offered here: use default, none, or your own names (\"sky, wall\")", background)
	}
	vocab, notes, err := freeseg.WithBackground(v, background)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	if q, _ := vocab.Queries(); len(q) > lim.MaxNames {
		return nil, errorf(http.StatusBadRequest, "%d names to encode (synonyms and background names included); at most %d per request", len(q), lim.MaxNames)
	}
	o := freeseg.DefaultOptions()
	if err := applySettings(f, &o, freeseg.ForSegment, lim); err != nil {
		return nil, err
	}
	req = &segmentRequest{image: f.image, imageName: f.imageName, vocab: vocab, notes: notes, exif: true}
	for _, x := range []struct {
		name string
		dst  *bool
	}{{"heatmaps", &req.heatmaps}, {"exif", &req.exif}} {
		if err := f.boolField(x.name, x.dst); err != nil {
			return nil, err
		}
	}
	if req.exports, err = parseExportFields(f); err != nil {
		return nil, err
	}
	if err := o.Validate(layers); err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	req.opts = o
	req.names = vocab.DisplayNames()
	return req, nil
}

// explainRequest is a parsed POST /v1/explain form.
type explainRequest struct {
	image     *upload
	imageName string
	texts     []string
	opts      freeseg.Options
	exif      bool
}

// On success the caller must close req.image.
func parseExplainForm(contentType string, body io.Reader, layers int, lim Limits, st store) (req *explainRequest, err error) {
	f, err := readForm(contentType, body, explainFields, "image", lim.MaxBodyBytes, st)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && f.image != nil {
			f.image.close()
		}
	}()
	if !f.hasImage {
		return nil, errorf(http.StatusBadRequest, "missing field image: the photo, as a file part (curl -F image=@photo.jpg)")
	}
	if f.image.size == 0 {
		return nil, errorf(http.StatusBadRequest, "the image file is empty")
	}
	text, ok := f.value("texts")
	if !ok {
		return nil, errorf(http.StatusBadRequest, "missing field texts: the texts to explain, e.g. \"cat, dog\"")
	}
	if n := strings.Count(text, ";") + strings.Count(text, "\n") + strings.Count(text, ",") + 1; n > 4*lim.MaxClasses {
		return nil, errorf(http.StatusBadRequest, "too many texts (about %d); at most %d per request", n, lim.MaxClasses)
	}
	v, err := prompts.ParseClassList(strings.ReplaceAll(text, ";", ","))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "texts: %v", err)
	}
	texts := v.ClassNames()
	if len(texts) > lim.MaxClasses {
		return nil, errorf(http.StatusBadRequest, "%d texts; at most %d per request", len(texts), lim.MaxClasses)
	}
	// size is the older name of square.
	if size, ok := f.value("size"); ok {
		if _, dup := f.value("square"); dup {
			return nil, errorf(http.StatusBadRequest, "give square or size (its older name), not both")
		}
		f.fields["square"] = size
	}
	o := freeseg.DefaultExplainOptions()
	if err := applySettings(f, &o, freeseg.ForExplain, lim); err != nil {
		return nil, err
	}
	if o.Resize.Mode != freeseg.ResizeSquare {
		return nil, errorf(http.StatusBadRequest, "field square: explanations need a square input size of at least 1")
	}
	if o.FeatureSurgery == freeseg.SurgeryMulti && len(texts) < 2 {
		return nil, errorf(http.StatusBadRequest, "feature_surgery multi needs two or more texts; use redundant or auto for one")
	}
	if err := o.Validate(layers); err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	req = &explainRequest{image: f.image, imageName: f.imageName, texts: texts, exif: true, opts: o}
	if err := f.boolField("exif", &req.exif); err != nil {
		return nil, err
	}
	return req, nil
}

// describeLimit formats a byte count for messages.
func describeLimit(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
