package imageio

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Label is an integer label type accepted by the label-map writers.
type Label interface {
	~uint8 | ~uint16 | ~int32 | ~int64 | ~int
}

// Palette returns the first n colours of the standard PASCAL VOC colour map
// (the devkit's labelcolormap / VOClabelcolormap): for index i, the bits of
// i are dealt out three at a time, bit 0 to red, bit 1 to green, bit 2 to
// blue, filling each channel from its most significant bit downwards:
//
//	for j := 0; j < 8; j++ { r |= bit(c,0)<<(7-j); g |= bit(c,1)<<(7-j); b |= bit(c,2)<<(7-j); c >>= 3 }
//
// so 0 is black, 1 (128,0,0), 2 (0,128,0), 3 (128,128,0), 4 (0,0,128), ...
// The map has 2^24 distinct entries; label maps written as PNG use at most
// 256.
func Palette(n int) [][3]uint8 {
	p := make([][3]uint8, n)
	for i := range p {
		var r, g, b uint8
		c := i
		for j := 0; j < 8; j++ {
			r |= uint8(c&1) << (7 - j)
			g |= uint8(c>>1&1) << (7 - j)
			b |= uint8(c>>2&1) << (7 - j)
			c >>= 3
		}
		p[i] = [3]uint8{r, g, b}
	}
	return p
}

// WritePalettePNG writes a W×H label map (row-major) as an 8-bit or smaller
// paletted PNG whose pixel values are the labels and whose PLTE is palette
// (the PASCAL VOC SegmentationClass format). Every label must index the
// palette, which may hold at most 256 colours.
func WritePalettePNG[L Label](w io.Writer, labels []L, W, H int, palette [][3]uint8) error {
	if W <= 0 || H <= 0 || len(labels) != W*H {
		return fmt.Errorf("imageio: label map of %d values for %dx%d", len(labels), W, H)
	}
	if len(palette) == 0 || len(palette) > 256 {
		return fmt.Errorf("imageio: a PNG palette holds 1..256 colours, not %d", len(palette))
	}
	pal := make(color.Palette, len(palette))
	for i, c := range palette {
		pal[i] = color.RGBA{c[0], c[1], c[2], 255}
	}
	img := image.NewPaletted(image.Rect(0, 0, W, H), pal)
	for i, l := range labels {
		if int64(l) < 0 || int64(l) >= int64(len(palette)) {
			return fmt.Errorf("imageio: label %d at pixel (%d,%d) is outside the %d-colour palette", int64(l), i%W, i/W, len(palette))
		}
		img.Pix[i] = uint8(l)
	}
	return png.Encode(w, img)
}

// Overlay blends the label colours into the photo: out = img·(1−alpha) +
// colour·alpha per channel, truncated to uint8 like mmseg's show_result
// (opacity 0.5 there). Labels outside the palette (ignore labels such as
// −1 or 255 with a shorter palette) leave the pixel as it is.
func Overlay[L Label](img *RGB, labels []L, palette [][3]uint8, alpha float64) *RGB {
	if len(labels) != img.W*img.H {
		panic(fmt.Sprintf("imageio: Overlay: %d labels for a %dx%d image", len(labels), img.W, img.H))
	}
	out := img.Clone()
	keep := 1 - alpha
	for i, l := range labels {
		if int64(l) < 0 || int64(l) >= int64(len(palette)) {
			continue
		}
		c := palette[l]
		for k := 0; k < 3; k++ {
			v := float64(float64(img.Pix[3*i+k])*keep) + float64(float64(c[k])*alpha)
			out.Pix[3*i+k] = clampU8(int(v))
		}
	}
	return out
}

// Legend layout (pixels).
const (
	legendPad    = 8
	legendRow    = 18
	legendSwatch = 14
	legendGap    = 6
)

// DrawLegend returns a new image: img with a white panel added on its right
// listing one colour swatch and name per entry (names[i] drawn in
// colors[i], e.g. the classes present in a label map), in the 7×13 basic
// font. The photo is never covered; when the list is taller than the photo
// the canvas grows downwards (white). Non-ASCII characters are drawn as the
// font's replacement glyph.
func DrawLegend(img *RGB, names []string, colors [][3]uint8) *RGB {
	if len(names) != len(colors) {
		panic(fmt.Sprintf("imageio: DrawLegend: %d names, %d colours", len(names), len(colors)))
	}
	face := basicfont.Face7x13
	textW := 0
	for _, n := range names {
		textW = max(textW, font.MeasureString(face, n).Ceil())
	}
	panelW := legendPad + legendSwatch + legendGap + textW + legendPad
	panelH := legendPad + len(names)*legendRow + legendPad
	W := img.W + panelW
	H := max(img.H, panelH)
	canvas := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(canvas, image.Rect(0, 0, img.W, img.H), img.Image(), image.Point{}, draw.Src)
	x0 := img.W + legendPad
	for i, n := range names {
		y := legendPad + i*legendRow
		c := colors[i]
		sw := image.Rect(x0, y+(legendRow-legendSwatch)/2, x0+legendSwatch, y+(legendRow-legendSwatch)/2+legendSwatch)
		draw.Draw(canvas, sw, image.Black, image.Point{}, draw.Src) // 1-pixel outline
		draw.Draw(canvas, sw.Inset(1), &image.Uniform{color.RGBA{c[0], c[1], c[2], 255}}, image.Point{}, draw.Src)
		d := font.Drawer{
			Dst:  canvas,
			Src:  image.Black,
			Face: face,
			Dot:  fixed.P(x0+legendSwatch+legendGap, y+(legendRow+face.Ascent-face.Descent)/2),
		}
		d.DrawString(n)
	}
	out := NewRGB(W, H)
	for i := 0; i < W*H; i++ {
		copy(out.Pix[3*i:3*i+3], canvas.Pix[4*i:4*i+3])
	}
	return out
}

// Jet is OpenCV's COLORMAP_JET as RGB (cv2.applyColorMap gives it as BGR)
// for an 8-bit value. OpenCV samples GNU Octave's jet(256) at v/255 and
// rounds to the nearest integer, which gives the piecewise-linear steps of
// 4 below; the one irregular entry (blue at 159 is 1, not 2: a rounding of
// 1.4999…) is OpenCV's. The table was checked entry by entry against
// cv2.applyColorMap (OpenCV 4.6).
func Jet(v uint8) [3]uint8 {
	i := int(v)
	var r, g, b int
	switch {
	case i < 32:
		r, g, b = 0, 0, 128+4*i
	case i < 96:
		r, g, b = 0, 4*i-128, 255
	case i < 160:
		r, g, b = 4*i-382, 255, 638-4*i
		if i == 159 {
			b = 1
		}
	case i < 224:
		r, g, b = 255, 892-4*i, 0
	default:
		r, g, b = 1148-4*i, 0, 0
	}
	return [3]uint8{clampU8(r), clampU8(g), clampU8(b)}
}

// HeatByte is the uint8 value CLIP Surgery's demo feeds to the colour map
// for a map value in [0,1]: (v·255).astype('uint8') on float32, i.e.
// truncation; values outside [0,1] are clamped first (NumPy's result for
// those is undefined), NaN gives 0.
func HeatByte(v float32) uint8 {
	if !(v > 0) {
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(float32(v * 255))
}

// JetColormap is Jet(HeatByte(v)) for a map value v in [0,1].
func JetColormap(v float32) [3]uint8 {
	return Jet(HeatByte(v))
}

// HeatOverlay is CLIP Surgery's visualisation (demo.py; docs/method.md#similarity-maps): the map
// heat (H×W values in [0,1], row-major) through JetColormap, blended as
// uint8(0.4·img + 0.6·jet) in float64 with truncation. The demo does this in
// BGR and converts to RGB; the blend is per channel, so the RGB result is
// the same.
func HeatOverlay(img *RGB, heat []float32) *RGB {
	if len(heat) != img.W*img.H {
		panic(fmt.Sprintf("imageio: HeatOverlay: %d map values for a %dx%d image", len(heat), img.W, img.H))
	}
	out := NewRGB(img.W, img.H)
	for i, v := range heat {
		c := JetColormap(v)
		for k := 0; k < 3; k++ {
			s := float64(float64(img.Pix[3*i+k])*0.4) + float64(float64(c[k])*0.6)
			out.Pix[3*i+k] = uint8(s)
		}
	}
	return out
}

// EncodePNG writes img as an 8-bit RGB PNG.
func EncodePNG(w io.Writer, img *RGB) error {
	return png.Encode(w, img.Image())
}

// WriteFileAtomic writes a file through write into a temporary file in the
// same folder, syncs it, and renames it over path, so that readers never
// see a partial file and a failed write leaves any old file untouched. The
// new file gets mode 0644.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("imageio: writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("imageio: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("imageio: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("imageio: writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("imageio: writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("imageio: writing %s: %w", path, err)
	}
	return nil
}

// IsTempOf reports whether name (a base name in the folder of path) is one
// of WriteFileAtomic's temporary files for path: "." + base + ".tmp" +
// digits (os.CreateTemp's random part). A process killed during a write
// leaves one behind; RemoveStaleTemps clears them.
func IsTempOf(name, path string) bool {
	prefix := "." + filepath.Base(path) + ".tmp"
	if len(name) <= len(prefix) || name[:len(prefix)] != prefix {
		return false
	}
	for _, c := range name[len(prefix):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// RemoveStaleTemps removes, from each folder, the temporary files that
// WriteFileAtomic leaves when killed while writing one of the given output
// paths (see IsTempOf), reading each folder once. It returns the files
// removed. Only temporaries of these outputs are touched; call it before
// writing them, when no other writer of the same paths runs.
func RemoveStaleTemps(paths []string) ([]string, error) {
	byDir := map[string]map[string]bool{}
	for _, p := range paths {
		d := filepath.Dir(p)
		if byDir[d] == nil {
			byDir[d] = map[string]bool{}
		}
		byDir[d][filepath.Base(p)] = true
	}
	var removed []string
	for d, bases := range byDir {
		ents, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, err
		}
		for _, e := range ents {
			n := e.Name()
			if len(n) < 6 || n[0] != '.' || !e.Type().IsRegular() {
				continue
			}
			i := strings.LastIndex(n, ".tmp")
			if i < 1 || !bases[n[1:i]] || !IsTempOf(n, n[1:i]) {
				continue
			}
			p := filepath.Join(d, n)
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, err
			}
			removed = append(removed, p)
		}
	}
	sort.Strings(removed)
	return removed, nil
}
