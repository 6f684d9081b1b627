package freeseg_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// cosines returns the cosine of each row pair of a and b ([rows, E]).
func cosines(a, b []float32, E int) []float64 {
	var out []float64
	for r := 0; r+E <= len(a); r += E {
		var ab, aa, bb float64
		for i := r; i < r+E; i++ {
			ab += float64(a[i]) * float64(b[i])
			aa += float64(a[i]) * float64(a[i])
			bb += float64(b[i]) * float64(b[i])
		}
		out = append(out, ab/math.Sqrt(aa*bb))
	}
	return out
}

func minOf(xs []float64) float64 {
	m := math.Inf(1)
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

// normMaxDiff is max|a-b| / max|b|.
func normMaxDiff(a, b []float32) float64 {
	var d, p float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		p = math.Max(p, math.Abs(float64(b[i])))
	}
	return d / p
}

// TestBF16Accuracy measures the bf16 path against the float32 reference
// outputs of the golden data (PyTorch, float32): embeddings, dense features
// of every method, and the label map of the golden segmentation case. The
// thresholds leave a margin of two to five times over the figures measured
// on the tiny random model (listed in the README's speed section); a bf16
// path that paired the wrong k values or lost the float32 accumulation
// fails them by far.
func TestBF16Accuracy(t *testing.T) {
	m32 := testmodel.Tiny(t)
	m16, err := m32.WithPrecision(clip.BF16)
	if err != nil {
		t.Fatal(err)
	}
	if m16.Precision() != clip.BF16 || m32.Precision() != clip.FP32 {
		t.Fatalf("precisions %v, %v", m32.Precision(), m16.Precision())
	}
	if h, f := m16.WeightBytes(), m32.WeightBytes(); 2*h != f {
		t.Errorf("bf16 linear weights take %d bytes, fp32 %d: want half", h, f)
	}
	if _, err := m16.WithPrecision(clip.FP32); err == nil {
		t.Errorf("a bf16 model gave back fp32 weights it no longer has")
	}
	t.Logf("bf16 kernel: %s", gemm.BF16Kernel())

	E := m32.Config.EmbedDim
	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/openai224")...)
	img, err := m16.EncodeImage(imgs, 3, 224, 224)
	if err != nil {
		t.Fatal(err)
	}
	if c := minOf(cosines(img, golden.Tensor(t, "clip/image_embeds").F32, E)); !(c >= 0.999) {
		t.Errorf("image embeddings: cosine to the fp32 reference %.6f, want ≥ 0.999", c)
	} else {
		t.Logf("image embeddings: min cosine to fp32 %.6f", c)
	}

	b, err := os.ReadFile(golden.Path(t, "cases", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases struct {
			Clip struct {
				Prompts []string `json:"prompts"`
			} `json:"clip"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	txt, err := m16.EncodeText(g.Cases.Clip.Prompts)
	if err != nil {
		t.Fatal(err)
	}
	if c := minOf(cosines(txt, golden.Tensor(t, "clip/text_embeds").F32, E)); !(c >= 0.999) {
		t.Errorf("text embeddings: cosine to the fp32 reference %.6f, want ≥ 0.999", c)
	} else {
		t.Logf("text embeddings: min cosine to fp32 %.6f", c)
	}

	sq := testmodel.Stack(t, testmodel.PhotoKeys("pre/square224")...)
	for _, name := range []string{"vanilla", "surgery", "sclip", "naclip", "clearclip", "maskclip"} {
		meth, err := dense.ByName(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := meth.Features(context.Background(), m16, sq, 3, 224, 224)
		if err != nil {
			t.Fatal(err)
		}
		want := golden.Tensor(t, "dense/"+name+"/square224")
		got := f.Data
		if want.Shape[1] == f.GH*f.GW {
			got = nil
			for b := 0; b < 3; b++ {
				got = append(got, f.Patches(b)...)
			}
		}
		d := normMaxDiff(got, want.F32)
		c := minOf(cosines(got, want.F32, E))
		t.Logf("dense %-9s: normalised max difference %.5f, min token cosine %.6f", name, d, c)
		if !(d <= 0.08 && c >= 0.995) {
			t.Errorf("dense %s: normalised max difference %.5f (want ≤ 0.08), min token cosine %.6f (want ≥ 0.995)", name, d, c)
		}
	}

	// The golden segmentation case on the engine, bf16 requested per call.
	e := freeseg.NewEngine(m32)
	photo, _, err := imageio.Open(golden.Path(t, "cases", "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	o := sclipGoldenOptions()
	o.Precision = clip.BF16
	res, err := e.Segment(context.Background(), photo, goldenVocab(), o)
	if err != nil {
		t.Fatal(err)
	}
	o.Precision = clip.PrecisionDefault // the fp32 model as loaded
	res32, err := e.Segment(context.Background(), photo, goldenVocab(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := golden.Tensor(t, "seg/labels").Ints
	same, same32 := 0, 0
	for i, w := range want {
		if int64(res.Labels[i]) == w {
			same++
		}
		if res.Labels[i] == res32.Labels[i] {
			same32++
		}
	}
	share, share32 := float64(same)/float64(len(want)), float64(same32)/float64(len(want))
	t.Logf("segmentation: %.4f%% of bf16 labels equal to the PyTorch fp32 reference, %.4f%% to freeseg's fp32", 100*share, 100*share32)
	if share < 0.995 || share32 < 0.995 {
		t.Errorf("segmentation: %.4f%% of bf16 labels equal to the fp32 reference, %.4f%% to freeseg's fp32, want ≥ 99.5%%", 100*share, 100*share32)
	}
}
