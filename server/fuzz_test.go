package server

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParseSegmentForm feeds arbitrary Content-Types and bodies to the
// segment form parser: it must never panic, every refusal must be a 4xx
// apiError, and whatever it accepts must be within the limits and valid.
func FuzzParseSegmentForm(f *testing.F) {
	lim := Limits{MaxBodyBytes: 1 << 16, MaxPixels: 1 << 20, MaxMapValues: 1 << 24, MaxClasses: 8, MaxNames: 64, MaxSide: 1024}
	seed := func(parts ...part) { f.Add(formCT, fixedForm(f, parts...)) }
	seed(part{"image", "p.png", "\x89PNG\r\n\x1a\n"}, part{"classes", "", "cat; dog"})
	seed(part{"image", "p.png", "x"}, part{"classes", "", "cat, kitten; dog"}, part{"background", "", "sky, wall"}, part{"method", "", "naclip"},
		part{"pamr", "", "0"}, part{"partial_labels", "", "max"}, part{"whole", "", "on"}, part{"heatmaps", "", "1"})
	seed(part{"image", "p.png", "x"}, part{"classes", "", "a,b,c,d,e,f,g,h,i"})
	seed(part{"image", "p.png", "x"}, part{"classes", "", "cat"}, part{"crop", "", "-1"}, part{"stride", "", "1e9"})
	seed(part{"image", "p.png", "x"}, part{"classes", "", "cat"}, part{"prob_thd", "", "Inf"}, part{"logit_scale", "", "0"})
	seed(part{"image", "p.png", "x"}, part{"classes", "", "cat"}, part{"background", "", "none"}, part{"square", "", "224"}, part{"templates", "", "SINGLE"})
	f.Add("multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"classes\"\r\n\r\ncat\r\n--xyz--"))
	f.Add("multipart/form-data", []byte("--x\r\n"))
	f.Add("text/plain", []byte("hello"))
	f.Add("multipart/form-data; boundary=\"unterminated", []byte(""))
	seed(part{"image", "p.png", "\x89PNG\r\n\x1a\n" + strings.Repeat("z", 300)}, part{"classes", "", "cat"}) // spilled to a file
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		// Uploads past 256 bytes go through the temporary-file store.
		req, err := parseSegmentForm(contentType, bytes.NewReader(body), 6, lim, store{sizeHint: int64(len(body)), spillAt: 256, dir: dir})
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Code < 400 || ae.Code > 499 || ae.Msg == "" {
				t.Fatalf("error %v (%T) is not a 4xx apiError", err, err)
			}
			if req != nil {
				t.Fatal("a request with an error")
			}
			return
		}
		defer req.image.close()
		if data, err := req.image.bytes(); err != nil || int64(len(data)) != req.image.size {
			t.Fatalf("stored upload: %d bytes of %d, %v", len(data), req.image.size, err)
		}
		if req.image.size == 0 || req.vocab == nil || req.vocab.Len() == 0 || req.vocab.Len() > lim.MaxClasses+1 || len(req.names) != req.vocab.Len() {
			t.Fatalf("accepted %+v", req)
		}
		if q, _ := req.vocab.Queries(); len(q) > lim.MaxNames {
			t.Fatalf("%d names accepted", len(q))
		}
		if err := req.opts.Validate(6); err != nil {
			t.Fatalf("accepted invalid options: %v", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("%d files left in the upload folder", len(entries))
		}
		if (req.vocab.Background && req.names[0] != "background") || req.opts.MaxSide < 0 || req.opts.MaxSide > lim.MaxSide {
			t.Fatalf("accepted %+v", req)
		}
	})
}
