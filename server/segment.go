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

// SegmentResponse is the JSON answer of POST /v1/segment: the report that
// freeseg segment also writes (freeseg.SegmentReport), and the images.
type SegmentResponse struct {
	freeseg.SegmentReport
	Timing Timing `json:"timing"`
	// LabelsPNG is the label map: a palette PNG whose pixel values are the
	// class indices (LabelsFormat "palette", up to 256 classes) or a
	// 16-bit greyscale PNG of them ("gray16").
	LabelsPNG string `json:"labels_png"`
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
	ow, oh, err := s.checkUpload(req.image, req.opts.MaxSide, len(queries)+req.vocab.Len(), fmt.Sprintf("%d classes (%d names)", req.vocab.Len(), len(queries)))
	if err != nil {
		return err
	}
	b, err := s.eng.SegmentBudget(ow, oh, len(queries), req.vocab.Len(), req.opts)
	if err == nil {
		err = s.eng.AddTextCost(&b, queries, req.opts.Templates)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if err := s.checkBudget(&b, req.opts.Whole); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InferenceTimeout)
	defer cancel()
	var res *freeseg.Result
	_, times, err := s.decodeAndRun(ctx, "segment", tk, req.image, req.imageName, req.exif, req.opts.MaxSide, func(img *imageio.RGB) error {
		var err error
		res, err = s.eng.Segment(ctx, img, req.vocab, req.opts)
		return err
	})
	if err != nil {
		return err
	}
	t := time.Now()
	resp, err := s.segmentResponse(req, res)
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
	case be.What == "text" && b.Op == "explain":
		hint = "send fewer new texts (texts already used are cached), or templates=single"
	case be.What == "text":
		hint = "send fewer new class names (names already used are cached, the default background's too), or templates=single"
	case b.Op == "explain":
		hint = "send a smaller size"
	default:
		hint = "send a smaller short_side or square, a larger stride, or max_side=1024"
	}
	switch be.What {
	case "tokens":
		return errorf(http.StatusUnprocessableEntity, "the network input (%dx%d pixels a pass) would be %d tokens, more than this server's limit of %d: %s",
			b.PassW, b.PassH, b.Tokens, l.MaxTokens, hint)
	case "text":
		return errorf(http.StatusUnprocessableEntity, "this %s needs %d prompts encoded for names not yet cached, about %.0f GFLOPs, more than this server's limit of %.0f: %s",
			b.Op, b.TextSequences, b.TextGFLOPs, l.MaxTextGFLOPs, hint)
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

func (s *Server) segmentResponse(req *segmentRequest, r *freeseg.Result) (*SegmentResponse, error) {
	C := len(req.names)
	pal := freeseg.ClassColors(C, r.Background)
	resp := &SegmentResponse{SegmentReport: freeseg.NewSegmentReport(r, req.vocab, &req.opts)}
	resp.Image, resp.Model, resp.Notes = displayName(req.imageName), s.modelName(), req.notes
	resp.Settings = append(resp.Settings, freeseg.Value{Name: "exif", Value: req.exif})
	var err error
	resp.LabelsPNG, _, err = labelsBase64(r.Labels, r.Width, r.Height, pal)
	if err != nil {
		return nil, err
	}
	overlay := freeseg.Overlay(r)
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
	if err := addExports(resp, req.exports, r, req.names, r.Background); err != nil {
		return nil, err
	}
	return resp, nil
}

// ExplainResponse is the JSON answer of POST /v1/explain: the report that
// freeseg explain also writes (freeseg.ExplainReport), and the heat maps.
type ExplainResponse struct {
	freeseg.ExplainReport
	Heatmaps []ExplainHeat `json:"heatmaps"`
	Timing   Timing        `json:"timing"`
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
	if p := s.eng.Model.Vision.Patch; req.opts.Resize.Size < p {
		return errorf(http.StatusBadRequest, "field square: %d is smaller than one %d-pixel patch", req.opts.Resize.Size, p)
	}
	ow, oh, err := s.checkUpload(req.image, req.opts.MaxSide, len(req.texts)+1, fmt.Sprintf("%d texts", len(req.texts)))
	if err != nil {
		return err
	}
	b, err := s.eng.ExplainBudget(ow, oh, len(req.texts), req.opts)
	if err == nil {
		texts := req.texts
		if req.opts.FeatureSurgery.For(len(req.texts)) == freeseg.SurgeryRedundant {
			texts = append(texts[:len(texts):len(texts)], "") // the empty name's ensemble
		}
		err = s.eng.AddTextCost(&b, texts, req.opts.Templates)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	if err := s.checkBudget(&b, true); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InferenceTimeout)
	defer cancel()
	var ex *freeseg.Explanation
	_, times, err := s.decodeAndRun(ctx, "explain", tk, req.image, req.imageName, req.exif, req.opts.MaxSide, func(img *imageio.RGB) error {
		var err error
		ex, err = s.eng.Explain(ctx, img, req.texts, req.opts)
		return err
	})
	if err != nil {
		return err
	}
	t := time.Now()
	resp := &ExplainResponse{ExplainReport: freeseg.NewExplainReport(ex, &req.opts)}
	resp.Image, resp.Model = displayName(req.imageName), s.modelName()
	resp.Settings = append(resp.Settings, freeseg.Value{Name: "exif", Value: req.exif})
	HW := ex.Width * ex.Height
	for k, text := range req.texts {
		png, err := rgbBase64(imageio.HeatOverlay(ex.Image, ex.Maps[k*HW:(k+1)*HW]))
		if err != nil {
			return err
		}
		resp.Heatmaps = append(resp.Heatmaps, ExplainHeat{Text: text, PNG: png})
	}
	resp.Timing = times.timing(t, start)
	writeJSON(w, http.StatusOK, resp)
	return nil
}
