//go:build amd64 && !purego

package attn

import "golang.org/x/sys/cpu"

// detectLevel reports AVX-512 when the CPU and OS support it (x/sys/cpu
// reports it only when the OS saves the state).
func detectLevel() int {
	if cpu.X86.HasAVX512F {
		return levelAVX512
	}
	return levelUnfused
}

// The assembly kernels do no bounds checks: Attend checks the slices, and
// blockAVX512 passes only pointers inside them.

// qk512 sets s[(t·14+k)·32+q] = Σ_{d<hd} xt[d·32+q]·y[(t·14+k)·ldy+d] for
// the nsub tiles t of 14 keys k and the 32 queries q.
//
//go:noescape
func qk512(s, xt, y *float32, ldy, hd, nsub int)

// qk512h is qk512 for the first 16 queries, the others' logits set to 0.
//
//go:noescape
func qk512h(s, xt, y *float32, ldy, hd, nsub int)

// softmax512 turns the kb rows of 32 logits in s into probabilities:
// adds the bias bias[bidx[q]+j] where vmask has bit q set (bias may be
// nil), sets key j of query q to -Inf when j > lim+q, and with st = m, l, α
// (32 each) sets m' = max(m, max_j s), α = e^(m−m'), s = e^(s−m'),
// l = α·l + Σ_j s, m = m'.
//
//go:noescape
func softmax512(s *float32, kb int, st *float32, bias *float32, bidx *int32, lim, vmask int)

// pv512 sets o[c][q][t] = α[q]·o[c][q][t] + Σ_{j<kb} p[j·32+q]·v[j·ldv+64c+t]
// for the 32 queries q and columns 64c+t < hd (o is [ceil(hd/64)][32][64]);
// mask is 1<<(hd mod 64) - 1, the columns of a last partial chunk. Only
// the first 4·ng queries are computed.
//
//go:noescape
func pv512(o, p, v *float32, ldv, kb, hd int, alpha *float32, mask uint64, ng int)

// blockAVX512 runs the three kernels on keys j0..j0+kb-1 (kb ≤ kBlock) of
// the packed keys y (rows of hd, zero rows up to a multiple of 14) and
// values v, for the first qb queries of the block.
func blockAVX512(w *work, y, v []float32, j0, kb, hd int, bias []float32, lim, qb int) {
	nsub := (kb + kSub - 1) / kSub
	_ = y[(j0+nsub*kSub)*hd-1] // the tiles' last row
	_ = v[(j0+kb)*hd-1]
	if qb <= 16 {
		qk512h(&w.s[0], &w.xt[0], &y[j0*hd], hd, hd, nsub)
	} else {
		qk512(&w.s[0], &w.xt[0], &y[j0*hd], hd, hd, nsub)
	}
	vmask := 0
	if bias != nil {
		vmask = 1<<qb - 1
	}
	var bp *float32
	if bias != nil {
		bp = &bias[0]
	}
	softmax512(&w.s[0], kb, &w.st[0], bp, &w.bidx[0], lim, vmask)
	pv512(&w.o[0], &w.s[0], &v[j0*hd], hd, kb, hd, &w.st[2*qBlock], 1<<(hd%oCols)-1, (qb+3)/4)
}

// prefetchRows asks for the cache lines of rows rows of n bytes from
// address p, ld bytes apart, to be brought into L2.
//
//go:noescape
func prefetchRows(p uintptr, ld, rows, n int)

// xpack512 sets xt[d·32+q] = scale·x[q·ldx+d] for q < qb and d < hd, and 0
// for the lanes qb ≤ q < 32. qb ≥ 1, 32·ldx < 2³¹.
//
//go:noescape
func xpack512(xt, x *float32, ldx, qb, hd int, scale float32)

// finish512 sets out[q·ldo+c] (+)= o[(c/64)·2048+q·64+c%64] / l[q] for
// q < qb and c < hd (adding when accumulate is 1).
//
//go:noescape
func finish512(out *float32, ldo int, o, l *float32, qb, hd, accumulate int)
