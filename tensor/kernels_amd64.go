//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// detectLevel picks the widest instruction set the CPU and OS support
// (x/sys/cpu reports AVX and AVX-512 only when the OS saves their state).
func detectLevel() int {
	switch {
	case cpu.X86.HasAVX512F:
		return levelAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return levelAVX2
	}
	return levelGeneric
}

// The assembly kernels below do no bounds checks: the exported wrappers in
// ops.go check every length first. n, rows and d are at least 1.

// expAVX512 sets dst[i] = e^src[i] for i < n (dst may equal src).
//
//go:noescape
func expAVX512(dst, src *float32, n int)

//go:noescape
func expAVX2(dst, src *float32, n int)

// softmaxAVX512 replaces each of rows rows (stride ld) of n values by
// softmax(row + bias row) (bias stride ldb; bias nil: no bias). With a bias,
// x is first overwritten by x + bias.
//
//go:noescape
func softmaxAVX512(x *float32, ld int, bias *float32, ldb, rows, n int)

//go:noescape
func softmaxAVX2(x *float32, ld int, bias *float32, ldb, rows, n int)

// quickGELUAVX512 sets x[i] = x[i] / (1 + e^(-1.702·x[i])) for i < n.
//
//go:noescape
func quickGELUAVX512(x *float32, n int)

//go:noescape
func quickGELUAVX2(x *float32, n int)

// layerNormAVX512 normalises rows rows of d values from x into out.
//
//go:noescape
func layerNormAVX512(out, x *float32, rows, d int, w, b *float32, eps float64)

//go:noescape
func layerNormAVX2(out, x *float32, rows, d int, w, b *float32, eps float64)

// addAVX512 sets dst[i] += src[i] for i < n.
//
//go:noescape
func addAVX512(dst, src *float32, n int)

//go:noescape
func addAVX2(dst, src *float32, n int)

// scaleAVX512 sets x[i] *= s for i < n.
//
//go:noescape
func scaleAVX512(x *float32, n int, s float32)

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

// mulAddAVX512 sets dst[i] += a[i]·b[i] (fused) for i < n.
//
//go:noescape
func mulAddAVX512(dst, a, b *float32, n int)
