//go:build !amd64 || purego

package gemm

func nativeBF16Kernel() *kernel { return nil }

func cvtRow(dst []uint16, src []float32) int { return 0 }

const peakAccs = 1

func hasPeakFMA() bool { return false }
func fmaPeak(n int)    {}
func bf16Peak(n int)   {}

func expandFast(dst []float32, src []uint32) bool { return false }

func roundRow(dst, src []float32) int { return 0 }

func amxKernel() *kernel { return nil }

func amxPeak(n int) {}
