package imageio

import "math"

// CLIP's normalisation constants (openai/CLIP clip.py _transform), applied
// to pixel/255.
var (
	CLIPMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	CLIPStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// The mmseg SegDataPreProcessor constants of SCLIP, NACLIP and ClearCLIP
// (CLIP's ×255), applied to 0-255 RGB.
var (
	MMSegMean = [3]float32{122.771, 116.746, 104.094}
	MMSegStd  = [3]float32{68.501, 66.632, 70.323}
)

// ShortSideSize is torchvision's Resize(n) size rule for a w×h image: the
// short side becomes n and the long side int(n·long/short) (truncated).
func ShortSideSize(w, h, n int) (nw, nh int) {
	if w <= h {
		return n, int(float64(n*h) / float64(w))
	}
	return int(float64(n*w) / float64(h)), n
}

// CenterCropOffset is torchvision's CenterCrop position of a cw×ch crop in a
// w×h image: left = int(round((w−cw)/2)), top likewise, with Python's
// round-half-to-even.
func CenterCropOffset(w, h, cw, ch int) (left, top int) {
	return int(math.RoundToEven(float64(w-cw) / 2)), int(math.RoundToEven(float64(h-ch) / 2))
}

// NormalizeCLIP turns an image into the planar float32 [3,H,W] tensor of
// torchvision's ToTensor + Normalize(CLIPMean, CLIPStd), in the same
// float32 arithmetic: (v/255 − mean)/std.
func NormalizeCLIP(img *RGB) []float32 {
	return normalize(img, 255, CLIPMean, CLIPStd)
}

// NormalizeMMSeg turns an image into the planar float32 [3,H,W] tensor of
// mmseg's SegDataPreProcessor: (v − mean)/std on 0-255 values, in float32.
func NormalizeMMSeg(img *RGB) []float32 {
	return normalize(img, 1, MMSegMean, MMSegStd)
}

func normalize(img *RGB, div float32, mean, std [3]float32) []float32 {
	n := img.W * img.H
	out := make([]float32, 3*n)
	var lut [3][256]float32
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			x := float32(v)
			if div != 1 {
				x = x / div
			}
			lut[c][v] = (x - mean[c]) / std[c]
		}
	}
	r, g, b := out[:n], out[n:2*n], out[2*n:]
	for i := 0; i < n; i++ {
		r[i] = lut[0][img.Pix[3*i]]
		g[i] = lut[1][img.Pix[3*i+1]]
		b[i] = lut[2][img.Pix[3*i+2]]
	}
	return out
}

// PreprocessOpenAI is CLIP's default transform (clip.py _transform(n)):
// Resize(n, BICUBIC) of the short side with Pillow (ShortSideSize),
// CenterCrop(n) (CenterCropOffset), ToTensor, Normalize. It returns the
// planar [3,n,n] tensor.
func PreprocessOpenAI(img *RGB, n int) []float32 {
	rw, rh := ShortSideSize(img.W, img.H, n)
	r := ResizePIL(img, rw, rh, Bicubic) // a copy when the size is unchanged
	left, top := CenterCropOffset(rw, rh, n, n)
	return NormalizeCLIP(r.Crop(left, top, n, n))
}

// PreprocessSquare is CLIP Surgery's transform: Resize((s, s), BICUBIC) with
// Pillow (aspect ratio not kept, no crop), ToTensor, Normalize. It returns
// the planar [3,s,s] tensor.
func PreprocessSquare(img *RGB, s int) []float32 {
	return NormalizeCLIP(ResizePIL(img, s, s, Bicubic))
}

// KeepRatioSize is mmcv's rescale_size for Resize(scale=(maxLong, short),
// keep_ratio=True): factor = min(maxLong/long, short/shortSide), and the new
// size is int(w·factor + 0.5) × int(h·factor + 0.5), each side at least
// one pixel: for an extreme aspect ratio (1×19999) mmcv's formula gives 0,
// which cv2.resize then refuses; one pixel keeps the image, and the
// pipeline refuses it with a message if it is smaller than a patch. An
// empty size gives 0×0.
func KeepRatioSize(w, h, short, maxLong int) (nw, nh int) {
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	long, shortSide := max(w, h), min(w, h)
	f := math.Min(float64(max(maxLong, short))/float64(long), float64(min(maxLong, short))/float64(shortSide))
	return max(1, int(float64(float64(w)*f)+0.5)), max(1, int(float64(float64(h)*f)+0.5))
}

// MMSegMaxLong is the long-side bound of the mmseg evaluators' scale
// (2048, S).
const MMSegMaxLong = 2048

// PreprocessMMSeg is the SCLIP/NACLIP/ClearCLIP test pipeline: mmcv's
// keep-ratio Resize to scale (2048, short) with cv2 INTER_LINEAR
// (ResizeCV2Linear), then SegDataPreProcessor normalisation. It returns the
// planar [3,h,w] tensor and its size.
func PreprocessMMSeg(img *RGB, short int) (data []float32, w, h int) {
	w, h = KeepRatioSize(img.W, img.H, short, MMSegMaxLong)
	return NormalizeMMSeg(ResizeCV2Linear(img, w, h)), w, h
}

// PreprocessMMSegPIL is PreprocessMMSeg with a Pillow BILINEAR resize in
// place of cv2's (the golden seg/input was made that way; the two differ by
// at most about one level).
func PreprocessMMSegPIL(img *RGB, short int) (data []float32, w, h int) {
	w, h = KeepRatioSize(img.W, img.H, short, MMSegMaxLong)
	return NormalizeMMSeg(ResizePIL(img, w, h, Bilinear)), w, h
}
