package server

import (
	"math"
	"net/http"

	"github.com/freeseg/freeseg"
)

// ParamJSON describes one setting of freeseg.Settings to clients: the page
// renders its controls from these, so it spells no setting itself.
type ParamJSON struct {
	Name    string   `json:"name"`
	Help    string   `json:"help"`
	Type    string   `json:"type"` // int, float, bool, choice, text
	Default any      `json:"default"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	// MinOpen and MaxOpen exclude the bound itself.
	MinOpen bool     `json:"min_open,omitempty"`
	MaxOpen bool     `json:"max_open,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// ParamsResponse is the answer of GET /v1/params: the settings of each
// endpoint with their defaults, in the table's order.
type ParamsResponse struct {
	Segment []ParamJSON `json:"segment"`
	Explain []ParamJSON `json:"explain"`
}

func paramsOf(o freeseg.Options, u freeseg.Use, lim Limits) []ParamJSON {
	var out []ParamJSON
	for i := range freeseg.Settings {
		s := &freeseg.Settings[i]
		if s.Use&u == 0 {
			continue
		}
		p := ParamJSON{Name: s.Name, Help: s.Help, Type: string(s.Kind), Default: s.Get(&o), MinOpen: s.MinOpen, MaxOpen: s.MaxOpen}
		if !math.IsNaN(s.Min) {
			p.Min = &s.Min
		}
		if !math.IsNaN(s.Max) {
			hi := s.Max
			switch s.Name {
			case "short_side", "square", "crop", "stride", "max_side":
				hi = min(hi, float64(lim.MaxSide))
			}
			p.Max = &hi
		}
		if s.Choices != nil {
			p.Choices = s.Choices()
		}
		out = append(out, p)
	}
	return out
}

func (s *Server) handleParams(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, ParamsResponse{
		Segment: paramsOf(freeseg.DefaultOptions(), freeseg.ForSegment, s.cfg.Limits),
		Explain: paramsOf(freeseg.DefaultExplainOptions(), freeseg.ForExplain, s.cfg.Limits),
	})
	return nil
}
