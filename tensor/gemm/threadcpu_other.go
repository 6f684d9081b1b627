//go:build !linux

package gemm

import "time"

func threadCPU() time.Duration { return 0 }

func processCPU() time.Duration { return 0 }
