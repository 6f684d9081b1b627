package freeseg_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// Benchmarks to profile where the time of a crop and of a VOC-sized image
// goes (docs/speed.md has the tables they gave), e.g.
//
//	go test -run '^$' -bench 'Crop224ViTB16/fp32' -benchtime 20x -cpuprofile crop.pprof .
//	go tool pprof -top freeseg.test crop.pprof

// randomViTB16 is a random ViT-B/16 in precision p.
func randomViTB16(b *testing.B, p clip.Precision) *clip.Model {
	cfg, err := clip.Arch("ViT-B/16")
	if err != nil {
		b.Fatal(err)
	}
	m, err := clip.Random(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	if m, err = m.IntoPrecision(p); err != nil {
		b.Fatal(err)
	}
	return m
}

func sineCrops(n, s int) []float32 {
	x := make([]float32, n*3*s*s)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	return x
}

// BenchmarkCrop224ViTB16 is what freeseg bench's crop224_ms measures: the
// dense features (vanilla) of one 224 crop.
func BenchmarkCrop224ViTB16(b *testing.B) {
	for _, p := range []clip.Precision{clip.FP32, clip.BF16} {
		b.Run(p.String(), func(b *testing.B) {
			m := randomViTB16(b, p)
			crop := sineCrops(1, 224)
			for b.Loop() {
				if _, err := dense.Vanilla.Features(context.Background(), m, crop, 1, 224, 224); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/crop")
		})
	}
}

// BenchmarkSixCropsSCLIP is the encoder's share of the SCLIP VOC protocol:
// SCLIP's features of the six 224 crops of a 500x375 image as one batch of
// six (what the sliding window does), as six calls of one, and one vanilla
// crop (freeseg bench's crop224_ms), alternated within each iteration so
// that a shared machine's changing speed hits all three alike. It reports
// the median ratios per iteration: batch6 and 6x1 over six vanilla crops.
func BenchmarkSixCropsSCLIP(b *testing.B) {
	m := randomViTB16(b, clip.FP32)
	crops := sineCrops(6, 224)
	n := 3 * 224 * 224
	ctx := context.Background()
	timed := func(f func() error) float64 {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0).Seconds()
	}
	var r6, r1 []float64
	var s6, s1, sc float64
	for b.Loop() {
		c := timed(func() error { _, err := dense.Vanilla.Features(ctx, m, crops[:n], 1, 224, 224); return err })
		t6 := timed(func() error { _, err := dense.SCLIP.Features(ctx, m, crops, 6, 224, 224); return err })
		t1 := timed(func() error {
			for i := range 6 {
				if _, err := dense.SCLIP.Features(ctx, m, crops[i*n:(i+1)*n], 1, 224, 224); err != nil {
					return err
				}
			}
			return nil
		})
		r6, r1 = append(r6, t6/(6*c)), append(r1, t1/(6*c))
		s6, s1, sc = s6+t6, s1+t1, sc+c
	}
	N := float64(b.N)
	b.ReportMetric(1000*sc/N, "ms/crop")
	b.ReportMetric(1000*s6/N, "ms/batch6")
	b.ReportMetric(1000*s1/N, "ms/6x1")
	b.ReportMetric(medianOf(r6), "batch6/6crops")
	b.ReportMetric(medianOf(r1), "6x1/6crops")
}

func medianOf(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkVOCImageJPEG is freeseg bench's voc_image_ms: a 500x375 JPEG
// decoded and segmented under the SCLIP VOC21 protocol (single template:
// the classifier is built before the timer).
func BenchmarkVOCImageJPEG(b *testing.B) {
	for _, p := range []clip.Precision{clip.FP32, clip.BF16} {
		b.Run(p.String(), func(b *testing.B) {
			e := freeseg.NewEngine(randomViTB16(b, p))
			pr, _ := prompts.Protocols("sclip", "voc21")
			o, _ := freeseg.ProtocolOptions(pr)
			v, _ := pr.Vocabulary()
			o.Templates = "single"
			src := image.NewRGBA(image.Rect(0, 0, 500, 375))
			for y := range 375 {
				for x := range 500 {
					src.Set(x, y, color.RGBA{uint8(x * 255 / 500), uint8(y * 255 / 375), uint8((x*y)%256) / 2, 255})
				}
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
				b.Fatal(err)
			}
			run := func() {
				img, _, err := imageio.Decode(bytes.NewReader(buf.Bytes()), "bench.jpg")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Segment(context.Background(), img, v, o); err != nil {
					b.Fatal(err)
				}
			}
			run() // the classifier
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/image")
		})
	}
}
