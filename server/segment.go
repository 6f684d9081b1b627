package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/export"
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
	// With masks=1, coco=1, instances=1 (exports.go).
	Masks            []MaskJSON          `json:"masks,omitzero"`
	COCO             []export.COCOResult `json:"coco,omitzero"`
	Instances        []export.Region     `json:"instances,omitzero"`
	InstancesDropped int                 `json:"instances_dropped,omitempty"`
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
	if err := s.begin(w, r); err != nil {
		return err
	}
	req, err := parseSegmentForm(r.Header.Get("Content-Type"), r.Body, len(s.eng.Model.Vision.Blocks), s.cfg.Limits)
	if err != nil {
		return err
	}
	queries, _ := req.vocab.Queries()
	if err := s.checkUpload(req.image, req.maxSide, len(queries)+req.vocab.Len(), fmt.Sprintf("%d classes (%d names)", req.vocab.Len(), len(queries))); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InferenceTimeout)
	defer cancel()
	var res *freeseg.Result
	img, times, err := s.decodeAndRun(ctx, "segment", &req.image, req.imageName, req.exif, req.maxSide, func(img *imageio.RGB) error {
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

// begin refuses work while shutting down and bounds the request body.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) error {
	if s.closing.Load() {
		s.met.reject("shutting_down")
		return errorf(http.StatusServiceUnavailable, "the server is shutting down")
	}
	return s.limitBody(w, r)
}

// checkUpload reads the upload's size from its header (no decoding) and
// checks the pixel limit and the memory of the maps the answer needs.
func (s *Server) checkUpload(image []byte, maxSide, maps int, what string) error {
	iw, ih, err := probeImage(image, s.cfg.MaxPixels)
	if err != nil {
		return err
	}
	ow, oh := fitSize(iw, ih, maxSide)
	return s.checkMapValues(maps, ow, oh, what)
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
func (s *Server) decodeAndRun(ctx context.Context, op string, image *[]byte, name string, exif bool, maxSide int, work func(*imageio.RGB) error) (*imageio.RGB, slotTimes, error) {
	var img *imageio.RGB
	var st slotTimes
	wait, ran, err := s.run(ctx, op, func() error {
		t := time.Now()
		var err error
		img, err = decodeImage(*image, name, exif, maxSide)
		st.decode = time.Since(t)
		if err != nil {
			return err
		}
		*image = nil // let the upload be collected during the inference
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
	if err := addExports(resp, req.exports, r, req.names, req.opts.Background); err != nil {
		return nil, err
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
	if err := s.begin(w, r); err != nil {
		return err
	}
	req, err := parseExplainForm(r.Header.Get("Content-Type"), r.Body, len(s.eng.Model.Vision.Blocks), s.cfg.Limits)
	if err != nil {
		return err
	}
	if p := s.eng.Model.Vision.Patch; req.opts.Size < p {
		return errorf(http.StatusBadRequest, "field size: %d is smaller than one %d-pixel patch", req.opts.Size, p)
	}
	if err := s.checkUpload(req.image, req.maxSide, len(req.texts)+1, fmt.Sprintf("%d texts", len(req.texts))); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InferenceTimeout)
	defer cancel()
	var ex *freeseg.Explanation
	img, times, err := s.decodeAndRun(ctx, "explain", &req.image, req.imageName, req.exif, req.maxSide, func(img *imageio.RGB) error {
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
