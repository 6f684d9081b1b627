package clip

import (
	"fmt"
	"math"

	"github.com/freeseg/freeseg/prompts"
)

// Classifier builds the prompt-ensemble text classifier of docs/model.md#text-classifier (CLIP
// Surgery encode_text_with_prompt_ensemble, SCLIP/NACLIP/ClearCLIP
// __init__): for each name, every template is filled and encoded, each
// embedding L2-normalised, the mean taken and L2-normalised again.
// Returns [len(names), E] with unit rows. An empty name is allowed (CLIP
// Surgery's redundant feature is the ensemble of "").
func (m *Model) Classifier(names, templates []string) ([]float32, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("classifier: no class names")
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("classifier: no templates")
	}
	M := len(templates)
	seqs := make([][]int, 0, len(names)*M)
	groups := make([][]int, M) // prompts by template, for the shared-prefix path
	vocab := len(m.Text.TokenEmbedding) / m.Text.Width
	for _, n := range names {
		for j, tpl := range templates {
			ids, err := m.Tokenizer.Tokenize(prompts.Fill(tpl, n), m.Text.Context, false)
			if err != nil {
				return nil, fmt.Errorf("class %q: %w", n, err)
			}
			for _, id := range ids {
				if id < 0 || id >= vocab {
					return nil, fmt.Errorf("class %q: token id %d outside the model's vocabulary of %d", n, id, vocab)
				}
			}
			groups[j] = append(groups[j], len(seqs))
			seqs = append(seqs, ids)
		}
	}
	emb, err := m.encodeTemplateGroups(seqs, groups)
	if err != nil {
		return nil, err
	}
	E := m.Config.EmbedDim
	return EnsembleMean(emb, len(names), M, E), nil
}

// EnsembleMean reduces [K·M, E] prompt embeddings (M per class, in class
// order) to [K, E]: normalise, average, normalise.
func EnsembleMean(emb []float32, K, M, E int) []float32 {
	out := make([]float32, K*E)
	acc := make([]float64, E)
	for k := 0; k < K; k++ {
		clear(acc)
		for j := 0; j < M; j++ {
			row := emb[(k*M+j)*E : (k*M+j+1)*E]
			inv := 1 / norm(row)
			for i, v := range row {
				acc[i] += float64(float32(float64(v) * inv))
			}
		}
		var s float64
		for i := range acc {
			acc[i] /= float64(M)
			s += acc[i] * acc[i]
		}
		inv := 1 / math.Sqrt(s)
		for i := range acc {
			out[k*E+i] = float32(acc[i] * inv)
		}
	}
	return out
}

func norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// LogitsPerImage is exp(logit_scale)·cos(image_i, text_j): [nImg, nText].
func (m *Model) LogitsPerImage(img []float32, nImg int, txt []float32, nText int) []float32 {
	E := m.Config.EmbedDim
	scale := math.Exp(float64(m.LogitScale))
	out := make([]float32, nImg*nText)
	for i := 0; i < nImg; i++ {
		a := img[i*E : (i+1)*E]
		na := norm(a)
		for j := 0; j < nText; j++ {
			b := txt[j*E : (j+1)*E]
			var dot float64
			for c := range a {
				dot += float64(a[c]) * float64(b[c])
			}
			out[i*nText+j] = float32(scale * dot / (na * norm(b)))
		}
	}
	return out
}
