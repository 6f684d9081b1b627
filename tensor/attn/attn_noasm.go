//go:build !amd64 || purego

package attn

func detectLevel() int { return levelUnfused }

// The fused kernels do not exist in this build; level is always
// levelUnfused, so these are never called.

func blockAVX512(w *work, y, v []float32, j0, kb, hd int, bias []float32, lim, qb int) {
	panic("unreachable")
}

func prefetchRows(p uintptr, ld, rows, n int) { panic("unreachable") }

func xpack512(xt, x *float32, ldx, qb, hd int, scale float32) { panic("unreachable") }

func finish512(out *float32, ldo int, o, l *float32, qb, hd, accumulate int) {
	panic("unreachable")
}
