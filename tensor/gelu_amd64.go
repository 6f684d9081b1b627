//go:build amd64 && !purego

package tensor

// geluAVX512 sets x[i] = GELU(x[i]) for i < n (n ≥ 1), gelu_amd64.s.
//
//go:noescape
func geluAVX512(x *float32, n int)
