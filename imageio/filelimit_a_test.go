package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"
)

// TestDecodeFileLimitInclusive: a stream of exactly the byte limit is read
// whole and decoded; one byte more is refused with a message naming the
// limit. (The real limit, 1 GiB, is lowered to the size of a small PNG.)
func TestDecodeFileLimitInclusive(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2))); err != nil {
		t.Fatal(err)
	}
	n := int64(b.Len())
	old := maxFileBytes
	defer func() { maxFileBytes = old }()

	maxFileBytes = n
	img, _, err := Decode(bytes.NewReader(b.Bytes()), "exact.png")
	if err != nil || img.W != 3 || img.H != 2 {
		t.Errorf("file of exactly the limit (%d bytes): %v", n, err)
	}
	maxFileBytes = n - 1
	_, _, err = Decode(bytes.NewReader(b.Bytes()), "over.png")
	if want := fmt.Sprintf("over.png: file larger than %d bytes", n-1); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("file one byte over the limit: %v, want %q", err, want)
	}
}
