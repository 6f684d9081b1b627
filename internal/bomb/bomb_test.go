package bomb

import (
	"bytes"
	"image/png"
	"testing"
)

func TestPNG1Bit(t *testing.T) {
	// Small enough to decode: a valid PNG of the promised size.
	cfg, err := png.DecodeConfig(bytes.NewReader(PNG1Bit(37, 5)))
	if err != nil || cfg.Width != 37 || cfg.Height != 5 {
		t.Fatalf("%+v %v", cfg, err)
	}
	if _, err := png.Decode(bytes.NewReader(PNG1Bit(37, 5))); err != nil {
		t.Fatal(err)
	}
	// The bombs of the hostile-input findings are tiny files.
	if n := len(PNG1Bit(19000, 19000)); n > 64<<10 {
		t.Fatalf("19000x19000 is %d bytes", n)
	}
	if n := len(PNG1Bit(7000, 7000)); n > 8<<10 {
		t.Fatalf("7000x7000 is %d bytes", n)
	}
}
