package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// apiError is an error with the HTTP status it is answered with. Every
// error response is JSON: {"error": "..."}.
type apiError struct {
	Code int
	Msg  string
	// Header holds extra response headers (Allow, Retry-After).
	Header map[string]string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), e.Msg)
}

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// asAPIError turns any error into an apiError: a body over the size limit
// is 413, anything else not already classified is 500.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errorf(http.StatusRequestEntityTooLarge, "request body larger than the limit of %s", describeLimit(mb.Limit))
	}
	return errorf(http.StatusInternalServerError, "%v", err)
}

func writeError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	for k, v := range ae.Header {
		w.Header().Set(k, v)
	}
	writeJSON(w, ae.Code, map[string]string{"error": ae.Msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	// Not escaped for HTML ("<=" stays readable in messages): the answer
	// is application/json with nosniff, never parsed as a page.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(map[string]string{"error": "encoding the response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}
