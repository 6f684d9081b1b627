package gemm

import (
	"sync"
	"sync/atomic"
)

// Blocking (Goto/BLIS order, with B packed in nr-column panels and A read in
// place by the kernels):
//
//	for each row block of mcRows rows (A block ≈ mcRows×kc floats, L2)
//	  for each k block of at most kcMax (B micro-panel kc×nr = 32 KiB, L1)
//	    for each nr-column panel of the region
//	      for each mr-row tile of the row block: micro-kernel
//
// kcMax = 256 keeps one B micro-panel (256·32·4 = 32 KiB) inside a 48 KiB L1d
// while the A rows stream through; mcRows = 392 keeps the A block near
// 400 KiB, well inside a 1 MiB (Zen 5) or 2 MiB (Sapphire/Emerald Rapids) L2.
const (
	kcMax  = 256
	mcRows = 392
)

// threadCost is the estimated cost, in multiply-adds, of waking one more
// goroutine: products smaller than a few of these run on fewer threads.
const threadCost = 150_000

// kBlock is the k-block size used for inner dimension k. It depends on k
// alone so that results do not depend on the thread count.
func kBlock(k int) int {
	if k <= kcMax {
		return max(k, 1)
	}
	nb := (k + kcMax - 1) / kcMax
	return (k + nb - 1) / nb
}

type region struct{ i0, i1, p0, p1 int } // rows [i0,i1), panels [p0,p1)

// job is one product C = alpha·A·B + beta·C (+ bias) over packed B panels,
// with A element (i, p) at a[i·rs + p·ks].
type job struct {
	k           *kernel
	m, n, kk    int
	a           []float32
	rs, ks      int
	b           []float32
	c           []float32
	ldc         int
	alpha, beta float32
	bias        []float32

	regs []region
	next atomic.Int32   // next region to claim
	done sync.WaitGroup // one count per region
	refs atomic.Int32   // participants still holding the job
}

// Free lists of jobs and buffers. Unlike a sync.Pool they survive garbage
// collections, so a steady stream of products allocates nothing; they hold
// at most as many items as products ever ran at once (bounded by the
// channel size).
var (
	freeJobs = make(chan *job, 64)
	freeA    = make(chan *[]float32, 64) // A blocks, mcRows·kcMax floats
	freeB    = make(chan *[]float32, 64) // packed B of Sgemm, any size
)

func getJob() *job {
	select {
	case j := <-freeJobs:
		return j
	default:
		return new(job)
	}
}

func getA() *[]float32 {
	select {
	case b := <-freeA:
		return b
	default:
		s := make([]float32, mcRows*kcMax)
		return &s
	}
}

// getB returns a buffer of n floats.
func getB(n int) *[]float32 {
	select {
	case p := <-freeB:
		if cap(*p) >= n {
			*p = (*p)[:n]
			return p
		}
	default:
	}
	s := make([]float32, n)
	return &s
}

// put returns x to a free list, dropping it when the list is full.
func put[T any](list chan T, x T) {
	select {
	case list <- x:
	default:
	}
}

// runPacked computes the product on up to t goroutines. b holds the packed
// panels of op(B) (see packPanels).
func runPacked(k *kernel, t, m, n, kk int, a []float32, rs, ks int, b []float32, c []float32, ldc int, alpha, beta float32, bias []float32) {
	if kk == 0 {
		rs, ks = 0, 0
	}
	j := getJob()
	j.k, j.m, j.n, j.kk = k, m, n, kk
	j.a, j.rs, j.ks, j.b, j.c, j.ldc = a, rs, ks, b, c, ldc
	j.alpha, j.beta, j.bias = alpha, beta, bias
	j.partition(t)
	helpers := len(j.regs) - 1
	j.next.Store(0)
	j.refs.Store(int32(helpers + 1))
	if helpers == 0 {
		j.region(j.regs[0])
	} else {
		j.done.Add(len(j.regs))
		startWorkers(helpers)
		for range helpers {
			workCh <- j
		}
		j.work()
		j.done.Wait()
	}
	j.release()
}

// work claims and computes regions until none is left. Regions are static
// rectangles of C, so whichever goroutine claims one, each element of C is
// computed by the same sequence of operations.
func (j *job) work() {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= len(j.regs) {
			return
		}
		j.region(j.regs[i])
		j.done.Done()
	}
}

func (j *job) release() {
	if j.refs.Add(-1) != 0 {
		return
	}
	j.k, j.a, j.b, j.c, j.bias = nil, nil, nil, nil, nil
	j.regs = j.regs[:0]
	put(freeJobs, j)
}

// Helper goroutines live for the life of the process, parked on workCh.
var (
	workCh    = make(chan *job, 256)
	workersMu sync.Mutex
	nWorkers  int
)

func startWorkers(n int) {
	workersMu.Lock()
	for nWorkers < n {
		nWorkers++
		go func() {
			for j := range workCh {
				j.work()
				j.release()
			}
		}()
	}
	workersMu.Unlock()
}

// partition splits C into at most t rectangles (a grid of row-tile bands ×
// panel bands) minimising the largest one plus a cost per goroutine.
func (j *job) partition(t int) {
	mr := j.k.mr
	mt := (j.m + mr - 1) / mr
	nt := (j.n + nr - 1) / nr
	rows := func(tm, bi int) int {
		return min(j.m, mt*(bi+1)/tm*mr) - mt*bi/tm*mr
	}
	bestM, bestN := 1, 1
	bestCost := -1
	for tm := 1; tm <= t && tm <= mt; tm++ {
		for tn := 1; tm*tn <= t && tn <= nt; tn++ {
			// the largest band of each kind makes the largest rectangle
			r := 0
			for bi := range tm {
				r = max(r, rows(tm, bi))
			}
			p := (nt + tn - 1) / tn
			cost := r*p*nr*max(j.kk, 1) + threadCost*(tm*tn-1)
			if bestCost < 0 || cost < bestCost {
				bestM, bestN, bestCost = tm, tn, cost
			}
		}
	}
	for bi := range bestM {
		for bj := range bestN {
			j.regs = append(j.regs, region{
				i0: mt * bi / bestM * mr, i1: min(j.m, mt*(bi+1)/bestM*mr),
				p0: nt * bj / bestN, p1: nt * (bj + 1) / bestN,
			})
		}
	}
}

// region computes one rectangle of C with the blocked loop nest.
func (j *job) region(r region) {
	k := j.k
	mr := k.mr
	mc := max(mr, mcRows/mr*mr)
	kc := kBlock(j.kk)
	pack := r.p1-r.p0 >= packMinPanels && j.kk > 0
	var abuf *[]float32
	if pack {
		abuf = getA()
		defer put(freeA, abuf)
	}
	for ic := r.i0; ic < r.i1; ic += mc {
		ie := min(ic+mc, r.i1)
		for pc := 0; pc == 0 || pc < j.kk; pc += kc {
			kcur := min(kc, j.kk-pc)
			loadC, beta := true, float32(1)
			if pc == 0 {
				loadC, beta = j.beta != 0, j.beta
			}
			last := pc+kcur >= j.kk
			a, aoff, rs, ks, tileStride := j.a, ic*j.rs+pc*j.ks, j.rs, j.ks, 0
			if pack {
				packA(*abuf, j.a, aoff, j.rs, j.ks, ie-ic, kcur, mr)
				a, aoff, tileStride = *abuf, 0, kcur
			}
			for jp := r.p0; jp < r.p1; jp++ {
				col := jp * nr
				w := min(nr, j.n-col)
				var bias []float32
				if last && j.bias != nil {
					bias = j.bias[col : col+w]
				}
				boff := (jp*j.kk + pc) * nr
				for i := ic; i < ie; i += mr {
					rows := min(mr, ie-i)
					if pack {
						rs, ks = 1, rows
						aoff = (i - ic) * tileStride
					} else {
						aoff = ic*j.rs + pc*j.ks + (i-ic)*j.rs
					}
					k.micro(rows, w, a, aoff, rs, ks, j.b, boff, kcur, j.c, i*j.ldc+col, j.ldc, j.alpha, beta, loadC, bias)
				}
			}
		}
	}
}

// packMinPanels is the fewest panels per region for which A is packed: the
// packing is paid once per A block and saves time on every panel.
var packMinPanels = 2

// packA copies rows [0,rows) × k [0,kc) of A (element (i, p) at
// a[aoff + i·rs + p·ks]) into dst as tiles of mr rows: tile t at t·mr·kc,
// its element (i, p) at p·mt + i where mt is the tile's row count.
func packA(dst, a []float32, aoff, rs, ks, rows, kc, mr int) {
	for t := 0; t < rows; t += mr {
		mt := min(mr, rows-t)
		d := dst[t*kc : t*kc+mt*kc]
		if rs == 1 {
			for p := 0; p < kc; p++ {
				s := aoff + t + p*ks
				copy(d[p*mt:p*mt+mt], a[s:s+mt])
			}
			continue
		}
		if ks == 1 {
			packRows(d, a, aoff+t*rs, rs, mt, kc)
			continue
		}
		for i := 0; i < mt; i++ {
			s := aoff + (t+i)*rs
			for p := 0; p < kc; p++ {
				d[p*mt+i] = a[s+p*ks]
			}
		}
	}
}

// packRowsGo interleaves mt rows of kc floats (row i at a[off + i·rs]) into
// d: element (i, p) at p·mt + i.
func packRowsGo(d, a []float32, off, rs, mt, kc int) {
	const w = 8 // columns per step: each row is read 8 floats at a time
	p := 0
	for ; p+w <= kc; p += w {
		dd := d[p*mt : (p+w)*mt]
		for i := 0; i < mt; i++ {
			s := (*[w]float32)(a[off+i*rs+p:])
			dd[i] = s[0]
			dd[mt+i] = s[1]
			dd[2*mt+i] = s[2]
			dd[3*mt+i] = s[3]
			dd[4*mt+i] = s[4]
			dd[5*mt+i] = s[5]
			dd[6*mt+i] = s[6]
			dd[7*mt+i] = s[7]
		}
	}
	for ; p < kc; p++ {
		for i := 0; i < mt; i++ {
			d[p*mt+i] = a[off+i*rs+p]
		}
	}
}

// packPanels writes op(B) (k×n) into dst as ⌈n/nr⌉ panels of k×nr floats,
// row-major within a panel, columns past n zero.
func packPanels(transB bool, k, n int, b []float32, ldb int, dst []float32) {
	for jp := 0; jp*nr < n; jp++ {
		col := jp * nr
		w := min(nr, n-col)
		pan := dst[jp*k*nr : (jp+1)*k*nr]
		if transB {
			for jj := 0; jj < w; jj++ {
				src := b[(col+jj)*ldb : (col+jj)*ldb+k]
				for p, v := range src {
					pan[p*nr+jj] = v
				}
			}
		} else {
			for p := 0; p < k; p++ {
				copy(pan[p*nr:p*nr+w], b[p*ldb+col:p*ldb+col+w])
			}
		}
		if w < nr {
			for p := 0; p < k; p++ {
				clear(pan[p*nr+w : p*nr+nr])
			}
		}
	}
}
