package clip_test

import (
	"fmt"
	"testing"

	"github.com/freeseg/freeseg/clip"
)

// BenchmarkEncodeImage measures CLIP's image tower at ViT-B/16 shapes with
// random weights: one 224x224 crop (197 tokens) and one 448x448 image would
// need the dense path; encode_image runs at the native 224.
func BenchmarkEncodeImageViTB16(b *testing.B) {
	cfg, _ := clip.Arch("ViT-B/16")
	m, err := clip.Random(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 6} {
		b.Run(fmt.Sprintf("B=%d,224", batch), func(b *testing.B) {
			x := make([]float32, batch*3*224*224)
			for i := range x {
				x[i] = float32(i%251)/125 - 1
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.EncodeImage(x, batch, 224, 224); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*batch), "ms/crop")
		})
	}
}
