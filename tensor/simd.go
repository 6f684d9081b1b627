package tensor

import (
	"os"
	"strings"
)

// SIMD levels the kernels can run at. Only levels the CPU supports are ever
// selected.
const (
	levelGeneric = iota // portable Go
	levelAVX2           // AVX2 + FMA, 8 lanes
	levelAVX512         // AVX-512F, 16 lanes
)

var levelNames = [...]string{levelGeneric: "generic", levelAVX2: "avx2", levelAVX512: "avx512"}

// maxLevel is the best level this CPU (and build) supports; simdLevel is the
// one in use.
var (
	maxLevel  = detectLevel()
	simdLevel = initialLevel()
)

// initialLevel honours FREESEG_SIMD=generic|avx2|avx512, never going above
// what the CPU supports.
func initialLevel() int {
	want := strings.ToLower(strings.TrimSpace(os.Getenv("FREESEG_SIMD")))
	for l, name := range levelNames {
		if want == name {
			return min(l, maxLevel)
		}
	}
	return maxLevel
}

// SIMD names the instruction set the kernels of this package use:
// "avx512", "avx2" or "generic". Set FREESEG_SIMD to one of these names to
// force a lower level (for tests and benchmarks).
func SIMD() string { return levelNames[simdLevel] }

// setLevel switches to level l (clamped to what the CPU supports) and
// returns the previous level. Not safe while kernels run concurrently; for
// tests and benchmarks.
func setLevel(l int) int {
	old := simdLevel
	simdLevel = max(levelGeneric, min(l, maxLevel))
	return old
}
