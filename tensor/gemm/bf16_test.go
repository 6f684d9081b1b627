package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestToBF16 checks the rounding on hand-computed cases: ties to even,
// carries into the exponent, denormals flushed, NaN kept, overflow to Inf.
func TestToBF16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // 1 + 2⁻⁸: tie, down to even
		{0x3f818000, 0x3f82}, // 1 + 3·2⁻⁸: tie, up to even
		{0x3f808001, 0x3f81}, // just above the tie
		{0x3f807fff, 0x3f80}, // just below
		{0xbf80c000, 0xbf81}, // -(1 + 1.5·2⁻⁷): nearest
		{0x3fffffff, 0x4000}, // carry into the exponent
		{0x00000001, 0x0000}, // smallest denormal → +0
		{0x807fffff, 0x8000}, // largest negative denormal → -0
		{0x00800000, 0x0080}, // smallest normal stays
		{0x7f7fffff, 0x7f80}, // largest float rounds to +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7fc00001, 0x7fc0}, // NaN stays NaN
		{0x7f800001, 0x7fc0}, // signalling NaN becomes quiet
	}
	for _, c := range cases {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if FromBF16(0x3f80) != 1 || FromBF16(0xc040) != -3 {
		t.Errorf("FromBF16: 0x3f80 → %g, 0xc040 → %g", FromBF16(0x3f80), FromBF16(0xc040))
	}
}

// TestRowToBF16 compares the vector conversion (VCVTNEPS2BF16 where the
// CPU has it) with ToBF16 on random values, ties, denormals and specials,
// odd lengths included.
func TestRowToBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	specials := []uint32{0x3f808000, 0x3f818000, 0x00000001, 0x807fffff, 0x7f7fffff, 0x7fc00001, 0xff800000, 0, 0x80000000}
	for _, n := range []int{1, 2, 15, 16, 17, 63, 64, 65, 130, 768} {
		src := make([]float32, n)
		for i := range src {
			if r.IntN(4) == 0 {
				src[i] = math.Float32frombits(specials[r.IntN(len(specials))])
			} else {
				src[i] = math.Float32frombits(r.Uint32())
			}
		}
		dst := make([]float32, (n+1)/2)
		for i := range dst {
			dst[i] = math.Float32frombits(0xdeadbeef)
		}
		rowToBF16(dst, src)
		for i := 0; i < 2*len(dst); i++ {
			w := math.Float32bits(dst[i/2])
			h := uint16(w >> (16 * (i % 2)))
			want := uint16(0)
			if i < n {
				want = ToBF16(src[i])
			}
			if h != want {
				t.Fatalf("n=%d: element %d (%#08x) → %#04x, want %#04x", n, i, math.Float32bits(src[i]), h, want)
			}
		}
	}
}

// bf16Modes runs f with the native kernel (when the CPU has one) and with
// the emulated path.
func bf16Modes(t *testing.T, f func(t *testing.T)) {
	t.Run("emulated", func(t *testing.T) {
		defer useBF16Native(false)()
		f(t)
	})
	if bf16Native != nil {
		t.Run("avx512bf16", func(t *testing.T) {
			defer useBF16Native(true)()
			f(t)
		})
	}
	if k := amxKernel(); k != nil { // AMX machines only
		t.Run("amxbf16", func(t *testing.T) {
			defer useBF16Native(true)()
			old := bf16AMX
			bf16AMX = k
			defer func() { bf16AMX = old }()
			f(t)
		})
	}
}

// bf16Problem is p with A and B rounded to bf16: the product the bf16 path
// must compute (float32 accumulation of exact bf16 products).
func bf16Problem(p *problem) *problem {
	q := *p
	q.a, q.b = slices.Clone(p.a), slices.Clone(p.b)
	RoundBF16(q.a)
	RoundBF16(q.b)
	return &q
}

// TestSgemmPackedBF16 checks bf16 products on random odd shapes (odd k,
// several k blocks, bias, alpha, beta, 1 and 2 threads) against the float64
// product of the bf16-rounded operands, for every fp32 kernel under the
// emulated path.
func TestSgemmPackedBF16(t *testing.T) {
	bf16Modes(t, func(t *testing.T) {
		forEachKernel(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(23, 24))
			n := 60
			if testing.Short() {
				n = 20
			}
			shapes := [][3]int{{197, 100, 768}, {30, 40, 1601}, {15, 33, 1}, {1, 1, 2}}
			for it := 0; it < n+len(shapes); it++ {
				ab := alphaBetas[r.IntN(len(alphaBetas))]
				m, nn, k := pick(r), pick(r), pick(r)
				if it >= n {
					m, nn, k = shapes[it-n][0], shapes[it-n][1], shapes[it-n][2]
				}
				p := newProblem(r, false, r.IntN(2) == 0, m, nn, k, 4, ab[0], ab[1])
				var bias []float32
				if r.IntN(2) == 0 {
					bias = randSlice(r, p.n)
				}
				pb := PackB(p.tB, p.k, p.n, p.b, p.ldb).BF16()
				if !pb.IsBF16() || pb.K() != p.k || pb.N() != p.n {
					t.Fatalf("BF16(): bf16=%v %dx%d, want %dx%d", pb.IsBF16(), pb.K(), pb.N(), p.k, p.n)
				}
				got := slices.Clone(p.c)
				old := SetThreads(1 + it%2)
				SgemmPacked(p.m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc, bias)
				SetThreads(old)
				bf16Problem(p).check(t, fmt.Sprintf("bf16 %s tB=%v m=%d n=%d k=%d lda=%d ldc=%d alpha=%g beta=%g bias=%v", BF16Kernel(), p.tB, p.m, p.n, p.k, p.lda, p.ldc, p.alpha, p.beta, bias != nil), got, bias)
			}
		})
	})
}

// TestBF16Memory: the bf16 copy holds half the bytes of the fp32 one.
func TestBF16Memory(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	pb := PackB(true, 768, 96, randSlice(r, 768*96), 768)
	if h, f := pb.BF16().Bytes(), pb.Bytes(); 2*h != f {
		t.Fatalf("bf16 weights take %d bytes, fp32 %d: want half", h, f)
	}
}

// TestBF16DeterministicAcrossThreads: like fp32, bf16 results do not
// depend on the thread count.
func TestBF16DeterministicAcrossThreads(t *testing.T) {
	bf16Modes(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(27, 28))
		p := newProblem(r, false, true, 150, 300, 1030, 2, 1.25, 0.5)
		pb := PackB(true, p.k, p.n, p.b, p.ldb).BF16()
		var ref []float32
		for _, th := range []int{1, 2, 3} {
			old := SetThreads(th)
			got := slices.Clone(p.c)
			SgemmPacked(p.m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc, nil)
			SetThreads(old)
			if ref == nil {
				ref = got
			} else if !slices.Equal(math32bits(ref), math32bits(got)) {
				t.Fatalf("%d threads differ from 1", th)
			}
		}
	})
}

// TestRoundRowAndExpand compares the AVX-512F rounding and expansion of the
// emulated path with ToBF16 and the definition of the pair layout.
func TestRoundRowAndExpand(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	specials := []uint32{0x3f808000, 0x3f818000, 0x3f808001, 0x00000001, 0x807fffff, 0x7f7fffff, 0x7fc00001, 0x7f800001, 0xff800000, 0, 0x80000000, 0x3fffffff}
	for _, n := range []int{1, 15, 16, 17, 48, 100, 768} {
		src := make([]float32, n)
		for i := range src {
			if r.IntN(3) == 0 {
				src[i] = math.Float32frombits(specials[r.IntN(len(specials))])
			} else {
				src[i] = math.Float32frombits(r.Uint32())
			}
		}
		dst := make([]float32, n)
		for p := roundRow(dst, src); p < n; p++ {
			dst[p] = FromBF16(ToBF16(src[p]))
		}
		for i := range src {
			if got, want := math.Float32bits(dst[i]), uint32(ToBF16(src[i]))<<16; got != want {
				t.Fatalf("n=%d: round %#08x → %#08x, want %#08x", n, math.Float32bits(src[i]), got, want)
			}
		}
	}
	for _, rows := range []int{1, 2, 7, 384} {
		src := make([]uint32, rows*nr)
		for i := range src {
			src[i] = r.Uint32()
		}
		dst := make([]float32, 2*rows*nr)
		expandPairs(dst, src)
		for q := 0; q < rows; q++ {
			for c := 0; c < nr; c++ {
				w := src[q*nr+c]
				if lo, hi := math.Float32bits(dst[2*q*nr+c]), math.Float32bits(dst[(2*q+1)*nr+c]); lo != w<<16 || hi != w&0xffff0000 {
					t.Fatalf("rows=%d: pair (%d,%d) = %#08x → %#08x, %#08x", rows, q, c, w, lo, hi)
				}
			}
		}
	}
}
