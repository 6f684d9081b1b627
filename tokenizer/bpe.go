package tokenizer

import (
	"container/heap"
	"strings"
	"sync"
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
const heapFrom = 48

// appendWord appends the ids of one pre-token (SPEC 3.6 step 4).
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

type pairHeap []pairEntry

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	return h[i].rank < h[j].rank || h[i].rank == h[j].rank && h[i].pos < h[j].pos
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pairEntry)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
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
		q := next[p]
		if p < 0 || q < 0 {
			return
		}
		if m, ok := t.rule(sym[p], sym[q]); ok {
			heap.Push(&h, pairEntry{rank: m.rank, pos: p, a: sym[p], b: sym[q], ab: m.id})
		}
	}
	for i := 0; i+1 < n; i++ {
		if m, ok := t.rule(sym[i], sym[i+1]); ok {
			h = append(h, pairEntry{rank: m.rank, pos: int32(i), a: sym[i], b: sym[i+1], ab: m.id})
		}
	}
	heap.Init(&h)
	batch := sc.batch[:0]
	for h.Len() > 0 {
		batch = append(batch[:0], heap.Pop(&h).(pairEntry))
		for h.Len() > 0 && h[0].rank == batch[0].rank {
			batch = append(batch, heap.Pop(&h).(pairEntry))
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

// wordCache maps pre-tokens to their ids. It has two generations: when the
// current one is full it becomes the old one and a new one starts, and a
// hit in the old one is copied forward, so frequently used words survive
// (an approximate LRU with O(1) work per access).
type wordCache struct {
	mu       sync.RWMutex
	max      int
	cur, old map[string][]int32
}

func newWordCache(max int) *wordCache {
	return &wordCache{max: max, cur: make(map[string][]int32)}
}

func (c *wordCache) get(k string) ([]int32, bool) {
	c.mu.RLock()
	v, ok := c.cur[k]
	if !ok && c.old != nil {
		v, ok = c.old[k]
		if ok {
			c.mu.RUnlock()
			c.put(k, v)
			return v, true
		}
	}
	c.mu.RUnlock()
	return v, ok
}

func (c *wordCache) put(k string, v []int32) {
	c.mu.Lock()
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[string][]int32, c.max/4)
	}
	c.cur[k] = v
	c.mu.Unlock()
}
