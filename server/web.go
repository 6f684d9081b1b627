package server

import (
	"embed"
	"math"
	"net/http"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/prompts"
)

// The page: plain HTML, CSS and JavaScript, no build step and nothing
// fetched from elsewhere.
//
//go:embed web/*
var webFS embed.FS

// staticFiles maps the page's URL paths to the embedded files.
var staticFiles = map[string]struct{ file, contentType string }{
	"/":          {"web/index.html", "text/html; charset=utf-8"},
	"/app.js":    {"web/app.js", "text/javascript; charset=utf-8"},
	"/style.css": {"web/style.css", "text/css; charset=utf-8"},
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) error {
	f := staticFiles[r.URL.Path]
	b, err := webFS.ReadFile(f.file)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return nil
}

// ModelJSON describes the loaded model (GET /v1/models).
type ModelJSON struct {
	// Name is the hub id or the model folder's (or file's) name: never a
	// path of the server's file system.
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	// Digest is the SHA-256 of the checkpoint file, computed on the first
	// request to /v1/models (it reads the whole file); until it is ready
	// it is empty and DigestPending is true.
	Digest        string                `json:"digest,omitempty"`
	DigestPending bool                  `json:"digest_pending,omitempty"`
	EmbedDim      int                   `json:"embed_dim"`
	Vision        map[string]int        `json:"vision"`
	Text          map[string]int        `json:"text"`
	Methods       []string              `json:"methods"`
	TemplateSets  []string              `json:"template_sets"`
	PartialLabels []string              `json:"partial_labels"`
	Defaults      freeseg.SettingValues `json:"defaults"`
	Explain       freeseg.SettingValues `json:"explain_defaults"`
}

// ModelsResponse is the answer of GET /v1/models.
type ModelsResponse struct {
	Models []ModelJSON    `json:"models"`
	Limits map[string]any `json:"limits"`
	Server map[string]any `json:"server"`
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) error {
	m := s.eng.Model
	c := m.Config
	digest, ok := s.modelDigest(100 * time.Millisecond)
	d := freeseg.DefaultOptions()
	ed := freeseg.DefaultExplainOptions()
	mj := ModelJSON{
		Name: s.modelName(), Architecture: c.Name(), Digest: digest, DigestPending: !ok,
		EmbedDim:     c.EmbedDim,
		Vision:       map[string]int{"width": c.VisionWidth, "layers": c.VisionLayers, "heads": c.VisionHeads, "patch": c.Patch, "image_size": c.ImageSize()},
		Text:         map[string]int{"width": c.TextWidth, "layers": c.TextLayers, "heads": c.TextHeads, "context": c.ContextLength},
		TemplateSets: prompts.TemplateSetNames(), PartialLabels: []string{"smoothmin", "max", "mean", "lse", "cls", "off"},
		// A request without a background field gets the default background
		// class (freeseg.WithBackground), so the defaults say so.
		Defaults: append(freeseg.SettingValues(freeseg.Values(&d, freeseg.ForSegment)), freeseg.Value{Name: "background", Value: "default"}),
		Explain:  freeseg.SettingValues(freeseg.Values(&ed, freeseg.ForExplain)),
	}
	for _, n := range dense.Names() {
		if meth, err := dense.ByName(n); err == nil && meth.Validate(c.VisionLayers) == nil {
			mj.Methods = append(mj.Methods, n)
		}
	}
	writeJSON(w, http.StatusOK, ModelsResponse{
		Models: []ModelJSON{mj},
		Limits: map[string]any{
			"max_body_bytes": s.cfg.MaxBodyBytes, "max_pixels": s.cfg.MaxPixels, "max_map_values": s.cfg.MaxMapValues,
			"max_classes": s.cfg.MaxClasses, "max_names": s.cfg.MaxNames, "max_side": s.cfg.MaxSide,
			"max_tokens": s.cfg.Budget.MaxTokens, "max_inference_bytes": s.cfg.Budget.MaxBytes, "max_gflops": s.cfg.Budget.MaxGFLOPs, "max_text_gflops": s.cfg.Budget.MaxTextGFLOPs,
			"max_square": int(math.Sqrt(float64(s.cfg.Budget.MaxTokens-1))) * c.Patch,
		},
		Server: map[string]any{
			"max_concurrent": s.cfg.MaxConcurrent, "queue": s.cfg.Queue,
			"inference_timeout_s": s.cfg.InferenceTimeout.Seconds(), "read_timeout_s": s.cfg.ReadTimeout.Seconds(),
		},
	})
	return nil
}
