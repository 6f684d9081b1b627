package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/tokenizer"
)

// ClassJSON describes one class of a segmentation.
type ClassJSON struct {
	Index    int      `json:"index"`
	Name     string   `json:"name"`
	Synonyms []string `json:"synonyms"`
	Color    [3]uint8 `json:"color"`    // RGB of the class in the overlay and the label PNG's palette
	Fraction float64  `json:"fraction"` // share of the pixels labelled with it
	Score    float64  `json:"score"`    // image-level score (softmax over classes of the pooled logits)
	Kept     bool     `json:"kept"`     // kept by the partial-label stage (always true when it is off)
}

// HeatmapJSON is one class's probability map as an 8-bit greyscale PNG
// (round(p·255)), base64.
type HeatmapJSON struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	PNG   string `json:"png"`
}

// Timing is where a request's time went, in milliseconds.
type Timing struct {
	QueueMS     float64 `json:"queue_ms"`     // waiting for an inference slot
	DecodeMS    float64 `json:"decode_ms"`    // decoding (and scaling) the image
	InferenceMS float64 `json:"inference_ms"` // the model and the pipeline
	EncodeMS    float64 `json:"encode_ms"`    // PNG outputs
	TotalMS     float64 `json:"total_ms"`
}

// SegmentResponse is the JSON answer of POST /v1/segment.
type SegmentResponse struct {
	Model       string         `json:"model"`
	Width       int            `json:"width"`
	Height      int            `json:"height"`
	InputWidth  int            `json:"input_width"`
	InputHeight int            `json:"input_height"`
	Classes     []ClassJSON    `json:"classes"`
	Notes       []string       `json:"notes,omitempty"`
	Settings    map[string]any `json:"settings"`
	Timing      Timing         `json:"timing"`
	// LabelsPNG is the label map: a palette PNG whose pixel values are the
	// class indices (LabelsFormat "palette", up to 256 classes) or a
	// 16-bit greyscale PNG of them ("gray16").
	LabelsPNG    string `json:"labels_png"`
	LabelsFormat string `json:"labels_format"`
	// OverlayPNG is the photo with the class colours blended in and a
	// legend of the classes present on its right.
	OverlayPNG string        `json:"overlay_png"`
	Heatmaps   []HeatmapJSON `json:"heatmaps,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(d.Seconds()*1e5) / 100 }

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// checkMapValues refuses requests whose maps would exceed the limit.
func (s *Server) checkMapValues(perPixel int, w, h int, what string) error {
	v := int64(perPixel) * int64(w) * int64(h)
	if v > s.cfg.MaxMapValues {
		return errorf(http.StatusRequestEntityTooLarge,
			"%s at %dx%d need %d map values (%s of float32), more than the limit of %d: send a smaller image, set max_side (e.g. 1024), or use fewer classes",
			what, w, h, v, describeLimit(4*v), s.cfg.MaxMapValues)
	}
	return nil
}

// engineError classifies an error of the engine: texts too long for the
// model are the client's (400), settings that do not fit the image 422.
func engineError(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, tokenizer.ErrTooLong) {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	return errorf(http.StatusUnprocessableEntity, "%v", err)
}

func (s *Server) limitBody(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is larger than the limit of %s", r.ContentLength, describeLimit(s.cfg.MaxBodyBytes))
	}
	if sw, ok := w.(*statusWriter); ok {
		w = sw.ResponseWriter // so that a body over the limit also closes the connection
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	return nil
}

func (s *Server) handleSegment(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	tk, err := s.begin(w, r)
	if err != nil {
		return err
	}
	defer tk.done()
	req, err := parseSegmentForm(r.Header.Get("Content-Type"), r.Body, len(s.eng.Model.Vision.Blocks), s.cfg.Limits, s.store(r))
	if err != nil {
		return err
	}
	defer req.image.close()
	queries, _ := req.vocab.Queries()
	ow, oh, err := s.checkUpload(req.image, req.maxSide, len(queries)+req.vocab.Len(), fmt.Sprintf("%d classes (%d names)", req.vocab.Len(), len(queries)))
	if err != nil {
		return err
	}
	b, err := s.eng.SegmentBudget(ow, oh, len(queries), req.vocab.Len(), req.opts)
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if err := s.checkBudget(&b, req.opts.Window.Crop == 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InferenceTimeout)
	defer cancel()
	var res *freeseg.Result
	img, times, err := s.decodeAndRun(ctx, "segment", tk, req.image, req.imageName, req.exif, req.maxSide, func(img *imageio.RGB) error {
		var err error
		res, err = s.eng.Segment(img, req.vocab, req.opts)
		return err
	})
	if err != nil {
		return err
	}
	t := time.Now()
	resp, err := s.segmentResponse(req, img, res)
	if err != nil {
		return err
	}
	resp.Timing = times.timing(t, start)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// store is where the request's upload is kept while it waits.
func (s *Server) store(r *http.Request) store {
	return store{sizeHint: r.ContentLength, spillAt: s.cfg.SpillBytes, dir: s.cfg.UploadDir}
}

// begin refuses work while shutting down, bounds the request body and
// admits the request (429 when full) before any of its body is read.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (*ticket, error) {
	if s.closing.Load() {
		s.met.reject("shutting_down")
		return nil, errorf(http.StatusServiceUnavailable, "the server is shutting down")
	}
	if err := s.limitBody(w, r); err != nil {
		return nil, err
	}
	return s.admit()
}

// checkUpload reads the upload's size from its header (no decoding),
// checks the pixel limit and the memory of the maps the answer needs, and
// returns the size the image will have (after max_side).
func (s *Server) checkUpload(image *upload, maxSide, maps int, what string) (int, int, error) {
	iw, ih, err := probeImage(image.reader(), s.cfg.MaxPixels)
	if err != nil {
		return 0, 0, err
	}
	ow, oh := fitSize(iw, ih, maxSide)
	return ow, oh, s.checkMapValues(maps, ow, oh, what)
}

// checkBudget refuses an inference over the service's budget, before it
// waits for a slot: 422 for a network input too large (tokens) or too much
// work, 413 for too much memory, each saying which fields to send instead.
// whole says the segmentation infers on the whole input (no windows).
func (s *Server) checkBudget(b *freeseg.Budget, whole bool) error {
	err := b.Check(s.cfg.Budget, s.eng.Model.Vision.Patch)
	var be *freeseg.BudgetError
	if !errors.As(err, &be) {
		return err
	}
	s.met.reject("budget")
	l := be.Limits
	var hint string
	switch {
	case be.What == "tokens" && b.Op == "explain":
		hint = fmt.Sprintf("send size<=%d", b.MaxSquare)
	case be.What == "tokens" && whole:
		hint = fmt.Sprintf("send square<=%d (or short_side, max_side so the input is at most %d pixels a side), or whole=0 for sliding windows", b.MaxSquare, b.MaxSquare)
	case be.What == "tokens":
		hint = fmt.Sprintf("send crop<=%d", b.MaxSquare)
	case be.What == "memory" && b.Op == "explain":
		hint = "send max_side=1024 (a smaller image), a smaller size or fewer texts"
	case be.What == "memory":
		hint = "send max_side=1024 (a smaller image), fewer classes, pamr=0, or a smaller short_side or square"
	case b.Op == "explain":
		hint = "send a smaller size"
	default:
		hint = "send a smaller short_side or square, a larger stride, or max_side=1024"
	}
	switch be.What {
	case "tokens":
		return errorf(http.StatusUnprocessableEntity, "the network input (%dx%d pixels a pass) would be %d tokens, more than this server's limit of %d: %s",
			b.PassW, b.PassH, b.Tokens, l.MaxTokens, hint)
	case "memory":
		return errorf(http.StatusRequestEntityTooLarge, "this %s (image %dx%d, network input %dx%d) needs about %s of working memory, more than this server's limit of %s: %s",
			b.Op, b.ImageW, b.ImageH, b.InputW, b.InputH, describeLimit(b.PeakBytes), describeLimit(l.MaxBytes), hint)
	}
	return errorf(http.StatusUnprocessableEntity, "this %s (network input %dx%d in %d passes of %d tokens) is about %.0f GFLOPs, more than this server's limit of %.0f: %s",
		b.Op, b.InputW, b.InputH, b.Passes, b.Tokens, b.GFLOPs, l.MaxGFLOPs, hint)
}

// slotTimes are the phases of a request's work in its inference slot.
type slotTimes struct{ wait, decode, infer time.Duration }

// timing completes the response timing: encoding started at encodeStart,
// the request at start.
func (st slotTimes) timing(encodeStart, start time.Time) Timing {
	return Timing{QueueMS: ms(st.wait), DecodeMS: ms(st.decode), InferenceMS: ms(st.infer), EncodeMS: ms(time.Since(encodeStart)), TotalMS: ms(time.Since(start))}
}

// decodeAndRun decodes the upload inside an inference slot (so queued
// requests hold only their bytes), drops the upload, and runs work on the
// image.
func (s *Server) decodeAndRun(ctx context.Context, op string, tk *ticket, image *upload, name string, exif bool, maxSide int, work func(*imageio.RGB) error) (*imageio.RGB, slotTimes, error) {
	var img *imageio.RGB
	var st slotTimes
	wait, ran, err := s.run(ctx, op, tk, func() error {
		t := time.Now()
		data, err := image.bytes()
		if err != nil {
			return err
		}
		img, err = decodeImage(data, name, exif, maxSide)
		st.decode = time.Since(t)
		image.close() // let the upload go during the inference
		image.mem = nil
		if err != nil {
			return err
		}
		if err := work(img); err != nil {
			return engineError(err)
		}
		return nil
	})
	st.wait, st.infer = wait, ran-st.decode
	return img, st, err
}

func (s *Server) segmentResponse(req *segmentRequest, img *imageio.RGB, r *freeseg.Result) (*SegmentResponse, error) {
	C := len(req.names)
	pal := freeseg.ClassColors(C, req.opts.Background)
	resp := &SegmentResponse{
		Model: s.modelName(), Width: r.Width, Height: r.Height, InputWidth: r.InputWidth, InputHeight: r.InputHeight,
		Notes: req.notes, Settings: req.opts.Summary(),
	}
	resp.Settings["max_side"] = req.maxSide
	resp.Settings["exif"] = req.exif
	for c := 0; c < C; c++ {
		resp.Classes = append(resp.Classes, ClassJSON{Index: c, Name: req.names[c], Synonyms: req.vocab.Names[c], Color: pal[c],
			Fraction: round6(r.Fractions[c]), Score: round6(r.Scores[c]), Kept: r.Kept[c]})
	}
	var err error
	resp.LabelsPNG, resp.LabelsFormat, err = labelsBase64(r.Labels, r.Width, r.Height, pal)
	if err != nil {
		return nil, err
	}
	overlay := freeseg.Overlay(img, r, req.names, req.opts.Background)
	if resp.OverlayPNG, err = rgbBase64(overlay); err != nil {
		return nil, err
	}
	if req.heatmaps {
		HW := r.Width * r.Height
		for c := 0; c < C; c++ {
			png, err := greyBase64(r.Probs[c*HW:(c+1)*HW], r.Width, r.Height)
			if err != nil {
				return nil, err
			}
			resp.Heatmaps = append(resp.Heatmaps, HeatmapJSON{Index: c, Name: req.names[c], PNG: png})
		}
	}
	return resp, nil
}

// ExplainResponse is the JSON answer of POST /v1/explain.
type ExplainResponse struct {
	Model          string         `json:"model"`
	Width          int            `json:"width"`
	Height         int            `json:"height"`
	Texts          []string       `json:"texts"`
	Method         string         `json:"method"`
	FeatureSurgery string         `json:"feature_surgery"`
	Size           int            `json:"size"`
	Templates      string         `json:"templates"`
	Heatmaps       []ExplainHeat  `json:"heatmaps"`
	Timing         Timing         `json:"timing"`
	Settings       map[string]any `json:"settings"`
}

// ExplainHeat is one text's similarity map as CLIP Surgery draws it (jet
// colours blended on the photo), PNG base64.
type ExplainHeat struct {
	Text string `json:"text"`
	PNG  string `json:"png"`
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	tk, err := s.begin(w, r)
	if err != nil {
		return err
	}
	defer tk.done()
	req, err := parseExplainForm(r.Header.Get("Content-Type"), r.Body, len(s.eng.Model.Vision.Blocks), s.cfg.Limits, s.store(r))
	if err != nil {
		return err
	}
	defer req.image.close()
	if p := s.eng.Model.Vision.Patch; req.opts.Size < p {
		return errorf(http.StatusBadRequest, "field size: %d is smaller than one %d-pixel patch", req.opts.Size, p)
	}
	ow, oh, err := s.checkUpload(req.image, req.maxSide, len(req.texts)+1, fmt.Sprintf("%d texts", len(req.texts)))
	if err != nil {
		return err
	}
	b, err := s.eng.ExplainBudget(ow, oh, len(req.texts), req.opts)
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if err := s.checkBudget(&b, true); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InferenceTimeout)
	defer cancel()
	var ex *freeseg.Explanation
	img, times, err := s.decodeAndRun(ctx, "explain", tk, req.image, req.imageName, req.exif, req.maxSide, func(img *imageio.RGB) error {
		var err error
		ex, err = s.eng.Explain(img, req.texts, req.opts)
		return err
	})
	if err != nil {
		return err
	}
	t := time.Now()
	resp := &ExplainResponse{Model: s.modelName(), Width: img.W, Height: img.H, Texts: req.texts, Method: req.opts.Method.Name,
		FeatureSurgery: req.opts.FeatureSurgery, Size: req.opts.Size, Templates: req.opts.Templates,
		Settings: map[string]any{"max_side": req.maxSide, "exif": req.exif}}
	HW := img.W * img.H
	for k, text := range req.texts {
		png, err := rgbBase64(imageio.HeatOverlay(img, ex.Maps[k*HW:(k+1)*HW]))
		if err != nil {
			return err
		}
		resp.Heatmaps = append(resp.Heatmaps, ExplainHeat{Text: text, PNG: png})
	}
	resp.Timing = times.timing(t, start)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
