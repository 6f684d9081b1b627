package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"io"
	"math"
	"net/http"
	"path"
	"strings"

	"github.com/freeseg/freeseg/imageio"
)

// probeImage reads the image header only: it refuses what is not an image
// (415), a header that cannot be read (400) and sizes over the limit (413)
// before any pixel is decoded. imageio registers all the formats it
// decodes (PNG, JPEG, GIF, WebP, BMP, TIFF) with package image.
func probeImage(data io.Reader, maxPixels int64) (w, h int, err error) {
	cfg, _, err := image.DecodeConfig(data)
	if errors.Is(err, image.ErrFormat) {
		return 0, 0, errorf(http.StatusUnsupportedMediaType, "the upload is not an image: PNG, JPEG, GIF, WebP, BMP or TIFF expected")
	}
	if err != nil {
		return 0, 0, errorf(http.StatusBadRequest, "cannot read the image header (truncated or corrupt file): %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, errorf(http.StatusBadRequest, "the image has zero size (%dx%d)", cfg.Width, cfg.Height)
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if px > maxPixels || px >= imageio.MaxPixels {
		return 0, 0, errorf(http.StatusRequestEntityTooLarge, "image of %dx%d pixels (%.1f megapixels); at most %.1f megapixels are accepted",
			cfg.Width, cfg.Height, float64(px)/1e6, float64(min(maxPixels, imageio.MaxPixels-1))/1e6)
	}
	return cfg.Width, cfg.Height, nil
}

// fitSize is the size of a w×h image scaled down so that its long side is
// at most maxSide (0 = no limit), keeping the ratio.
func fitSize(w, h, maxSide int) (int, int) {
	long := max(w, h)
	if maxSide <= 0 || long <= maxSide {
		return w, h
	}
	s := float64(maxSide) / float64(long)
	return max(1, int(math.Round(float64(w)*s))), max(1, int(math.Round(float64(h)*s)))
}

// decodeImage decodes the upload, applies its EXIF orientation (unless
// told not to) and scales it down to maxSide.
func decodeImage(data []byte, name string, exif bool, maxSide int) (*imageio.RGB, error) {
	img, meta, err := imageio.Decode(bytes.NewReader(data), displayName(name))
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "%v", err)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "cannot decode the image (truncated or corrupt file): %v", err)
	}
	if exif && meta.Orientation > 1 {
		img = imageio.ApplyOrientation(img, meta.Orientation)
	}
	if w, h := fitSize(img.W, img.H, maxSide); w != img.W || h != img.H {
		img = imageio.ResizePIL(img, w, h, imageio.Bicubic)
	}
	return img, nil
}

// displayName is the base name of an uploaded file, for messages.
func displayName(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" || name == "" {
		return "upload"
	}
	if len(name) > 100 {
		name = name[:100]
	}
	return name
}

func pngBase64(img image.Image) (string, error) {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

func rgbBase64(img *imageio.RGB) (string, error) { return pngBase64(img.Image()) }

// greyBase64 encodes a map of values in [0,1] as an 8-bit greyscale PNG
// (round(v·255)).
func greyBase64(v []float32, w, h int) (string, error) {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i, x := range v[:w*h] {
		switch {
		case !(x > 0):
			g.Pix[i] = 0
		case x >= 1:
			g.Pix[i] = 255
		default:
			g.Pix[i] = uint8(math.Round(float64(x) * 255))
		}
	}
	return pngBase64(g)
}

// labelsBase64 encodes the label map: a palette PNG (pixel value = class,
// colours pal) for up to 256 classes, else a 16-bit greyscale PNG of the
// class indices.
func labelsBase64(labels []int32, w, h int, pal [][3]uint8) (string, string, error) {
	if len(pal) <= 256 {
		var b bytes.Buffer
		if err := imageio.WritePalettePNG(&b, labels, w, h, pal); err != nil {
			return "", "", err
		}
		return base64.StdEncoding.EncodeToString(b.Bytes()), "palette", nil
	}
	g := image.NewGray16(image.Rect(0, 0, w, h))
	for i, l := range labels {
		g.Pix[2*i], g.Pix[2*i+1] = uint8(l>>8), uint8(l)
	}
	s, err := pngBase64(g)
	return s, "gray16", err
}
