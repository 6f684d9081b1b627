package gemm

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
)

// forEachKernel runs f once per kernel this CPU supports, with that kernel
// forced.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, k := range kernels {
		t.Run(k.name, func(t *testing.T) {
			defer useKernel(k.name)()
			f(t)
		})
	}
}

func TestKernelName(t *testing.T) {
	names := kernelNames()
	if !slices.Contains(names, Kernel()) {
		t.Fatalf("Kernel() = %q, not among %v", Kernel(), names)
	}
	if env := os.Getenv("FREESEG_GEMM"); env != "" && slices.Contains(names, env) && Kernel() != env {
		t.Fatalf("FREESEG_GEMM=%s but Kernel() = %s", env, Kernel())
	}
	t.Logf("kernel %s, available %v", Kernel(), names)
}

// problem is one randomly shaped product with padded strides; elements of C
// outside the m×n matrix hold a sentinel that must survive.
type problem struct {
	tA, tB        bool
	m, n, k       int
	alpha, beta   float32
	a, b, c       []float32
	lda, ldb, ldc int
}

const sentinel = float32(-12345.5)

func newProblem(r *rand.Rand, tA, tB bool, m, n, k, pad int, alpha, beta float32) *problem {
	p := &problem{tA: tA, tB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = ac+r.IntN(pad+1), bc+r.IntN(pad+1), n+r.IntN(pad+1)
	p.a = randSlice(r, max(0, (ar-1)*p.lda+ac))
	p.b = randSlice(r, max(0, (br-1)*p.ldb+bc))
	p.c = make([]float32, max(0, (m-1)*p.ldc+n))
	for i := range p.c {
		p.c[i] = sentinel
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			v := r.Float32()*2 - 1
			if beta == 0 && r.IntN(4) == 0 {
				v = float32(math.NaN())
			}
			p.c[i*p.ldc+j] = v
		}
	}
	return p
}

// check compares got with the float64 reference, with a tolerance relative
// to the magnitudes summed, and checks the padding of C is untouched.
func (p *problem) check(t *testing.T, what string, got []float32, bias []float32) {
	t.Helper()
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.n; j++ {
			var s, mag float64
			for q := 0; q < p.k; q++ {
				var av, bv float32
				if p.tA {
					av = p.a[q*p.lda+i]
				} else {
					av = p.a[i*p.lda+q]
				}
				if p.tB {
					bv = p.b[j*p.ldb+q]
				} else {
					bv = p.b[q*p.ldb+j]
				}
				s += float64(av) * float64(bv)
				mag += math.Abs(float64(av) * float64(bv))
			}
			want := float64(p.alpha) * s
			mag = math.Abs(float64(p.alpha)) * mag
			if p.beta != 0 {
				old := float64(p.beta) * float64(p.c[i*p.ldc+j])
				want += old
				mag += math.Abs(old)
			}
			if bias != nil {
				want += float64(bias[j])
				mag += math.Abs(float64(bias[j]))
			}
			g := float64(got[i*p.ldc+j])
			if tol := 1e-5 * float64(p.k+1) * math.Max(mag, 1); !(math.Abs(g-want) <= tol) {
				t.Fatalf("%s: C[%d,%d] = %g, want %g (|d|=%g > %g)", what, i, j, g, want, math.Abs(g-want), tol)
			}
		}
		if i < p.m-1 {
			for j := p.n; j < p.ldc; j++ {
				if got[i*p.ldc+j] != sentinel {
					t.Fatalf("%s: padding C[%d,%d] overwritten with %g", what, i, j, got[i*p.ldc+j])
				}
			}
		}
	}
}

func (p *problem) run(serial bool) []float32 {
	got := slices.Clone(p.c)
	if serial {
		SgemmSerial(p.tA, p.tB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	} else {
		Sgemm(p.tA, p.tB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	}
	return got
}

var oddSizes = []int{1, 2, 3, 5, 7, 11, 13, 14, 15, 16, 17, 19, 23, 28, 29, 31, 32, 33, 37, 41, 47, 53, 61, 63, 64, 65, 71, 79, 89, 97, 101, 113, 127, 128, 131, 139, 149, 150}

func pick(r *rand.Rand) int { return oddSizes[r.IntN(len(oddSizes))] }

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {0.5, 1}, {-2, 0.25}, {1.5, -1}, {0, 0.5}, {0.3, 0}}

// TestSgemmRandomShapes compares every kernel with the float64 reference on
// many odd shapes, strides, transpositions and scalars.
func TestSgemmRandomShapes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		n := 300
		if testing.Short() {
			n = 60
		}
		for it := 0; it < n; it++ {
			ab := alphaBetas[r.IntN(len(alphaBetas))]
			p := newProblem(r, r.IntN(2) == 0, r.IntN(2) == 0, pick(r), pick(r), pick(r), 5, ab[0], ab[1])
			what := fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d alpha=%g beta=%g", p.tA, p.tB, p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.alpha, p.beta)
			p.check(t, what, p.run(it%3 == 0), nil)
		}
	})
}

// TestSgemmLargeK covers several k blocks (k > kcMax) and row blocks (m >
// mcRows), against the generic kernel.
func TestSgemmLargeK(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, s := range [][3]int{{401, 70, 600}, {30, 33, 1000}, {15, 300, 257}, {700, 40, 800}} {
		p := newProblem(r, false, true, s[0], s[1], s[2], 3, 0.75, 0.5)
		restore := useKernel("generic")
		want := p.run(false)
		restore()
		forEachKernel(t, func(t *testing.T) {
			got := p.run(false)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); !(d <= 1e-5*float64(p.k+1)*math.Max(1, math.Abs(float64(want[i])))) {
					t.Fatalf("shape %v element %d: %g, generic %g", s, i, got[i], want[i])
				}
			}
		})
	}
}

// TestSgemmPackedRandomShapes covers SgemmPacked with strides, bias and
// both layouts of B.
func TestSgemmPackedRandomShapes(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for it := 0; it < 100; it++ {
			ab := alphaBetas[r.IntN(len(alphaBetas))]
			p := newProblem(r, false, r.IntN(2) == 0, pick(r), pick(r), pick(r), 4, ab[0], ab[1])
			var bias []float32
			if r.IntN(2) == 0 {
				bias = randSlice(r, p.n)
			}
			pb := PackB(p.tB, p.k, p.n, p.b, p.ldb)
			if pb.K() != p.k || pb.N() != p.n {
				t.Fatalf("PackedB is %dx%d, want %dx%d", pb.K(), pb.N(), p.k, p.n)
			}
			got := slices.Clone(p.c)
			SgemmPacked(p.m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc, bias)
			p.check(t, fmt.Sprintf("packed tB=%v m=%d n=%d k=%d lda=%d ldc=%d alpha=%g beta=%g bias=%v", p.tB, p.m, p.n, p.k, p.lda, p.ldc, p.alpha, p.beta, bias != nil), got, bias)
		}
	})
}

func TestSgemmZeroK(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		c := []float32{1, 2, 3, 4}
		Sgemm(false, false, 2, 2, 0, 1, nil, 0, nil, 2, 0.5, c, 2)
		if !slices.Equal(c, []float32{0.5, 1, 1.5, 2}) {
			t.Fatalf("k=0, beta=0.5: got %v", c)
		}
		pb := PackB(true, 0, 2, nil, 0)
		SgemmPacked(2, 1, nil, 0, pb, 0, c, 2, []float32{7, 8})
		if !slices.Equal(c, []float32{7, 8, 7, 8}) {
			t.Fatalf("k=0 packed with bias: got %v", c)
		}
	})
}

// TestDeterministicAllKernels checks bitwise equality between 1 and several
// threads for Sgemm (all transpositions) and SgemmPacked, on shapes whose
// partition changes with the thread count.
func TestDeterministicAllKernels(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for _, s := range [][3]int{{197, 197, 64}, {197, 64, 197}, {150, 300, 520}, {29, 700, 33}} {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				p := newProblem(r, tr[0], tr[1], s[0], s[1], s[2], 2, 1.25, 0.5)
				var pb *PackedB
				if !tr[0] {
					pb = PackB(tr[1], p.k, p.n, p.b, p.ldb)
				}
				var ref, refP []float32
				for _, th := range []int{1, 2, 3, 4, 7} {
					old := SetThreads(th)
					got := p.run(false)
					var gotP []float32
					if pb != nil {
						gotP = slices.Clone(p.c)
						SgemmPacked(p.m, p.alpha, p.a, p.lda, pb, p.beta, gotP, p.ldc, p.b[:p.n])
					}
					SetThreads(old)
					if th == 1 {
						ref, refP = got, gotP
						continue
					}
					if !slices.Equal(math32bits(ref), math32bits(got)) || !slices.Equal(math32bits(refP), math32bits(gotP)) {
						t.Fatalf("shape %v trans %v: %d threads differ from 1", s, tr, th)
					}
				}
			}
		}
	})
}

func math32bits(s []float32) []uint32 {
	u := make([]uint32, len(s))
	for i, v := range s {
		u[i] = math.Float32bits(v)
	}
	return u
}

// TestNoSteadyStateAllocs: after warm-up, products allocate no buffers. (A
// job struct may still be allocated now and then, when a helper goroutine
// was scheduled so late that it has not yet handed back the previous job.)
func TestNoSteadyStateAllocs(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(15, 16))
		m, n, k := 197, 256, 128
		a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		pb := PackB(false, k, n, b, n)
		old := SetThreads(2)
		defer SetThreads(old)
		packed := bytesPerCall(func() { SgemmPacked(m, 1, a, k, pb, 0, c, n, nil) })
		plain := bytesPerCall(func() { Sgemm(false, true, m, m, 64, 1, a, k, a, k, 0, c, n) })
		if Kernel() == "generic" {
			t.Logf("generic: SgemmPacked %.0f bytes, Sgemm %.0f bytes allocated per call", packed, plain)
			return
		}
		if packed > 256 || plain > 256 {
			t.Fatalf("bytes allocated per call: SgemmPacked %.0f, Sgemm %.0f", packed, plain)
		}
	})
}

// bytesPerCall is testing.AllocsPerRun without its switch to GOMAXPROCS=1,
// under which a helper goroutine runs only after the call returned, so that
// its job is not yet back on the free list for the next call.
func bytesPerCall(f func()) float64 {
	const runs = 50
	for range 20 { // let the free lists fill up
		f()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / runs
}

func TestBadTilePanics(t *testing.T) {
	for _, k := range kernels {
		if !k.fast {
			continue
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: out-of-range tile did not panic", k.name)
				}
			}()
			a, b, c := make([]float32, 10), make([]float32, 64), make([]float32, 4)
			k.micro(2, 4, a, 0, 5, 1, b, 0, 2, c, 0, 4, 1, 0, false, nil, 0) // c too short for 2 rows
		}()
	}
}

// FuzzSgemm derives a product from the fuzz input and checks every kernel
// against the float64 reference.
func FuzzSgemm(f *testing.F) {
	f.Add([]byte{3, 5, 7, 0, 1, 2, 3, 42})
	f.Add([]byte{14, 32, 64, 3, 0, 0, 1, 7})
	f.Add([]byte{197 % 64, 33, 1, 1, 5, 5, 5, 9})
	f.Add([]byte{15, 17, 130, 2, 2, 0, 6, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 8 {
			return
		}
		m, n, k := int(in[0]%64)+1, int(in[1]%80)+1, int(in[2])%300
		tA, tB := in[3]&1 != 0, in[3]&2 != 0
		ab := alphaBetas[int(in[6])%len(alphaBetas)]
		r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(append(slices.Clone(in), make([]byte, 8)...)[0:8]), uint64(len(in))))
		p := newProblem(r, tA, tB, m, n, k, int(in[4]%9), ab[0], ab[1])
		th := int(in[5]%4) + 1
		old := SetThreads(th)
		defer SetThreads(old)
		for _, kern := range kernels {
			restore := useKernel(kern.name)
			got := p.run(in[7]&1 != 0)
			if !tA {
				pb := PackB(tB, k, n, p.b, p.ldb)
				gotP := slices.Clone(p.c)
				SgemmPacked(m, p.alpha, p.a, p.lda, pb, p.beta, gotP, p.ldc, nil)
				p.check(t, kern.name+" packed", gotP, nil)
			}
			restore()
			p.check(t, fmt.Sprintf("%s tA=%v tB=%v m=%d n=%d k=%d threads=%d", kern.name, tA, tB, m, n, k, th), got, nil)
		}
	})
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

// TestConcurrentCallers runs many products at once from several goroutines
// (sharing the helper goroutines) and checks each against a serial run.
func TestConcurrentCallers(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		old := SetThreads(3)
		defer SetThreads(old)
		r := rand.New(rand.NewPCG(17, 18))
		const callers = 8
		probs := make([]*problem, callers)
		pbs := make([]*PackedB, callers)
		want := make([][]float32, callers)
		wantP := make([][]float32, callers)
		for i := range probs {
			p := newProblem(r, false, i%2 == 0, 40+13*i, 70+9*i, 50+11*i, 3, 1, 0.5)
			probs[i], pbs[i] = p, PackB(p.tB, p.k, p.n, p.b, p.ldb)
			want[i] = p.run(true)
			SetThreads(1)
			wantP[i] = slices.Clone(p.c)
			SgemmPacked(p.m, p.alpha, p.a, p.lda, pbs[i], p.beta, wantP[i], p.ldc, nil)
			SetThreads(3)
		}
		errs := make(chan string, callers)
		for i := range probs {
			go func() {
				p := probs[i]
				for it := 0; it < 20; it++ {
					got := p.run(false)
					if !slices.Equal(math32bits(got), math32bits(want[i])) {
						errs <- fmt.Sprintf("caller %d, iteration %d: Sgemm differs from SgemmSerial", i, it)
						return
					}
					gotP := slices.Clone(p.c)
					SgemmPacked(p.m, p.alpha, p.a, p.lda, pbs[i], p.beta, gotP, p.ldc, nil)
					if !slices.Equal(math32bits(gotP), math32bits(wantP[i])) {
						errs <- fmt.Sprintf("caller %d, iteration %d: SgemmPacked differs from its 1-thread result", i, it)
						return
					}
				}
				errs <- ""
			}()
		}
		for range callers {
			if e := <-errs; e != "" {
				t.Fatal(e)
			}
		}
	})
}
