package tokenizer

import (
	"strings"
	"sync"
	"sync/atomic"
)

// mergeRule is one entry of bpe_ranks, keyed by the pair of token ids: its
// rank (position in the merge list, lower merges first) and the id of the
// joined token.
type mergeRule struct {
	rank, id int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (t *Tokenizer) rule(a, b int32) (mergeRule, bool) {
	m, ok := t.merges[pairKey(a, b)]
	return m, ok
}

// Cache sizing. The reference caches every word forever; a server cannot,
// so the cache is bounded and only short words are kept (long ones are rare
// and would pin their text).
const (
	cacheEntries  = 1 << 15
	cacheMaxBytes = 64
)

// heapFrom is the word length (in bytes) from which BPE uses the
// O(n log n) heap form; below it the direct form is faster.
const heapFrom = 32

// appendWord appends the ids of one pre-token (docs/model.md#tokenizer).
func (t *Tokenizer) appendWord(dst []int, word string, sc *bpeScratch) []int {
	cacheable := len(word) <= cacheMaxBytes
	if cacheable {
		if ids, ok := t.cache.get(word); ok {
			for _, id := range ids {
				dst = append(dst, int(id))
			}
			return dst
		}
	}
	// UTF-8 bytes → symbols of the byte alphabet, "</w>" on the last one.
	sym := sc.sym[:0]
	for i := 0; i < len(word); i++ {
		sym = append(sym, t.byteID[word[i]])
	}
	sym[len(sym)-1] = t.byteEndID[word[len(word)-1]]
	if len(sym) < heapFrom {
		sym = t.bpeDirect(sym)
	} else {
		sym = t.bpeHeap(sym, sc)
	}
	sc.sym = sym[:0]
	for _, id := range sym {
		dst = append(dst, int(id))
	}
	if cacheable {
		// Clone: word points into the whole cleaned text.
		t.cache.put(strings.Clone(word), append([]int32(nil), sym...))
	}
	return dst
}

// bpeDirect is simple_tokenizer.bpe on ids: find the adjacent pair with the
// lowest rank, merge all its occurrences left to right, repeat until no
// pair has a rank. O(n²) in the word length, fastest for short words.
func (t *Tokenizer) bpeDirect(w []int32) []int32 {
	for len(w) > 1 {
		best := mergeRule{rank: -1}
		var ba, bb int32
		for i := 0; i+1 < len(w); i++ {
			if m, ok := t.rule(w[i], w[i+1]); ok && (best.rank < 0 || m.rank < best.rank) {
				best, ba, bb = m, w[i], w[i+1]
			}
		}
		if best.rank < 0 {
			break
		}
		out := w[:0] // in place: out never overtakes the read position
		for i := 0; i < len(w); {
			if i+1 < len(w) && w[i] == ba && w[i+1] == bb {
				out = append(out, best.id)
				i += 2
			} else {
				out = append(out, w[i])
				i++
			}
		}
		w = out
	}
	return w
}

// bpeScratch holds buffers reused across the words of one text.
type bpeScratch struct {
	sym        []int32
	prev, next []int32
	h          pairHeap
	batch      []pairEntry
}

type pairEntry struct {
	rank, pos int32 // ordering: rank, then position (left to right)
	a, b, ab  int32
}

// pairHeap is a binary min-heap ordered by (rank, position), written out
// rather than through container/heap to avoid boxing every entry.
type pairHeap []pairEntry

func (e pairEntry) less(f pairEntry) bool {
	return e.rank < f.rank || e.rank == f.rank && e.pos < f.pos
}

func (h *pairHeap) push(e pairEntry) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *pairHeap) pop() pairEntry {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	*h = a
	h.down(0)
	return top
}

func (h pairHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// bpeHeap gives the same result as bpeDirect in O(n log n), for long words
// (a pathological input can be one "word" of megabytes). Symbols live in a
// linked list whose nodes keep their left-to-right order; every adjacent
// pair with a rank sits in a heap ordered by (rank, position), and stale
// entries are skipped when popped.
//
// Equivalence with the reference: it merges every occurrence of the
// lowest-ranked pair in one left-to-right pass. Here all heap entries of
// the lowest rank are taken out as one batch before any is applied, then
// applied left to right, each only if its pair is still in place; so an
// occurrence overlapping a merged one ("aaa" with (a,a)) is skipped as in
// the reference, and pairs created by the batch (which contain the new,
// longer symbol, so never the batch's pair) wait for a later round, whatever
// their rank. A node's symbol only ever grows, so an entry whose recorded
// symbols still match is current.
func (t *Tokenizer) bpeHeap(sym []int32, sc *bpeScratch) []int32 {
	n := len(sym)
	prev, next := grow(sc.prev, n), grow(sc.next, n)
	for i := range n {
		prev[i], next[i] = int32(i-1), int32(i+1)
	}
	next[n-1] = -1
	h := sc.h[:0]
	push := func(p int32) {
		if p < 0 || next[p] < 0 {
			return
		}
		q := next[p]
		if m, ok := t.rule(sym[p], sym[q]); ok {
			h.push(pairEntry{rank: m.rank, pos: p, a: sym[p], b: sym[q], ab: m.id})
		}
	}
	for i := 0; i+1 < n; i++ {
		if m, ok := t.rule(sym[i], sym[i+1]); ok {
			h = append(h, pairEntry{rank: m.rank, pos: int32(i), a: sym[i], b: sym[i+1], ab: m.id})
		}
	}
	h.init()
	batch := sc.batch[:0]
	for len(h) > 0 {
		batch = append(batch[:0], h.pop())
		for len(h) > 0 && h[0].rank == batch[0].rank {
			batch = append(batch, h.pop())
		}
		for _, e := range batch {
			p := e.pos
			q := next[p]
			if q < 0 || sym[p] != e.a || sym[q] != e.b {
				continue // stale (nodes removed from the list fail here too: see below)
			}
			sym[p] = e.ab
			nq := next[q]
			next[p] = nq
			if nq >= 0 {
				prev[nq] = p
			}
			next[q] = -1 // a removed node never matches again
			sym[q] = -1
			push(prev[p])
			push(p)
		}
	}
	out := sym[:0]
	for p := int32(0); p >= 0; p = next[p] {
		out = append(out, sym[p]) // node 0 is never removed: merges keep the left node
	}
	sc.prev, sc.next, sc.h, sc.batch = prev, next, h[:0], batch[:0]
	return out
}

func grow(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// wordCache maps pre-tokens to their ids. Reads are lock-free (the
// tokenizer is shared by many goroutines, and almost every lookup hits).
// It has two generations: when the current one holds max entries it
// becomes the old one and an empty one starts, and a hit in the old one is
// copied forward, so words in use survive (an approximate LRU with O(1) work
// per access). At most about 2×max entries are held.
type wordCache struct {
	max      int64
	cur, old atomic.Pointer[cacheGen]
}

type cacheGen struct {
	m sync.Map // string → []int32
	n atomic.Int64
}

func newWordCache(max int) *wordCache {
	c := &wordCache{max: int64(max)}
	c.cur.Store(new(cacheGen))
	return c
}

func (c *wordCache) get(k string) ([]int32, bool) {
	if v, ok := c.cur.Load().m.Load(k); ok {
		return v.([]int32), true
	}
	if g := c.old.Load(); g != nil {
		if v, ok := g.m.Load(k); ok {
			c.put(k, v.([]int32))
			return v.([]int32), true
		}
	}
	return nil, false
}

func (c *wordCache) put(k string, v []int32) {
	g := c.cur.Load()
	if _, loaded := g.m.LoadOrStore(k, v); loaded {
		return
	}
	if g.n.Add(1) >= c.max && c.cur.CompareAndSwap(g, new(cacheGen)) {
		c.old.Store(g)
	}
}

// len is the number of entries held (for tests).
func (c *wordCache) len() int {
	n := c.cur.Load().n.Load()
	if g := c.old.Load(); g != nil {
		n += g.n.Load()
	}
	return int(n)
}
