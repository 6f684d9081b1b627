package freeseg_test

import (
	"context"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// BenchmarkSegmentVOC500x375SCLIP is the whole pipeline on a VOC-sized
// image under the SCLIP VOC21 protocol (short side 336, 6 crops of 224, 21
// classes of 56 names) with a random ViT-B/16; the text classifier is built
// before the timer (single template) so that only image work is timed.
func BenchmarkSegmentVOC500x375SCLIP(b *testing.B) {
	cfg, _ := clip.Arch("ViT-B/16")
	m, err := clip.Random(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	e := freeseg.NewEngine(m)
	p, _ := prompts.Protocols("sclip", "voc21")
	o, _ := freeseg.ProtocolOptions(p)
	v, _ := p.Vocabulary()
	o.Templates = "single"
	img := imageio.NewRGB(500, 375)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if _, err := e.Segment(context.Background(), img, v, o); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Segment(context.Background(), img, v, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}
