//go:build !amd64 || purego

package gemm

func fastKernels() []*kernel { return nil }

func packRows(d, a []float32, off, rs, mt, kc int) { packRowsGo(d, a, off, rs, mt, kc) }

func packPanelT(pan, b []float32, off, ldb, k int) bool { return false }
