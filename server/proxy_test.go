package server

import (
	"net/http"
	"strings"
	"testing"
)

// proxy_beta and proxy_gamma reach the proxyclip method; a bad gamma is a
// 4xx naming it.
func TestSegmentProxyFields(t *testing.T) {
	ct, body := formBody(t, part{"image", "p.png", "x"}, part{"classes", "", "cat; sky"},
		part{"method", "", "proxyclip"}, part{"proxy_beta", "", "1.0"}, part{"proxy_gamma", "", "5"})
	req, err := parseSegmentForm(ct, strings.NewReader(string(body)), 6, DefaultConfig().Limits, store{sizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if m := req.opts.Method; !m.Proxy || m.Beta != 1 || m.Gamma != 5 || m.Pad != 56 {
		t.Fatalf("method %+v", m)
	}
	ct, body = formBody(t, part{"image", "p.png", "x"}, part{"classes", "", "cat"},
		part{"method", "", "proxyclip"}, part{"proxy_gamma", "", "-2"})
	_, err = parseSegmentForm(ct, strings.NewReader(string(body)), 6, DefaultConfig().Limits, store{sizeHint: -1})
	ae, ok := err.(*apiError)
	if !ok || ae.Code < http.StatusBadRequest || ae.Code >= 500 || !strings.Contains(err.Error(), "gamma") {
		t.Fatalf("negative gamma: %v", err)
	}
}
