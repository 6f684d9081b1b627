package imageio

import (
	"testing"
)

func BenchmarkResizePILBicubic_500x375_to_224(b *testing.B) {
	img := smoothRGB(newRng(1), 500, 375)
	b.SetBytes(int64(len(img.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		ResizePIL(img, 224, 224, Bicubic)
	}
}

func BenchmarkResizePILBicubic_4032x3024_to_224(b *testing.B) {
	img := smoothRGB(newRng(1), 4032, 3024)
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		ResizePIL(img, 224, 224, Bicubic)
	}
}

func BenchmarkResizeCV2Linear_500x375_to_448x336(b *testing.B) {
	img := smoothRGB(newRng(1), 500, 375)
	b.SetBytes(int64(len(img.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		ResizeCV2Linear(img, 448, 336)
	}
}

func BenchmarkPreprocessOpenAI224_500x375(b *testing.B) {
	img := smoothRGB(newRng(1), 500, 375)
	b.ReportAllocs()
	for b.Loop() {
		PreprocessOpenAI(img, 224)
	}
}

func BenchmarkPreprocessSquare224_500x375(b *testing.B) {
	img := smoothRGB(newRng(1), 500, 375)
	for b.Loop() {
		PreprocessSquare(img, 224)
	}
}

func BenchmarkPreprocessMMSeg336_500x375(b *testing.B) {
	img := smoothRGB(newRng(1), 500, 375)
	for b.Loop() {
		PreprocessMMSeg(img, 336)
	}
}

func BenchmarkDecodeJPEG_97x63(b *testing.B) {
	for b.Loop() {
		if _, _, err := Open("testdata/decode/photo_2x2.jpg"); err != nil {
			b.Fatal(err)
		}
	}
}
