package dense_test

import (
	"context"
	"testing"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/interp"
	"github.com/freeseg/freeseg/seg"
)

// The VFM input: CLIP's normalisation undone, ImageNet's applied.
func TestGoldenVFMInput(t *testing.T) {
	in := golden.Proxy(t, "proxy/crop_input")
	want := golden.Proxy(t, "proxy/dino_input")
	got := dense.VFMInput(in.F32, 1, 336, 336)
	golden.AssertClose(t, "proxy/dino_input", got, want.F32, 1e-6*peak(want.F32))
}

// ProxyCLIP's features of one 336 window and its logits upsampled to the
// window, against mc-lan/ProxyCLIP (tiny CLIP, tiny DINO ViT/8).
func TestGoldenProxyWindow(t *testing.T) {
	m := testmodel.Tiny(t)
	vfm := testmodel.TinyDINO(t)
	in := golden.Proxy(t, "proxy/crop_input")
	f, err := dense.ProxyCLIP.FeaturesWith(context.Background(), m, vfm, in.F32, 1, 336, 336)
	if err != nil {
		t.Fatal(err)
	}
	if f.GH != 42 || f.GW != 42 {
		t.Fatalf("grid %dx%d, want the DINO grid 42x42", f.GH, f.GW)
	}
	want := golden.Proxy(t, "proxy/crop_image_features")
	golden.AssertClose(t, "proxy/crop_image_features", f.Patches(0), want.F32, 2e-5*peak(want.F32))

	qf := golden.Proxy(t, "proxy/query_features")
	Q, E := qf.Shape[0], qf.Shape[1]
	cos := seg.Cosine(f.Patches(0), 42*42, E, qf.F32, Q)
	up := interp.ResizeBilinearTorch(seg.Transpose(cos, 42*42, Q), Q, 42, 42, 336, 336, false)
	wl := golden.Proxy(t, "proxy/crop_logits")
	golden.AssertClose(t, "proxy/crop_logits", up, wl.F32, 2e-5*peak(wl.F32))

	// Without the VFM the method refuses to run.
	if _, err := dense.ProxyCLIP.Features(context.Background(), m, in.F32, 1, 336, 336); err == nil {
		t.Fatal("proxyclip ran without a VFM")
	}
	if _, err := dense.ProxyCLIP.FeaturesWith(context.Background(), m, nil, in.F32, 1, 336, 336); err == nil {
		t.Fatal("proxyclip ran with a nil VFM")
	}
}

// Batching windows must not mix them: the proxy attention's mean is per
// window (the reference runs one window at a time).
func TestProxyBatchEqualsSingles(t *testing.T) {
	m := testmodel.Tiny(t)
	vfm := testmodel.TinyDINO(t)
	in := golden.Proxy(t, "proxy/seg_input").F32 // [3,336,505]
	H, W, S := 336, 505, 112
	crops := make([]float32, 2*3*S*S)
	for b, x0 := range []int{0, 300} {
		for c := 0; c < 3; c++ {
			for y := 0; y < S; y++ {
				copy(crops[(b*3+c)*S*S+y*S:][:S], in[c*H*W+(y+100)*W+x0:][:S])
			}
		}
	}
	all, err := dense.ProxyCLIP.FeaturesWith(context.Background(), m, vfm, crops, 2, S, S)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 2; b++ {
		one, err := dense.ProxyCLIP.FeaturesWith(context.Background(), m, vfm, crops[b*3*S*S:(b+1)*3*S*S], 1, S, S)
		if err != nil {
			t.Fatal(err)
		}
		golden.AssertClose(t, "batch vs single", all.Image(b), one.Image(0), 1e-5*peak(one.Image(0)))
	}
}
