package eval_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
)

// A label file or a state file of exactly the size limit is read whole and
// accepted; one byte more is refused with a message naming the limit.
func TestFileLimitsInclusive(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 7, 5))
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 3)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	label := buf.Bytes()

	st := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
	p := filepath.Join(t.TempDir(), "s.json")
	if err := st.Save(p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	state := int(fi.Size())

	restore := eval.SetFileLimits(len(label), state)
	m, err := eval.ReadLabel(bytes.NewReader(label), "exact.png")
	if err != nil || m.W != 7 || m.H != 5 || m.Pix[4] != 1 {
		t.Errorf("label of exactly the limit: %v, %v", m, err)
	}
	if _, err := eval.LoadState(p); err != nil {
		t.Errorf("state of exactly the limit: %v", err)
	}
	restore()

	restore = eval.SetFileLimits(len(label)-1, state-1)
	defer restore()
	if _, err := eval.ReadLabel(bytes.NewReader(label), "big.png"); err == nil || !strings.Contains(err.Error(), "larger than "+strconv.Itoa(len(label)-1)+" bytes") {
		t.Errorf("label one byte over the limit: %v", err)
	}
	if _, err := eval.LoadState(p); err == nil || !strings.Contains(err.Error(), "more than "+strconv.Itoa(state-1)+" bytes") {
		t.Errorf("state one byte over the limit: %v", err)
	}
}
