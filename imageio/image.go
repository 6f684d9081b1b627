// Package imageio reads photos into 8-bit RGB, resizes them the way the
// reference implementations do (Pillow's antialiased resampling, OpenCV's
// INTER_LINEAR), builds the network input tensors (docs/model.md#preprocessing), and writes the
// outputs: paletted label maps, colour overlays with a legend, and jet heat
// maps (docs/method.md#similarity-maps).
//
// Images are *RGB: interleaved 8-bit R,G,B, row-major, no alpha. Every
// decoder result is converted to that form with the rules of Pillow's
// Image.convert("RGB"), because that is what the reference pipelines feed
// the network (see Decode).
package imageio

import (
	"fmt"
	"image"
	"image/color"
)

// RGB is an 8-bit RGB image: pixel (x, y) is Pix[3*(y*W+x) : 3*(y*W+x)+3].
type RGB struct {
	W, H int
	Pix  []uint8
}

// NewRGB returns a black w×h image.
func NewRGB(w, h int) *RGB {
	if w < 0 || h < 0 {
		panic(fmt.Sprintf("imageio: negative size %dx%d", w, h))
	}
	return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)}
}

// Clone returns a deep copy.
func (m *RGB) Clone() *RGB {
	return &RGB{W: m.W, H: m.H, Pix: append([]uint8(nil), m.Pix...)}
}

// At returns the colour of pixel (x, y).
func (m *RGB) At(x, y int) [3]uint8 {
	i := 3 * (y*m.W + x)
	return [3]uint8{m.Pix[i], m.Pix[i+1], m.Pix[i+2]}
}

// Set sets pixel (x, y).
func (m *RGB) Set(x, y int, c [3]uint8) {
	i := 3 * (y*m.W + x)
	m.Pix[i], m.Pix[i+1], m.Pix[i+2] = c[0], c[1], c[2]
}

// Crop returns a copy of the w×h rectangle whose top-left corner is (x0, y0).
// The rectangle must lie inside the image.
func (m *RGB) Crop(x0, y0, w, h int) *RGB {
	if x0 < 0 || y0 < 0 || w < 0 || h < 0 || x0+w > m.W || y0+h > m.H {
		panic(fmt.Sprintf("imageio: crop %dx%d+%d+%d outside a %dx%d image", w, h, x0, y0, m.W, m.H))
	}
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		s := 3 * ((y0+y)*m.W + x0)
		copy(out.Pix[3*y*w:3*(y+1)*w], m.Pix[s:s+3*w])
	}
	return out
}

// Image returns the picture as an opaque *image.RGBA (for the standard
// library's encoders and drawing code).
func (m *RGB) Image() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	n := m.W * m.H
	for i := 0; i < n; i++ {
		out.Pix[4*i] = m.Pix[3*i]
		out.Pix[4*i+1] = m.Pix[3*i+1]
		out.Pix[4*i+2] = m.Pix[3*i+2]
		out.Pix[4*i+3] = 255
	}
	return out
}

// FromImage converts any image.Image to RGB with Pillow's convert("RGB")
// rules: alpha is dropped (not composited), 16-bit colour channels keep
// their high byte, 16-bit grey is clipped to 0..255 (Pillow's I;16/I → RGB),
// palettes are looked up, CMYK uses Pillow's cmyk2rgb, and JPEG-style YCbCr
// uses libjpeg's fancy upsampling and fixed-point colour conversion. The
// image is taken from its Bounds(), whose origin need not be (0, 0).
func FromImage(src image.Image) *RGB {
	return toRGB(src, convOpts{})
}

type convOpts struct {
	// grey16Clip: treat 16-bit grey as Pillow's "I;16" (clip to 255) rather
	// than taking the high byte. True for 16-bit grey PNG/TIFF.
	grey16Clip bool
	// webp: YCbCr came from libwebp-style 4:2:0 (x/image/webp).
	webp bool
}

func toRGB(src image.Image, opt convOpts) *RGB {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	switch m := src.(type) {
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				r, g, bb, a := row[4*x], row[4*x+1], row[4*x+2], row[4*x+3]
				if a != 255 && a != 0 {
					r, g, bb = unpremul8(r, a), unpremul8(g, a), unpremul8(bb, a)
				}
				o[3*x], o[3*x+1], o[3*x+2] = r, g, bb
			}
		}
		return out
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
		return out
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[8*x], row[8*x+2], row[8*x+4]
			}
		}
		if opt.grey16Clip {
			// 16-bit grey with a tRNS chunk comes back from image/png as
			// NRGBA64 with R=G=B; Pillow still reads it as I;16.
			for y := 0; y < h; y++ {
				row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
				for x := 0; x < w; x++ {
					v := clip16(uint16(row[8*x])<<8 | uint16(row[8*x+1]))
					i := 3 * (y*w + x)
					out.Pix[i], out.Pix[i+1], out.Pix[i+2] = v, v, v
				}
			}
		}
		return out
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				v := row[x]
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
		return out
	case *image.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				v := clip16(uint16(row[2*x])<<8 | uint16(row[2*x+1]))
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
		return out
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			pal[i] = paletteRGB(c)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				c := pal[row[x]]
				o[3*x], o[3*x+1], o[3*x+2] = c[0], c[1], c[2]
			}
		}
		return out
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			o := out.Pix[3*y*w:]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = cmykToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
		return out
	case *image.YCbCr:
		if opt.webp && m.Rect.Min == (image.Point{}) {
			webpYCbCrToRGB(out, m.Y, m.Cb, m.Cr, m.YStride, m.CStride, m.SubsampleRatio, w, h)
		} else {
			jpegYCbCrToRGB(out, m)
		}
		return out
	case *image.NYCbCrA:
		if opt.webp && m.Rect.Min == (image.Point{}) {
			webpYCbCrToRGB(out, m.Y, m.Cb, m.Cr, m.YStride, m.CStride, m.SubsampleRatio, w, h)
		} else {
			jpegYCbCrToRGB(out, &m.YCbCr)
		}
		return out
	}
	// Anything else: go through the colour model, un-premultiplying.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			i := 3 * (y*w + x)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
		}
	}
	return out
}

// clip16 is Pillow's I;16 → L/RGB conversion: values above 255 saturate.
func clip16(v uint16) uint8 {
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// unpremul8 undoes alpha premultiplication with rounding.
func unpremul8(c, a uint8) uint8 {
	v := (int(c)*255 + int(a)/2) / int(a)
	if v > 255 {
		v = 255
	}
	return uint8(v)
}

// paletteRGB returns the colour of a palette entry without its alpha, the
// way Pillow's P → RGB conversion ignores transparency.
func paletteRGB(c color.Color) [3]uint8 {
	switch v := c.(type) {
	case color.NRGBA:
		return [3]uint8{v.R, v.G, v.B}
	case color.RGBA:
		if v.A == 255 || v.A == 0 {
			return [3]uint8{v.R, v.G, v.B}
		}
		return [3]uint8{unpremul8(v.R, v.A), unpremul8(v.G, v.A), unpremul8(v.B, v.A)}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// cmykToRGB is Pillow's cmyk2rgb (Convert.c): each channel is
// (255-K) - C·(255-K)/255 with MULDIV255 rounding.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	f := func(v uint8) uint8 {
		t := int(v)*nk + 128
		r := nk - ((t>>8)+t)>>8
		if r < 0 {
			r = 0
		}
		if r > 255 {
			r = 255
		}
		return uint8(r)
	}
	return f(c), f(m), f(y)
}
