//go:build !amd64 || purego

package tensor

func geluAVX512(x *float32, n int) { panic("unreachable") }
