package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
)

// PNG tEXt chunks (PNG specification, section 11.3.4.3): a keyword of 1-79
// Latin-1 characters, a zero byte, and the text. freeseg marks the PNGs it
// writes with one, so that a later run can recognise its own outputs.

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngIHDREnd is the offset just after the IHDR chunk, which a valid PNG has
// first, with a 13-byte body: signature 8 + length 4 + type 4 + 13 + CRC 4.
const pngIHDREnd = 8 + 4 + 4 + 13 + 4

// textWriter passes a PNG stream through, inserting a tEXt chunk right
// after IHDR.
type textWriter struct {
	w     io.Writer
	chunk []byte
	head  []byte // bytes seen before the chunk was inserted
	done  bool
}

// WithPNGText returns a writer that passes a PNG stream (such as
// png.Encode's) to w with a tEXt chunk keyword=text inserted after the
// IHDR chunk, where every PNG reader accepts it. The keyword must be 1-79
// printable Latin-1 characters and the text must not hold a zero byte.
func WithPNGText(w io.Writer, keyword, text string) (io.Writer, error) {
	if len(keyword) < 1 || len(keyword) > 79 {
		return nil, fmt.Errorf("imageio: PNG text keyword %q must have 1 to 79 characters", keyword)
	}
	for i := 0; i < len(keyword); i++ {
		if c := keyword[i]; c < 32 || c > 126 {
			return nil, fmt.Errorf("imageio: PNG text keyword %q must be printable ASCII", keyword)
		}
	}
	if bytes.IndexByte([]byte(text), 0) >= 0 {
		return nil, fmt.Errorf("imageio: PNG text for %q holds a zero byte", keyword)
	}
	body := append(append([]byte(keyword), 0), text...)
	chunk := make([]byte, 0, len(body)+12)
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(len(body)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, body...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	return &textWriter{w: w, chunk: chunk}, nil
}

func (t *textWriter) Write(p []byte) (int, error) {
	if t.done {
		return t.w.Write(p)
	}
	n := len(p)
	need := pngIHDREnd - len(t.head)
	if len(p) < need {
		t.head = append(t.head, p...)
		return n, nil
	}
	t.head = append(t.head, p[:need]...)
	if !bytes.HasPrefix(t.head, pngSignature) || string(t.head[12:16]) != "IHDR" || binary.BigEndian.Uint32(t.head[8:12]) != 13 {
		return 0, errors.New("imageio: WithPNGText: the stream does not start with a PNG signature and IHDR")
	}
	t.done = true
	for _, b := range [][]byte{t.head, t.chunk, p[need:]} {
		if _, err := t.w.Write(b); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// maxTextChunk bounds the tEXt chunks ReadPNGText keeps (larger ones are
// skipped, not read into memory).
const maxTextChunk = 64 << 10

// ReadPNGText reads the tEXt chunks before the image data of a PNG stream:
// keyword → text (the first of a repeated keyword). It stops at the first
// IDAT chunk, so it reads only the head of the file; chunks larger than 64
// KiB are skipped without being read into memory. A stream that is not a
// PNG gives an error.
func ReadPNGText(r io.Reader) (map[string]string, error) {
	var sig [8]byte
	if _, err := io.ReadFull(r, sig[:]); err != nil || !bytes.Equal(sig[:], pngSignature) {
		return nil, errors.New("imageio: not a PNG file")
	}
	out := map[string]string{}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out, nil // truncated: what was read stands
			}
			return out, err
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		if typ == "IDAT" || typ == "IEND" {
			return out, nil
		}
		if typ != "tEXt" || n > maxTextChunk {
			if _, err := io.CopyN(io.Discard, r, n+4); err != nil {
				return out, nil
			}
			continue
		}
		body := make([]byte, n+4)
		if _, err := io.ReadFull(r, body); err != nil {
			return out, nil
		}
		body = body[:n] // the CRC is not checked: a bad one just marks nothing
		k := bytes.IndexByte(body, 0)
		if k < 1 || k > 79 {
			continue
		}
		key := string(body[:k])
		if _, seen := out[key]; !seen {
			out[key] = string(body[k+1:])
		}
	}
}

// PNGTextFile is ReadPNGText on a file; files that are not PNGs give an
// empty map and no error.
func PNGTextFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ReadPNGText(f)
	if err != nil {
		return map[string]string{}, nil
	}
	return m, nil
}

// WriteGray16PNG writes a W×H label map (row-major) as a 16-bit greyscale
// PNG whose grey value is the label: the format for more classes than a
// palette PNG holds (256). Labels must be in 0..65535.
func WriteGray16PNG[L Label](w io.Writer, labels []L, W, H int) error {
	if W <= 0 || H <= 0 || len(labels) != W*H {
		return fmt.Errorf("imageio: label map of %d values for %dx%d", len(labels), W, H)
	}
	g := image.NewGray16(image.Rect(0, 0, W, H))
	pix := g.Pix
	for i, l := range labels {
		if int64(l) < 0 || int64(l) > 65535 {
			return fmt.Errorf("imageio: label %d at pixel (%d,%d) does not fit a 16-bit PNG", int64(l), i%W, i/W)
		}
		pix[2*i], pix[2*i+1] = uint8(uint16(l)>>8), uint8(l)
	}
	return png.Encode(w, g)
}
