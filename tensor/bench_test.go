package tensor

import (
	"fmt"
	"testing"
)

// Benchmarks per SIMD level, single-threaded. ns/elem is the time per
// element of the operation; MB/s counts bytes read plus written.
//
//	go test -run '^$' -bench . -count 5 ./tensor/

func benchLevels(b *testing.B, name string, f func(b *testing.B)) {
	for l := levelGeneric; l <= maxLevel; l++ {
		b.Run(name+"/"+levelNames[l], func(b *testing.B) {
			old := setLevel(l)
			defer setLevel(old)
			f(b)
		})
	}
}

func reportPerElem(b *testing.B, elems int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(elems), "ns/elem")
}

func BenchmarkExp(b *testing.B) {
	n := 1 << 20
	src := randSlice(n, 10, 1)
	dst := make([]float32, n)
	benchLevels(b, "n=1M", func(b *testing.B) {
		b.SetBytes(int64(8 * n))
		for b.Loop() {
			Exp(dst, src)
		}
		reportPerElem(b, n)
	})
}

func BenchmarkSoftmaxRows(b *testing.B) {
	for _, n := range []int{197, 785} {
		src := randSlice(n*n, 3, 2)
		x := make([]float32, n*n)
		benchLevels(b, fmt.Sprintf("%dx%d", n, n), func(b *testing.B) {
			b.SetBytes(int64(8 * n * n))
			for b.Loop() {
				b.StopTimer()
				copy(x, src)
				b.StartTimer()
				SoftmaxRows(x, n, n, n)
			}
			reportPerElem(b, n*n)
		})
	}
}

func BenchmarkQuickGELU(b *testing.B) {
	for _, rows := range []int{197, 785} {
		n := rows * 3072
		src := randSlice(n, 2, 3)
		x := make([]float32, n)
		benchLevels(b, fmt.Sprintf("%dx3072", rows), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				b.StopTimer()
				copy(x, src)
				b.StartTimer()
				QuickGELU(x)
			}
			reportPerElem(b, n)
		})
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	const d = 768
	w, bias := randSlice(d, 1, 5), randSlice(d, 1, 6)
	for _, rows := range []int{197, 785} {
		x := lnInput(rows, d, 4)
		out := make([]float32, rows*d)
		benchLevels(b, fmt.Sprintf("%dx768", rows), func(b *testing.B) {
			b.SetBytes(int64(8 * rows * d))
			for b.Loop() {
				LayerNorm(out, x, rows, d, w, bias, 1e-5)
			}
			reportPerElem(b, rows*d)
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	n := 785 * 768
	dst, src := randSlice(n, 1, 7), randSlice(n, 1e-6, 8)
	benchLevels(b, "785x768", func(b *testing.B) {
		b.SetBytes(int64(12 * n))
		for b.Loop() {
			Add(dst, src)
		}
		reportPerElem(b, n)
	})
}
