package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Blocking (Goto/BLIS order, with B packed once in nr-column panels):
//
//	for each row block of about mcFloats/kc rows (A block packed, in L2)
//	  for each k block of at most kcMax
//	    for each nr-column panel of the piece
//	      for each mr-row tile of the row block: micro-kernel
//
// The micro-kernel keeps its mr×nr tile of C in registers for a whole k
// block and streams the packed A tile (mr×kc) and B micro-panel (kc×nr)
// from L1/L2; the first four tiles of a panel each prefetch a quarter of
// the next B micro-panel into L2 (hardware prefetchers stop at 4 KiB pages;
// this removed a 7-18% loss on the shapes whose B does not fit in L2).
// Measured here (Xeon, 48 KiB L1d, 2 MiB L2), a long k block beats the
// classic "B micro-panel in L1" choice (kc = 256): kc = 768 covers the
// ViT layers with K = 768 in one pass over C, and K = 3072 in four. The A
// block (at most about 640 KiB) and a B micro-panel (96 KiB) also fit a
// 1 MiB L2 (Zen 5).
const (
	kcMax    = 768
	mcFloats = 160 << 10 // target size of a packed A block, floats
)

// rowBlock is the number of rows of the A blocks for a region of rows rows:
// a multiple of mr splitting rows evenly into blocks of about mcFloats.
func rowBlock(rows, kc, mr int) int {
	nb := max(1, (rows*kc+mcFloats/2)/mcFloats)
	tiles := (rows + mr - 1) / mr
	return (tiles + nb - 1) / nb * mr
}

// threadCost is the estimated cost, in multiply-adds, of waking one more
// goroutine: products smaller than a few of these run on fewer threads.
const threadCost = 150_000

// packCost is the cost of packing one element of A, in multiply-adds (the
// AVX-512 kernel does about 80 per ns, the packing about 7 elements).
const packCost = 12

// kBlock is the k-block size used for inner dimension k. It depends on k
// alone so that results do not depend on the thread count.
func kBlock(k int) int {
	if k <= kcMax {
		return max(k, 1)
	}
	nb := (k + kcMax - 1) / kcMax
	return (k + nb - 1) / nb
}

// band is a rectangle of C, the home of one goroutine: rows [i0,i1),
// panels [p0,p1), cut into pieces [first,end) of the job's piece list.
type band struct {
	i0, i1, p0, p1 int
	first, end     int32
	next           atomic.Int32 // next piece to claim
}

// piece is a rectangle of C computed by one goroutine with the blocked loop
// nest: rows [i0,i1) (one A block), panels [p0,p1).
type piece struct {
	i0, i1, p0, p1 int
	pack           bool // pack A (the band has enough panels to pay for it)
}

// piecesPerBand is about how many pieces a band is cut into: small enough
// pieces balance the work when a helper starts late (waking a parked
// goroutine takes tens of µs) or runs on a slower or shared core, large
// enough ones keep each packed A block in use for many panels.
const piecesPerBand = 8

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
	pairs       []uint32 // bf16 B panels to expand (emulated bf16), b unused

	bands  []band
	pieces []piece
	joined atomic.Int32   // helpers that started (their index)
	done   sync.WaitGroup // one count per piece
	refs   atomic.Int32   // participants still holding the job
}

// Free lists of jobs and buffers. Unlike a sync.Pool they survive garbage
// collections, so a steady stream of products allocates nothing; they hold
// at most as many items as products ever ran at once (bounded by the
// channel size).
var (
	freeJobs = make(chan *job, 64)
	freeA    = make(chan *[]float32, 64) // packed A blocks
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

// getBuf returns a buffer of n floats from list, or a new one. Buffers too
// small for n are dropped on the way, so that the lists converge to a few
// buffers large enough for every product the program runs.
func getBuf(list chan *[]float32, n int) *[]float32 {
	for {
		select {
		case p := <-list:
			if cap(*p) >= n {
				*p = (*p)[:n]
				return p
			}
		default:
			s := make([]float32, n)
			return &s
		}
	}
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
	j := getJob()
	j.pairs = nil
	j.run(k, t, m, n, kk, a, rs, ks, b, c, ldc, alpha, beta, bias)
}

// runPackedPairs computes the product with A row-major (stride kk, kk even)
// and B in bf16 pair panels, which each piece expands to float32 one panel
// and k block at a time for the fp32 kernel k (emulated bf16).
func runPackedPairs(k *kernel, t, m, n, kk int, a []float32, pairs []uint32, c []float32, ldc int, alpha, beta float32, bias []float32) {
	j := getJob()
	j.pairs = pairs
	j.run(k, t, m, n, kk, a, kk, 1, nil, c, ldc, alpha, beta, bias)
}

func (j *job) run(k *kernel, t, m, n, kk int, a []float32, rs, ks int, b []float32, c []float32, ldc int, alpha, beta float32, bias []float32) {
	if kk == 0 {
		rs, ks = 0, 0
	}
	j.k, j.m, j.n, j.kk = k, m, n, kk
	j.a, j.rs, j.ks, j.b, j.c, j.ldc = a, rs, ks, b, c, ldc
	j.alpha, j.beta, j.bias = alpha, beta, bias
	j.partition(t)
	helpers := len(j.bands) - 1
	j.joined.Store(0)
	j.refs.Store(int32(helpers + 1))
	j.done.Add(len(j.pieces))
	if helpers > 0 {
		startWorkers(helpers)
		for range helpers {
			workCh <- j
		}
	}
	j.work(0)
	j.done.Wait()
	// Helpers that have not picked the job up yet (their thread was not
	// scheduled) have nothing left to do: take the job back from the queue
	// so that it can be reused at once. Another caller's job found there is
	// helped with instead, as its helper would have.
	for range helpers {
		select {
		case o := <-workCh:
			if o == j {
				j.refs.Add(-1)
				continue
			}
			o.work(int(o.joined.Add(1)))
			o.release()
		default:
		}
	}
	j.release()
}

// work computes pieces until none is left: first those of band w, then,
// in turn, those left in the other bands. Pieces are fixed rectangles of C,
// so whichever goroutine computes one, each element of C is computed by the
// same sequence of operations.
func (j *job) work(w int) {
	var ac aCache
	for t := range j.bands {
		bd := &j.bands[(w+t)%len(j.bands)]
		for {
			i := bd.next.Add(1) - 1
			if i >= bd.end {
				break
			}
			j.piece(&j.pieces[i], &ac)
			j.done.Done()
		}
	}
	if ac.buf != nil {
		put(freeA, ac.buf)
	}
	if ac.exp != nil {
		put(freeConv, ac.exp)
	}
}

// expand writes kc rows of a float32 B micro-panel from the bf16 pair rows
// at src into the goroutine's scratch panel and returns it.
func (ac *aCache) expand(src []uint32, kc int) []float32 {
	if ac.exp == nil || cap(*ac.exp) < kc*nr {
		if ac.exp != nil {
			put(freeConv, ac.exp)
		}
		ac.exp = getBuf(freeConv, kc*nr)
	}
	e := (*ac.exp)[:kc*nr]
	expandPairs(e, src)
	return e
}

func (j *job) release() {
	if j.refs.Add(-1) != 0 {
		return
	}
	j.k, j.a, j.b, j.c, j.bias, j.pairs = nil, nil, nil, nil, nil, nil
	j.pieces = j.pieces[:0]
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
			for {
				j := spinRecv()
				if j == nil {
					j = <-workCh
				}
				j.work(int(j.joined.Add(1)))
				j.release()
			}
		}()
	}
	workersMu.Unlock()
}

// spinFor is how long a helper polls for the next job after finishing one
// before it parks: a model runs its products back to back, and waking a
// parked goroutine costs tens of µs (about 75 µs measured on the 2-vCPU
// test machine), a sizeable part of a 1 ms product. Polling yields the
// processor to any other runnable goroutine.
const spinFor = 200 * time.Microsecond

// spinRecv polls workCh for up to spinFor; nil if no job came.
func spinRecv() *job {
	var deadline time.Time
	for i := 0; ; i++ {
		select {
		case j := <-workCh:
			return j
		default:
		}
		if i%32 == 0 {
			now := time.Now()
			if i == 0 {
				deadline = now.Add(spinFor)
			} else if now.After(deadline) {
				return nil
			}
		}
		runtime.Gosched()
	}
}

// partition splits C into at most t bands (a grid of row-tile bands ×
// panel bands) minimising the largest one plus a cost per goroutine, and
// cuts the bands into pieces.
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
			if p >= packMinPanels && !j.k.noPack {
				cost += r * j.kk * packCost // every band packs its rows of A
			}
			if bestCost < 0 || cost < bestCost {
				bestM, bestN, bestCost = tm, tn, cost
			}
		}
	}
	if nb := bestM * bestN; cap(j.bands) < nb {
		j.bands = make([]band, nb)
	} else {
		j.bands = j.bands[:nb]
	}
	kc := j.kBlock()
	for bi := range bestM {
		for bj := range bestN {
			bd := &j.bands[bi*bestN+bj]
			bd.i0, bd.i1 = mt*bi/bestM*mr, min(j.m, mt*(bi+1)/bestM*mr)
			bd.p0, bd.p1 = nt*bj/bestN, nt*(bj+1)/bestN
			bd.first = int32(len(j.pieces))
			bd.next.Store(bd.first)
			pack := bd.p1-bd.p0 >= packMinPanels && j.kk > 0 && !j.k.noPack
			// row blocks of the band, each cut into panel groups
			mc := rowBlock(bd.i1-bd.i0, kc, mr)
			nrb := (bd.i1 - bd.i0 + mc - 1) / mc
			groups := min(bd.p1-bd.p0, max(1, (piecesPerBand+nrb-1)/nrb))
			if bestM*bestN == 1 {
				groups = 1 // one goroutine: no balancing to do
			}
			for i0 := bd.i0; i0 < bd.i1; i0 += mc {
				for g := range groups {
					j.pieces = append(j.pieces, piece{
						i0: i0, i1: min(i0+mc, bd.i1),
						p0: bd.p0 + (bd.p1-bd.p0)*g/groups, p1: bd.p0 + (bd.p1-bd.p0)*(g+1)/groups,
						pack: pack,
					})
				}
			}
			bd.end = int32(len(j.pieces))
		}
	}
}

// aCache holds one goroutine's packed A rows [i0,i1) × all of k, packed
// k block by k block on first use, so that the pieces of a row block share
// one packing.
type aCache struct {
	exp    *[]float32 // a B micro-panel expanded from bf16 pairs
	buf    *[]float32
	i0, i1 int
	packed uint64 // bit b: k block b is packed (blocks past 63 always repacked)
}

// block returns the packed A block for rows [i0,i1) and k [pc, pc+kc).
func (ac *aCache) block(j *job, i0, i1, pc, kc int) []float32 {
	rows := i1 - i0
	if ac.buf == nil || ac.i0 != i0 || ac.i1 != i1 {
		if ac.buf == nil || cap(*ac.buf) < rows*j.kk {
			if ac.buf != nil {
				put(freeA, ac.buf)
			}
			ac.buf = getBuf(freeA, rows*j.kk)
		}
		*ac.buf = (*ac.buf)[:rows*j.kk]
		ac.i0, ac.i1, ac.packed = i0, i1, 0
	}
	blk := (*ac.buf)[rows*pc : rows*(pc+kc)]
	bit := uint64(1) << min(pc/kc, 63)
	if pc/kc >= 63 || ac.packed&bit == 0 {
		packA(blk, j.a, i0*j.rs+pc*j.ks, j.rs, j.ks, rows, kc, j.k.mr)
		ac.packed |= bit
	}
	return blk
}

// kBlock is the job's k-block size: kBlock(kk), made even when B is
// expanded from bf16 pairs so that a block starts at a pair.
func (j *job) kBlock() int {
	kc := kBlock(j.kk)
	if j.pairs != nil && kc%2 == 1 {
		kc++
	}
	return kc
}

// piece computes one rectangle of C with the blocked loop nest.
func (j *job) piece(r *piece, ac *aCache) {
	k := j.k
	mr := k.mr
	kc := j.kBlock()
	ic, ie := r.i0, r.i1
	for pc := 0; pc == 0 || pc < j.kk; pc += kc {
		kcur := min(kc, j.kk-pc)
		loadC, beta := true, float32(1)
		if pc == 0 {
			loadC, beta = j.beta != 0, j.beta
		}
		last := pc+kcur >= j.kk
		var a []float32
		if r.pack {
			a = ac.block(j, ic, ie, pc, kcur)
		}
		for jp := r.p0; jp < r.p1; jp++ {
			col := jp * nr
			w := min(nr, j.n-col)
			var bias []float32
			if last && j.bias != nil {
				bias = j.bias[col : col+w]
			}
			boff := (jp*j.kk + pc) * nr
			b := j.b
			if j.pairs != nil {
				b = ac.expand(j.pairs[(jp*j.kk+pc)/2*nr:], kcur)
				boff = 0
			}
			// The first four tiles prefetch a quarter each of the next B
			// micro-panel, which is not in cache yet (the hardware
			// prefetchers stop at page boundaries).
			next := -1
			switch {
			case jp+1 < r.p1:
				next = boff + j.kk*nr
			case pc+kcur < j.kk:
				next = (r.p0*j.kk + pc + kcur) * nr
			}
			for i, ti := ic, 0; i < ie; i, ti = i+mr, ti+1 {
				rows := min(mr, ie-i)
				pf := -1
				if next >= 0 && ti < 4 && j.pairs == nil {
					pf = next + ti*kcur*nr/4
				}
				if r.pack {
					k.micro(rows, w, a, (i-ic)*kcur, 1, rows, b, boff, kcur, j.c, i*j.ldc+col, j.ldc, j.alpha, beta, loadC, bias, pf)
				} else {
					k.micro(rows, w, j.a, i*j.rs+pc*j.ks, j.rs, j.ks, b, boff, kcur, j.c, i*j.ldc+col, j.ldc, j.alpha, beta, loadC, bias, pf)
				}
			}
		}
	}
}
