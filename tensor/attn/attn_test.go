package attn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forEachLevel runs f once per kernel level this machine supports.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	for l := levelUnfused; l <= maxLevel; l++ {
		t.Run(levelNames[l], func(t *testing.T) {
			defer setLevel(setLevel(l))
			f(t)
		})
	}
}

// problem is one attention call with its inputs.
type problem struct {
	nq, nk, hd         int
	ldo, ldx, ldy, ldv int
	scale              float32
	x, y, v, out       []float32
	o                  Options
}

func randSlice(r *rand.Rand, n int, s float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * s)
	}
	return x
}

// newProblem draws inputs with padded strides (so that strided access is
// exercised) and logits of about ±logit.
func newProblem(r *rand.Rand, nq, nk, hd int, logit float64, bias, causal, accumulate bool, offset int) *problem {
	p := &problem{nq: nq, nk: nk, hd: hd, ldo: hd + r.IntN(3), ldx: hd + r.IntN(5), ldy: hd + r.IntN(5), ldv: hd + r.IntN(5)}
	p.scale = float32(1 / math.Sqrt(float64(hd)))
	sx := math.Sqrt(logit)
	p.x = randSlice(r, (nq-1)*p.ldx+hd, sx)
	p.y = randSlice(r, (nk-1)*p.ldy+hd, sx)
	p.v = randSlice(r, (nk-1)*p.ldv+hd, 1)
	p.out = randSlice(r, (nq-1)*p.ldo+hd, 1)
	p.o = Options{Causal: causal, Offset: offset, Accumulate: accumulate}
	if bias {
		p.o.LDB = nk + r.IntN(3)
		p.o.Bias = randSlice(r, (nq-1)*p.o.LDB+nk, 1)
	}
	return p
}

// reference computes the attention in float64 from the float32 inputs:
// the logits, a softmax with the row maximum subtracted, the product.
// It also returns, per query, the error bound of a float32 dot product
// of the logits (hd·2⁻²⁴·scale·Σ|x·y|, its largest over the keys).
func (p *problem) reference() (out []float64, cond []float64) {
	out = make([]float64, p.nq*p.hd)
	cond = make([]float64, p.nq)
	s := make([]float64, p.nk)
	for i := 0; i < p.nq; i++ {
		mx := math.Inf(-1)
		for j := 0; j < p.nk; j++ {
			var d, a float64
			for c := 0; c < p.hd; c++ {
				xy := float64(p.x[i*p.ldx+c]) * float64(p.y[j*p.ldy+c])
				d += xy
				a += math.Abs(xy)
			}
			s[j] = float64(p.scale) * d
			cond[i] = max(cond[i], float64(p.hd)*0x1p-24*float64(p.scale)*a)
			if p.o.Bias != nil {
				s[j] += float64(p.o.Bias[i*p.o.LDB+j])
			}
			if p.o.Causal && j > i+p.o.Offset {
				s[j] = math.Inf(-1)
			}
			if s[j] > mx || math.IsNaN(s[j]) {
				mx = s[j]
			}
		}
		var sum float64
		for j := range s {
			s[j] = math.Exp(s[j] - mx)
			sum += s[j]
		}
		for j := range s {
			w := s[j] / sum
			for c := 0; c < p.hd; c++ {
				out[i*p.hd+c] += w * float64(p.v[j*p.ldv+c])
			}
		}
		if p.o.Accumulate {
			for c := 0; c < p.hd; c++ {
				out[i*p.hd+c] += float64(p.out[i*p.ldo+c])
			}
		}
	}
	return out, cond
}

func (p *problem) run() []float32 {
	got := append([]float32(nil), p.out...)
	Attend(got, p.ldo, p.x, p.ldx, p.y, p.ldy, p.v, p.ldv, p.nq, p.nk, p.hd, p.scale, p.o)
	return got
}

// compare checks got against the reference: the largest error of a row,
// relative to the largest |output| of the problem, must be within tol
// plus the row's logit error bound. NaN must match NaN. It returns the
// largest relative error seen.
func (p *problem) compare(t testing.TB, got []float32, tol float64) float64 {
	t.Helper()
	want, cond := p.reference()
	var mag float64
	for _, w := range want {
		if !math.IsNaN(w) {
			mag = max(mag, math.Abs(w))
		}
	}
	mag = max(mag, 1e-30)
	var worst float64
	for i := 0; i < p.nq; i++ {
		for c := 0; c < p.hd; c++ {
			g, w := float64(got[i*p.ldo+c]), want[i*p.hd+c]
			if math.IsNaN(w) || math.IsNaN(g) {
				if math.IsNaN(w) != math.IsNaN(g) {
					t.Fatalf("%s: out[%d,%d] = %g, want %g", p, i, c, g, w)
				}
				continue
			}
			e := math.Abs(g-w) / mag
			worst = max(worst, e)
			if e > tol+2*cond[i] {
				t.Fatalf("%s: out[%d,%d] = %g, want %g (error %.3g of the output magnitude %.3g, allowed %.3g)", p, i, c, g, w, e, mag, tol+2*cond[i])
			}
		}
		// Padding between rows is untouched.
		for c := p.hd; c < p.ldo && i < p.nq-1; c++ {
			if got[i*p.ldo+c] != p.out[i*p.ldo+c] {
				t.Fatalf("%s: padding out[%d,%d] written", p, i, c)
			}
		}
	}
	return worst
}

func (p *problem) String() string {
	return fmt.Sprintf("nq=%d nk=%d hd=%d bias=%v causal=%v offset=%d accumulate=%v", p.nq, p.nk, p.hd, p.o.Bias != nil, p.o.Causal, p.o.Offset, p.o.Accumulate)
}

const tol = 2e-6

func TestHeadRandom(t *testing.T) {
	sizes := []int{1, 2, 13, 14, 15, 31, 32, 33, 64, 113, 197, 200, 785}
	if testing.Short() {
		sizes = sizes[:len(sizes)-1]
	}
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 1))
		var worst float64
		for _, n := range sizes {
			for _, hd := range []int{64, 7, 16, 80, 128} {
				if n == 785 && hd != 64 {
					continue
				}
				for flags := 0; flags < 8; flags++ {
					bias, causal, acc := flags&1 != 0, flags&2 != 0, flags&4 != 0
					p := newProblem(r, n, n, hd, 1, bias, causal, acc, 0)
					worst = max(worst, p.compare(t, p.run(), tol))
				}
			}
		}
		t.Logf("largest error %.3g of the output magnitude", worst)
	})
}

// TestHeadAPI checks Head against Attend with n×n options.
func TestHeadAPI(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	p := newProblem(r, 50, 50, 64, 1, true, true, true, 0)
	got := append([]float32(nil), p.out...)
	Head(got, p.ldo, p.x, p.ldx, p.y, p.ldy, p.v, p.ldv, p.nq, p.hd, p.scale, nil, true, true)
	p.o.Bias = nil
	p.compare(t, got, tol)
	p.o.LDB = p.nk
	p.o.Bias = randSlice(r, p.nq*p.nk, 1)
	got = append(got[:0], p.out...)
	Head(got, p.ldo, p.x, p.ldx, p.y, p.ldy, p.v, p.ldv, p.nq, p.hd, p.scale, p.o.Bias, true, true)
	p.compare(t, got, tol)
}

// TestAttendRect covers queries over more keys (prefix caches: causal with
// an offset) and fewer keys.
func TestAttendRect(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 1))
		for _, s := range [][2]int{{1, 1}, {1, 77}, {5, 12}, {20, 77}, {33, 40}, {70, 200}, {200, 70}, {40, 300}} {
			nq, nk := s[0], s[1]
			for flags := 0; flags < 8; flags++ {
				bias, causal, acc := flags&1 != 0, flags&2 != 0, flags&4 != 0
				off := 0
				if causal {
					off = max(0, nk-nq)
				}
				p := newProblem(r, nq, nk, 64, 1, bias, causal, acc, off)
				p.compare(t, p.run(), tol)
				if causal && nk > nq {
					// An offset that leaves later keys unseen.
					p = newProblem(r, nq, nk, 64, 1, bias, causal, acc, (nk-nq)/2)
					p.compare(t, p.run(), tol)
				}
			}
		}
	})
}

// TestKeyBlocks runs several key block sizes, so that the rescaling
// between blocks is exercised at all the shapes.
func TestKeyBlocks(t *testing.T) {
	defer func(k int) { kBlock = k }(kBlock)
	for _, kb := range []int{14, 28, 56, 112, 224} {
		kBlock = kb
		forEachLevel(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(4, uint64(kb)))
			for _, n := range []int{13, 15, 100, 250} {
				for flags := 0; flags < 4; flags++ {
					p := newProblem(r, n, n, 64, 4, flags&1 != 0, flags&2 != 0, false, 0)
					p.compare(t, p.run(), tol)
				}
			}
		})
	}
}

// TestSharp uses large logits (about ±80 and beyond) in increasing and
// decreasing key order, so that the running maximum changes by large steps
// and the rescale factors underflow to zero. The logits themselves are
// float32 dot products, good to about hd·2⁻²⁴·Σ|x·y|, which bounds what
// any float32 implementation can match; the tolerance adds that bound.
func TestSharp(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 1))
		for _, n := range []int{20, 197, 300} {
			for _, logit := range []float64{80, 400} {
				p := newProblem(r, n, n, 64, logit, false, false, false, 0)
				p.compare(t, p.run(), tol)
				// Keys sorted by logit with query 0 along one direction.
				for sign := -1.0; sign <= 1; sign += 2 {
					p := newProblem(r, n, n, 64, 1, true, false, false, 0)
					for i := 0; i < n; i++ {
						for j := 0; j < n; j++ {
							p.o.Bias[i*p.o.LDB+j] = float32(sign * logit * float64(j-n/2) / float64(n))
						}
					}
					p.compare(t, p.run(), tol)
				}
			}
		}
	})
}

// TestMasked puts -Inf in the bias: scattered, whole key blocks, and whole
// rows (which give NaN, as the softmax of all -Inf does); and NaN inputs.
func TestMasked(t *testing.T) {
	ninf := float32(math.Inf(-1))
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(6, 1))
		for _, n := range []int{5, 40, 200, 260} {
			for _, causal := range []bool{false, true} {
				p := newProblem(r, n, n, 64, 1, true, causal, false, 0)
				b := p.o.Bias
				for i := 0; i < n; i++ {
					row := b[i*p.o.LDB : i*p.o.LDB+n]
					switch i % 5 {
					case 0: // scattered
						for j := range row {
							if r.IntN(3) == 0 {
								row[j] = ninf
							}
						}
					case 1: // all but the last key
						for j := 0; j < n-1; j++ {
							row[j] = ninf
						}
					case 2: // the first 150 keys (more than a block)
						for j := 0; j < min(n-1, 150); j++ {
							row[j] = ninf
						}
					case 3: // everything: NaN row
						for j := range row {
							row[j] = ninf
						}
					}
				}
				got := p.run()
				p.compare(t, got, tol)
				if !causal {
					// Row 3 is all -Inf: NaN.
					if n > 3 && !math.IsNaN(float64(got[3*p.ldo])) {
						t.Fatalf("n=%d: fully masked row gave %g, want NaN", n, got[3*p.ldo])
					}
				}
			}
			// NaN in one query, one key's logit, and one value.
			p := newProblem(r, n, n, 64, 1, false, false, false, 0)
			p.x[min(2, n-1)*p.ldx+3] = float32(math.NaN())
			p.compare(t, p.run(), tol)
			p = newProblem(r, n, n, 64, 1, false, false, false, 0)
			p.v[(n/2)*p.ldv+5] = float32(math.NaN())
			p.compare(t, p.run(), tol)
			p = newProblem(r, n, n, 64, 1, false, false, false, 0)
			p.y[(n/2)*p.ldy] = float32(math.Inf(1))
			p.compare(t, p.run(), tol)
		}
	})
}

// TestSumOfTwo checks that two accumulating calls give the sum of two
// softmax matrices times v (SCLIP's qq+kk).
func TestSumOfTwo(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 1))
		n, hd := 197, 64
		p1 := newProblem(r, n, n, hd, 1, false, false, false, 0)
		p2 := newProblem(r, n, n, hd, 1, false, false, true, 0)
		p2.ldv, p2.v, p2.ldo = p1.ldv, p1.v, p1.ldo
		got := p1.run()
		p2.out = got
		got = p2.run()
		w1, _ := p1.reference()
		p2.out = make([]float32, len(got))
		w2, _ := p2.reference()
		for i := 0; i < n; i++ {
			for c := 0; c < hd; c++ {
				w := w1[i*hd+c] + w2[i*hd+c]
				if e := math.Abs(float64(got[i*p1.ldo+c]) - w); !(e <= 4*tol) { // NaN fails too
					t.Fatalf("out[%d,%d] = %g, want %g", i, c, got[i*p1.ldo+c], w)
				}
			}
		}
	})
}

// TestAllocs checks that the fused kernel does not allocate once its
// workspace exists. (The unfused path allocates what tensor/gemm does.)
func TestAllocs(t *testing.T) {
	if level != levelAVX512 {
		t.Skip("no fused kernel here")
	}
	r := rand.New(rand.NewPCG(8, 1))
	p := newProblem(r, 197, 197, 64, 1, true, false, false, 0)
	p.run()
	if a := testing.AllocsPerRun(20, func() { p.run() }); a > 1 { // the copy in run
		t.Errorf("%v allocations per call", a-1)
	}
}

func TestBadArgs(t *testing.T) {
	x := make([]float32, 64*10)
	for _, f := range []func(){
		func() { Head(x, 64, x, 64, x, 64, x, 64, 11, 64, 1, nil, false, false) },
		func() { Head(x, 63, x, 64, x, 64, x, 64, 2, 64, 1, nil, false, false) },
		func() { Head(x, 64, x, 64, x, 64, x, 64, 10, 64, 1, x[:99], false, false) },
		func() { Attend(x, 64, x, 64, x, 64, x, 64, 5, 11, 64, 1, Options{}) },
		func() { Attend(x, 64, x, 64, x, 64, x, 64, 5, 0, 64, 1, Options{}) },
		func() { Attend(x, 64, x, 64, x, 64, x, 64, 5, 5, 0, 1, Options{}) },
		func() { Attend(x, 64, x, 64, x, 64, x, 64, 5, 5, 64, 1, Options{Offset: 1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
	Attend(nil, 0, nil, 0, nil, 0, nil, 0, 0, 0, 64, 1, Options{}) // nothing to do
}

func FuzzAttend(f *testing.F) {
	f.Add(uint16(5), uint16(5), uint8(64), uint8(0), uint64(1))
	f.Add(uint16(197), uint16(197), uint8(64), uint8(7), uint64(2))
	f.Add(uint16(20), uint16(77), uint8(64), uint8(2), uint64(3))
	f.Add(uint16(33), uint16(15), uint8(17), uint8(5), uint64(4))
	f.Fuzz(func(t *testing.T, nq, nk uint16, hd, flags uint8, seed uint64) {
		n1, n2, h := int(nq%300)+1, int(nk%300)+1, int(hd%130)+1
		bias, causal, acc := flags&1 != 0, flags&2 != 0, flags&4 != 0
		off := 0
		if causal && n2 > n1 {
			off = int(flags>>3) % (n2 - n1 + 1)
		}
		r := rand.New(rand.NewPCG(seed, 9))
		p := newProblem(r, n1, n2, h, float64(flags>>5+1), bias, causal, acc, off)
		fused := p.run()
		old := setLevel(levelUnfused)
		unf := p.run()
		setLevel(old)
		p.compare(t, fused, tol)
		p.compare(t, unf, tol)
	})
}
