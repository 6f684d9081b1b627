package eval_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/eval/evaltest"
)

// FuzzReadLabel: any input gives a label map of W·H values or an error,
// never a panic, and decoding is deterministic.
func FuzzReadLabel(f *testing.F) {
	f.Add(evaltest.PalettePNG(f, 5, 3, evaltest.Label(5, 3, 0, []uint8{0, 1, 2})))
	f.Add(evaltest.GreyPNG(f, 4, 4, evaltest.Label(4, 4, 1, []uint8{7, 0})))
	f.Add(rawPNG(f, 10, 1, 1, ctGrey, [][]byte{{0b10110000, 0b01000000}}))
	f.Add(rawPNG(f, 3, 1, 16, ctGrey, [][]byte{{0, 5, 1, 44, 0, 0}}))
	f.Add(rawPNG(f, 3, 1, 8, ctGrey, [][]byte{{4, 0, 255}}, []byte("tRNS"), []byte{0, 4}))
	f.Add(rawPNG(f, 1, 1, 8, ctRGB, [][]byte{{3, 4, 5}}))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{})
	defer func(n int) { eval.MaxLabelPixels = n }(eval.MaxLabelPixels)
	eval.MaxLabelPixels = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := eval.ReadLabel(bytes.NewReader(data), "fuzz.png")
		if err != nil {
			var fe *eval.FormatError
			var ce *eval.CorruptError
			if !errors.As(err, &fe) && !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if l.W <= 0 || l.H <= 0 || len(l.Pix) != l.W*l.H || l.W*l.H > eval.MaxLabelPixels {
			t.Fatalf("%dx%d with %d values", l.W, l.H, len(l.Pix))
		}
		again, err := eval.ReadLabel(bytes.NewReader(data), "fuzz.png")
		if err != nil || !bytes.Equal(again.Pix, l.Pix) {
			t.Fatalf("second decode differs: %v", err)
		}
		// Whatever was read can be checked and reduced without trouble.
		_ = l.Check(eval.Ignore)
		l.ReduceZeroLabel()
	})
}
