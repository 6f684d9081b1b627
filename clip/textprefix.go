package clip

import (
	"math"
	"sort"

	"github.com/freeseg/freeseg/tensor"
	"github.com/freeseg/freeseg/tensor/attn"
)

// Prompt ensembles fill one template with many class names, so the prompts
// of a template share their first tokens ("<start> a bad photo of a").
// The text tower is causal: the hidden states of those shared positions do
// not depend on what follows, so they are computed once per template, and
// each prompt runs only its own tokens, attending to the cached keys and
// values of the shared prefix. The result is the same computation as
// EncodeTokens on the full prompts (the attention sees the same keys in
// the same order), done on about half the tokens.

// commonPrefix is the number of leading tokens all seqs share, leaving at
// least one token of each sequence outside it.
func commonPrefix(seqs [][]int) int {
	if len(seqs) == 0 {
		return 0
	}
	p := len(seqs[0]) - 1
	for _, s := range seqs[1:] {
		p = min(p, len(s)-1)
		for i := 0; i < p; i++ {
			if s[i] != seqs[0][i] {
				p = i
				break
			}
		}
	}
	return max(p, 0)
}

// prefixCache holds, per layer, the keys and values [P, D] of the shared
// prefix.
type prefixCache struct {
	P    int
	K, V [][]float32
}

// runPrefix runs the prefix tokens through the tower and keeps each layer's
// keys and values.
func (t *Text) runPrefix(ws *Workspace, ids []int) *prefixCache {
	D, P := t.Width, len(ids)
	x := make([]float32, P*D)
	for p, id := range ids {
		row := x[p*D : (p+1)*D]
		copy(row, t.TokenEmbedding[id*D:(id+1)*D])
		tensor.Add(row, t.PosEmbedding[p*D:(p+1)*D])
	}
	c := &prefixCache{P: P}
	for l := range t.Blocks {
		blk := &t.Blocks[l]
		qkv := blk.QKV(ws, x, P)
		k := make([]float32, P*D)
		v := make([]float32, P*D)
		for p := 0; p < P; p++ {
			copy(k[p*D:(p+1)*D], qkv[p*3*D+D:p*3*D+2*D])
			copy(v[p*D:(p+1)*D], qkv[p*3*D+2*D:p*3*D+3*D])
		}
		c.K, c.V = append(c.K, k), append(c.V, v)
		if l < len(t.Blocks)-1 { // the last layer's prefix outputs are never used
			blk.AttendInto(ws, x, qkv, 1, P, AttnQK, AttnOptions{Causal: true}, true)
			blk.MLPResidual(ws, x, P)
		}
	}
	return c
}

// encodeSuffixes encodes prompts that all start with the cached prefix:
// seqs[i][c.P:] are their own tokens. Returns [len(idx), E] for idx.
func (t *Text) encodeSuffixes(ws *Workspace, c *prefixCache, seqs [][]int, idx []int, lens []int) []float32 {
	D, B, P := t.Width, len(idx), c.P
	S := 0
	for _, i := range idx {
		S = max(S, lens[i]-P)
	}
	x := make([]float32, B*S*D)
	for j, i := range idx {
		for s := 0; s < S; s++ {
			id := 0
			if P+s < len(seqs[i]) {
				id = seqs[i][P+s]
			}
			row := x[(j*S+s)*D : (j*S+s+1)*D]
			copy(row, t.TokenEmbedding[id*D:(id+1)*D])
			tensor.Add(row, t.PosEmbedding[(P+s)*D:(P+s+1)*D])
		}
	}
	ws.ctx = grow(ws.ctx, B*S*D)
	for l := range t.Blocks {
		blk := &t.Blocks[l]
		qkv := blk.QKV(ws, x, B*S)
		prefixAttention(ws.ctx, qkv, c.K[l], c.V[l], B, S, P, D, blk.Heads)
		blk.OutProj.Apply(x, ws.ctx, B*S, true)
		blk.MLPResidual(ws, x, B*S)
	}
	pooled := make([]float32, B*D)
	for j, i := range idx {
		copy(pooled[j*D:(j+1)*D], x[(j*S+lens[i]-P-1)*D:])
	}
	t.LNFinal.Apply(pooled, pooled, B)
	out := make([]float32, B*t.Proj.Out)
	t.Proj.Apply(out, pooled, B, false)
	return out
}

// prefixAttention is causal multi-head attention for B sequences of S new
// tokens (qkv [B·S, 3D]) that follow P cached positions (keys pk and values
// pv, [P, D]): new token s sees the P cached positions and new tokens 0..s.
// Each head is one fused attention of S queries over the P+S keys, causal
// with offset P.
func prefixAttention(ctx, qkv, pk, pv []float32, B, S, P, D, heads int) {
	hd := D / heads
	scale := float32(1 / math.Sqrt(float64(hd)))
	T := P + S
	parallelTasks(B*heads, func(task int) {
		b, h := task/heads, task%heads
		kp := getScratch(2 * T * hd)
		defer scratchPool.Put(kp)
		keys, vals := (*kp)[:T*hd], (*kp)[T*hd:]
		for p := 0; p < P; p++ {
			copy(keys[p*hd:(p+1)*hd], pk[p*D+h*hd:p*D+(h+1)*hd])
			copy(vals[p*hd:(p+1)*hd], pv[p*D+h*hd:p*D+(h+1)*hd])
		}
		base := b * S * 3 * D
		for s := 0; s < S; s++ {
			row := qkv[base+s*3*D:]
			copy(keys[(P+s)*hd:(P+s+1)*hd], row[D+h*hd:D+(h+1)*hd])
			copy(vals[(P+s)*hd:(P+s+1)*hd], row[2*D+h*hd:2*D+(h+1)*hd])
		}
		attn.Attend(ctx[b*S*D+h*hd:], D, qkv[base+h*hd:], 3*D, keys, hd, vals, hd, S, T, hd, scale,
			attn.Options{Causal: true, Offset: P})
	})
}

// encodeTemplateGroups encodes prompts grouped by template (group g holds
// the indices of seqs filled from template g): each group with a shared
// prefix of two or more tokens goes through the prefix path, the rest
// through EncodeTokens. Returns [len(seqs), E].
func (m *Model) encodeTemplateGroups(seqs [][]int, groups [][]int) ([]float32, error) {
	t := m.Text
	E := t.Proj.Out
	out := make([]float32, len(seqs)*E)
	lens := make([]int, len(seqs))
	for i, s := range seqs {
		eot := 0
		for j, id := range s {
			if id > s[eot] {
				eot = j
			}
		}
		lens[i] = eot + 1
	}
	var plain []int
	ws := GetWorkspace()
	defer PutWorkspace(ws)
	for _, g := range groups {
		gs := make([][]int, len(g))
		for j, i := range g {
			gs[j] = seqs[i][:lens[i]]
		}
		P := commonPrefix(gs)
		if len(g) < 2 || P < 2 {
			plain = append(plain, g...)
			continue
		}
		c := t.runPrefix(ws, gs[0][:P])
		order := append([]int(nil), g...)
		sort.SliceStable(order, func(a, b int) bool { return lens[order[a]] < lens[order[b]] })
		for start := 0; start < len(order); start += textBatch {
			idx := order[start:min(start+textBatch, len(order))]
			emb := t.encodeSuffixes(ws, c, seqs, idx, lens)
			for j, i := range idx {
				copy(out[i*E:(i+1)*E], emb[j*E:(j+1)*E])
			}
		}
	}
	if len(plain) > 0 {
		sub := make([][]int, len(plain))
		for j, i := range plain {
			sub[j] = seqs[i]
		}
		emb, err := m.EncodeTokens(sub)
		if err != nil {
			return nil, err
		}
		for j, i := range plain {
			copy(out[i*E:(i+1)*E], emb[j*E:(j+1)*E])
		}
	}
	return out, nil
}
