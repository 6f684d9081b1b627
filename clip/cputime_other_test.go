//go:build !unix

package clip

import "time"

func processCPU() time.Duration { return 0 }
