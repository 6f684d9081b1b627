//go:build amd64 && !purego

package gemm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// The tile configuration as the AMX documentation lays it out: palette
// byte 0, colsb as uint16 from byte 16, rows from byte 48.
func TestAMXConfig(t *testing.T) {
	c := amxConfig
	if c[0] != 1 || c[1] != 0 {
		t.Fatalf("palette %d start row %d", c[0], c[1])
	}
	for tile := 0; tile < 16; tile++ {
		colsb := int(c[16+2*tile]) | int(c[17+2*tile])<<8
		rows := int(c[48+tile])
		want := 0
		if tile < 8 {
			want = 64
		}
		if colsb != want || (rows == 0) != (want == 0) || (want != 0 && rows != 16) {
			t.Fatalf("tile %d: %d rows × %d bytes", tile, rows, colsb)
		}
	}
}

// TestAMXEpilogue checks the AVX-512 epilogue of the AMX kernel (which
// runs on any AVX-512 CPU) against its definition.
func TestAMXEpilogue(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(31, 32))
	const ldc = 40
	for _, ab := range alphaBetas {
		for flags := 0; flags < 4; flags++ {
			s := randSlice(r, 32*nr)
			c := randSlice(r, 31*ldc+nr)
			bias := randSlice(r, nr)
			want := slices.Clone(c)
			for i := 0; i < 32; i++ {
				for j := 0; j < nr; j++ {
					v := float64(ab[0] * s[i*nr+j])
					if flags&1 != 0 {
						v += float64(ab[1]) * float64(c[i*ldc+j])
					}
					if flags&2 != 0 {
						v += float64(bias[j])
					}
					want[i*ldc+j] = float32(v)
				}
			}
			var bp unsafe.Pointer
			if flags&2 != 0 {
				bp = unsafe.Pointer(&bias[0])
			}
			amxEpilogue(unsafe.Pointer(&c[0]), ldc*4, unsafe.Pointer(&s[0]), ab[0], ab[1], flags, bp)
			for i := range c {
				if d := math.Abs(float64(c[i] - want[i])); d > 1e-6*math.Max(1, math.Abs(float64(want[i]))) {
					t.Fatalf("alpha %g beta %g flags %d: element %d = %g, want %g", ab[0], ab[1], flags, i, c[i], want[i])
				}
			}
		}
	}
}

// TestMicroAMXEdges: tiles the AMX kernel does not take (short rows or
// columns, k not a multiple of 16 pairs) run on the avx512bf16 kernel and
// give its results bitwise.
func TestMicroAMXEdges(t *testing.T) {
	if bf16Native == nil {
		t.Skip("no AVX512-BF16")
	}
	r := rand.New(rand.NewPCG(33, 34))
	for _, s := range [][3]int{{20, 32, 32}, {32, 17, 32}, {32, 32, 24}, {5, 3, 7}} {
		mr, n, kc := s[0], s[1], s[2]
		a := make([]float32, mr*kc)
		b := make([]float32, kc*nr)
		for i := range a {
			a[i] = math.Float32frombits(uint32(ToBF16(r.Float32()-0.5)) | uint32(ToBF16(r.Float32()-0.5))<<16)
		}
		for i := range b {
			b[i] = math.Float32frombits(uint32(ToBF16(r.Float32()-0.5)) | uint32(ToBF16(r.Float32()-0.5))<<16)
		}
		got, want := make([]float32, mr*n), make([]float32, mr*n)
		microAMX(mr, n, a, 0, kc, 1, b, 0, kc, got, 0, n, 1, 0, false, nil, -1)
		for i := 0; i < mr; i += mr512 {
			microBF16(min(mr512, mr-i), n, a, i*kc, kc, 1, b, 0, kc, want, i*n, n, 1, 0, false, nil, -1)
		}
		if !slices.Equal(math32bits(got), math32bits(want)) {
			t.Fatalf("shape %v: AMX edge path differs from avx512bf16", s)
		}
	}
}
