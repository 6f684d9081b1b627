package seg

import (
	"fmt"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/interp"
)

// EncodeFunc returns the dense features of B equally sized crops
// (planar [B,3,H,W], normalised).
type EncodeFunc func(imgs []float32, B, H, W int) (*dense.Features, error)

// Window is the inference unit: a sliding window of Crop×Crop pixels moved
// by Stride, or the whole image when Crop is 0.
type Window struct {
	Crop, Stride int
	// PadToPatch zero-pads each crop symmetrically to a multiple of the
	// patch size and cuts the logits back (ClearCLIP); without it the patch
	// convolution drops the partial patches (SCLIP, NACLIP).
	PadToPatch bool
	// PadMultiple is the multiple PadToPatch pads to; 0 means the patch
	// size. ProxyCLIP pads to 56, a multiple of both CLIP's and DINO's
	// patches.
	PadMultiple int
	// Batch is how many crops go through the encoder at once (default 8).
	Batch int
}

// Validate checks the window against an input of H×W pixels.
func (w Window) Validate() error {
	if w.Crop < 0 {
		return fmt.Errorf("crop %d must be positive (or 0 for the whole image)", w.Crop)
	}
	if w.Crop > 0 && w.Stride <= 0 {
		return fmt.Errorf("stride %d must be positive with a %d crop", w.Stride, w.Crop)
	}
	if w.PadMultiple < 0 || w.PadMultiple > 1024 {
		return fmt.Errorf("pad multiple %d must be in [0, 1024]", w.PadMultiple)
	}
	if w.Crop > 0 && w.Stride > w.Crop {
		return fmt.Errorf("stride %d larger than the crop %d would leave pixels unseen", w.Stride, w.Crop)
	}
	return nil
}

// Rect is a window position in the input, [Y0,Y1)×[X0,X1).
type Rect struct{ Y0, X0, Y1, X1 int }

// Windows lists the crops of forward_slide (docs/method.md#sliding-windows, identical in SCLIP,
// NACLIP and ClearCLIP): grids = max(H−crop+stride−1, 0)//stride + 1 per
// axis, the last window shifted back to end at the border, a crop larger
// than the image clipped to it.
func Windows(H, W, crop, stride int) []Rect {
	hg := max(H-crop+stride-1, 0)/stride + 1
	wg := max(W-crop+stride-1, 0)/stride + 1
	out := make([]Rect, 0, hg*wg)
	for i := 0; i < hg; i++ {
		for j := 0; j < wg; j++ {
			y1, x1 := i*stride, j*stride
			y2, x2 := min(y1+crop, H), min(x1+crop, W)
			y1, x1 = max(y2-crop, 0), max(x2-crop, 0)
			out = append(out, Rect{y1, x1, y2, x2})
		}
	}
	return out
}

// Result of dense inference over one image.
type Logits struct {
	Q, H, W int
	Data    []float32 // [Q,H,W] cosine logits
	// CLS holds the mean over windows of the CLS token's cosine with each
	// query [Q] (the image-level similarity the partial-label stage may use).
	CLS []float32
}

// Job is one image's inference: the network input, the text classifier,
// the window rule and the size of the output. Shapes use the letters of
// docs/method.md#shape-letters.
type Job struct {
	Encode     EncodeFunc // the dense features of a batch of crops
	Input      []float32  // the network input, planar [3,H,W], normalised
	H, W       int
	Classifier []float32 // [Q,E] L2-normalised query embeddings
	Q, E       int
	Window     Window
	Patch      int // the encoder's patch size (for padding to it)
	OutH, OutW int // the output size: the original image's
}

// Infer computes the job's query logits by the window rule, at size
// OutH×OutW (docs/method.md#sliding-windows): each window's patch cosines
// are upsampled bilinearly to the window, summed and divided by the
// per-pixel count, and the result resized to OutH×OutW. With the
// whole-image rule the grid is upsampled to OutH×OutW directly (NACLIP
// forward_feature).
func Infer(j Job) (*Logits, error) {
	enc, img, H, W, classifier, Q, E, win, patch, outH, outW := j.Encode, j.Input, j.H, j.W, j.Classifier, j.Q, j.E, j.Window, j.Patch, j.OutH, j.OutW
	if err := win.Validate(); err != nil {
		return nil, err
	}
	if len(img) != 3*H*W {
		return nil, fmt.Errorf("infer: %d input values for 3x%dx%d", len(img), H, W)
	}
	if len(classifier) != Q*E {
		return nil, fmt.Errorf("infer: classifier has %d values, want %dx%d", len(classifier), Q, E)
	}
	res := &Logits{Q: Q, H: outH, W: outW, CLS: make([]float32, Q)}
	if win.Crop == 0 {
		f, err := enc(img, 1, H, W)
		if err != nil {
			return nil, err
		}
		grid := gridLogits(f, 0, classifier, Q, E)
		addCLS(res.CLS, f, 0, classifier, Q, E, 1)
		res.Data = interp.ResizeBilinearTorch(grid, Q, f.GH, f.GW, outH, outW, false)
		return res, nil
	}
	rects := Windows(H, W, win.Crop, win.Stride)
	ch, cw := rects[0].Y1-rects[0].Y0, rects[0].X1-rects[0].X0
	pl, pr, pt, pb := 0, 0, 0, 0
	if win.PadToPatch {
		mult := patch
		if win.PadMultiple > 0 {
			mult = win.PadMultiple
		}
		pl, pr = padSplit(cw, mult)
		pt, pb = padSplit(ch, mult)
	}
	ih, iw := ch+pt+pb, cw+pl+pr
	preds := make([]float32, Q*H*W)
	count := make([]float32, H*W)
	batch := win.Batch
	if batch <= 0 {
		batch = 8
	}
	for start := 0; start < len(rects); start += batch {
		rs := rects[start:min(start+batch, len(rects))]
		crops := make([]float32, len(rs)*3*ih*iw)
		for b, r := range rs {
			dst := crops[b*3*ih*iw:]
			for c := 0; c < 3; c++ {
				for y := 0; y < ch; y++ {
					src := img[c*H*W+(r.Y0+y)*W+r.X0:]
					copy(dst[c*ih*iw+(y+pt)*iw+pl:][:cw], src[:cw])
				}
			}
		}
		f, err := enc(crops, len(rs), ih, iw)
		if err != nil {
			return nil, err
		}
		for b, r := range rs {
			grid := gridLogits(f, b, classifier, Q, E)
			addCLS(res.CLS, f, b, classifier, Q, E, len(rects))
			up := interp.ResizeBilinearTorch(grid, Q, f.GH, f.GW, ih, iw, false)
			for q := 0; q < Q; q++ {
				for y := 0; y < ch; y++ {
					src := up[q*ih*iw+(y+pt)*iw+pl:][:cw]
					dst := preds[q*H*W+(r.Y0+y)*W+r.X0:][:cw]
					for x, v := range src {
						dst[x] += v
					}
				}
			}
			for y := r.Y0; y < r.Y1; y++ {
				for x := r.X0; x < r.X1; x++ {
					count[y*W+x]++
				}
			}
		}
	}
	for q := 0; q < Q; q++ {
		p := preds[q*H*W : (q+1)*H*W]
		for i := range p {
			p[i] /= count[i]
		}
	}
	if outH == H && outW == W {
		res.Data = preds
	} else {
		res.Data = interp.ResizeBilinearTorch(preds, Q, H, W, outH, outW, false)
	}
	return res, nil
}

// padSplit is ClearCLIP's compute_padsize along one axis.
func padSplit(n, patch int) (lo, hi int) {
	if n%patch == 0 {
		return 0, 0
	}
	t := patch - n%patch
	return t / 2, t - t/2
}

// gridLogits is the [Q, GH, GW] cosine map of image b's patch tokens. (The
// references build it as a permuted view with channels-last strides, so
// PyTorch upsamples it with its channels-last kernel, which sums the four
// bilinear terms in another order; interp.ResizeBilinearTorchChannelsLast
// reproduces that bit for bit but emulates fused multiply-adds and is several
// times slower. The plain kernel differs in the last bit of float32 and is
// what Infer uses.)
func gridLogits(f *dense.Features, b int, classifier []float32, Q, E int) []float32 {
	T := f.GH * f.GW
	return Transpose(Cosine(f.Patches(b), T, E, classifier, Q), T, Q)
}

func addCLS(acc []float32, f *dense.Features, b int, classifier []float32, Q, E, n int) {
	s := Cosine(f.Image(b)[:E], 1, E, classifier, Q)
	for q := range acc {
		acc[q] += s[q] / float32(n)
	}
}
