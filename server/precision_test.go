package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/clip"
)

// The precision field selects the engine's bf16 or fp32 path; absent, the
// model runs as loaded; a bad value is a 400 naming the field.
func TestSegmentPrecisionField(t *testing.T) {
	for _, c := range []struct {
		value string
		want  clip.Precision
	}{{"", clip.PrecisionDefault}, {"bf16", clip.BF16}, {"FP32", clip.FP32}} {
		parts := []part{{"image", "p.png", "x"}, {"classes", "", "cat; sky"}}
		if c.value != "" {
			parts = append(parts, part{"precision", "", c.value})
		}
		req, err := parseSegmentForm(formCT, strings.NewReader(string(fixedForm(t, parts...))), 6, DefaultConfig().Limits, store{sizeHint: -1})
		if err != nil {
			t.Fatalf("precision %q: %v", c.value, err)
		}
		if req.opts.Precision != c.want {
			t.Errorf("precision %q: options say %v, want %v", c.value, req.opts.Precision, c.want)
		}
	}
	body := fixedForm(t, part{"image", "p.png", "x"}, part{"classes", "", "cat"}, part{"precision", "", "fp16"})
	_, err := parseSegmentForm(formCT, strings.NewReader(string(body)), 6, DefaultConfig().Limits, store{sizeHint: -1})
	var ae *apiError
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || !strings.Contains(ae.Msg, "precision") {
		t.Fatalf("precision fp16: got %v, want a 400 naming the field", err)
	}
}

// fp32 asked of a server whose model was loaded in bf16 is the client's
// error (4xx naming the cause), not the server's.
func TestPrecisionUnavailableIs4xx(t *testing.T) {
	ae := asAPIError(engineError(fmt.Errorf("segment: %w", clip.ErrPrecisionUnavailable)))
	if ae.Code/100 != 4 || !strings.Contains(ae.Msg, "precision") {
		t.Fatalf("got %d %q", ae.Code, ae.Msg)
	}
}
