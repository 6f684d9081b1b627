package clip

import (
	"fmt"
	"sort"

	"github.com/freeseg/freeseg/tensor"
)

// textBatch bounds how many prompts go through the text tower at once
// (memory grows with batch × length²).
const textBatch = 64

// EncodeTokens is CLIP's encode_text for token sequences as the tokenizer
// returns them (start and end tokens included, no padding). Returns [n, E],
// not normalised.
//
// The text tower is causal and pools at the end token (the first position
// of the largest id, torch.argmax), so tokens after it cannot change the
// result: each sequence runs only up to that position. This is exact, not an
// approximation (docs/model.md#text-transformer).
func (m *Model) EncodeTokens(seqs [][]int) ([]float32, error) {
	t := m.Text
	E := t.Proj.Out
	out := make([]float32, len(seqs)*E)
	lens := make([]int, len(seqs))
	vocab := len(t.TokenEmbedding) / t.Width
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("text %d: empty token sequence", i)
		}
		if len(s) > t.Context {
			return nil, fmt.Errorf("text %d: %d tokens exceed the context length %d", i, len(s), t.Context)
		}
		eot := 0
		for j, id := range s {
			if id < 0 || id >= vocab {
				return nil, fmt.Errorf("text %d: token id %d outside the vocabulary of %d", i, id, vocab)
			}
			if id > s[eot] {
				eot = j
			}
		}
		lens[i] = eot + 1
	}
	// Similar lengths together keep the padding small; the order does not
	// change any single result.
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lens[order[a]] < lens[order[b]] })
	ws := GetWorkspace()
	defer PutWorkspace(ws)
	for start := 0; start < len(order); start += textBatch {
		end := min(start+textBatch, len(order))
		idx := order[start:end]
		L := 0
		for _, i := range idx {
			L = max(L, lens[i])
		}
		emb := t.forward(ws, seqs, idx, L, lens)
		for j, i := range idx {
			copy(out[i*E:(i+1)*E], emb[j*E:(j+1)*E])
		}
	}
	return out, nil
}

// forward runs the prompts idx, padded to length L (padding repeats id 0,
// which the causal mask keeps out of every pooled row), and returns the
// projected end-token features [len(idx), E].
func (t *Text) forward(ws *Workspace, seqs [][]int, idx []int, L int, lens []int) []float32 {
	D, B := t.Width, len(idx)
	x := make([]float32, B*L*D)
	for j, i := range idx {
		for p := 0; p < L; p++ {
			id := 0
			if p < len(seqs[i]) {
				id = seqs[i][p]
			}
			row := x[(j*L+p)*D : (j*L+p+1)*D]
			copy(row, t.TokenEmbedding[id*D:(id+1)*D])
			tensor.Add(row, t.PosEmbedding[p*D:(p+1)*D])
		}
	}
	for l := range t.Blocks {
		t.Blocks[l].Forward(ws, x, B, L, AttnOptions{Causal: true})
	}
	pooled := make([]float32, B*D)
	for j, i := range idx {
		copy(pooled[j*D:(j+1)*D], x[(j*L+lens[i]-1)*D:])
	}
	t.LNFinal.Apply(pooled, pooled, B)
	out := make([]float32, B*t.Proj.Out)
	t.Proj.Apply(out, pooled, B, false)
	return out
}

// EncodeText tokenizes texts (an error for any longer than the context) and
// encodes them: [len(texts), E], not normalised.
func (m *Model) EncodeText(texts []string) ([]float32, error) {
	seqs := make([][]int, len(texts))
	for i, s := range texts {
		ids, err := m.Tokenizer.Tokenize(s, m.Text.Context, false)
		if err != nil {
			return nil, err
		}
		seqs[i] = ids
	}
	return m.EncodeTokens(seqs)
}
