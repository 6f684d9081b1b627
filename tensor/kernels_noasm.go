//go:build !amd64 || purego

package tensor

func detectLevel() int { return levelGeneric }

// The assembly kernels do not exist in this build; simdLevel is always
// levelGeneric so these are never called.

func expAVX512(dst, src *float32, n int)                                { panic("unreachable") }
func expAVX2(dst, src *float32, n int)                                  { panic("unreachable") }
func softmaxAVX512(x *float32, ld int, bias *float32, ldb, rows, n int) { panic("unreachable") }
func softmaxAVX2(x *float32, ld int, bias *float32, ldb, rows, n int)   { panic("unreachable") }
func quickGELUAVX512(x *float32, n int)                                 { panic("unreachable") }
func quickGELUAVX2(x *float32, n int)                                   { panic("unreachable") }
func layerNormAVX512(out, x *float32, rows, d int, w, b *float32, eps float64) {
	panic("unreachable")
}
func layerNormAVX2(out, x *float32, rows, d int, w, b *float32, eps float64) {
	panic("unreachable")
}
func addAVX512(dst, src *float32, n int)       { panic("unreachable") }
func addAVX2(dst, src *float32, n int)         { panic("unreachable") }
func scaleAVX512(x *float32, n int, s float32) { panic("unreachable") }
func scaleAVX2(x *float32, n int, s float32)   { panic("unreachable") }

func mulAddAVX512(dst, a, b *float32, n int) { panic("unreachable") }
