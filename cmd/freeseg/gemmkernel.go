package main

import "github.com/freeseg/freeseg/tensor/gemm"

// gemmKernel names the matrix kernel in use, for reports.
func gemmKernel() string { return gemm.Kernel() }
