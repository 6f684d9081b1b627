//go:build !unix

package bench

import "time"

// processCPU is not measured here: the *_cpu_ms figures read 0.
func processCPU() time.Duration { return 0 }
