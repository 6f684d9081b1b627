package freeseg

import (
	"math"
	"sort"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/weights"
)

// Zero-shot classification with CLIP's global embeddings (freeseg embed
// and classify): cosine similarities, and class probabilities where a
// class scores as its best synonym.

// Cosines is the cosine similarity of each of the na rows of a with each
// of the nb rows of b (rows of E values), rounded to 6 decimals as the
// commands print them.
func Cosines(a []float32, na int, b []float32, nb, E int) [][]float64 {
	out := make([][]float64, na)
	for i := range out {
		out[i] = make([]float64, nb)
		x := a[i*E : (i+1)*E]
		for j := range out[i] {
			y := b[j*E : (j+1)*E]
			var d, nx, ny float64
			for c := range x {
				d += float64(x[c]) * float64(y[c])
				nx += float64(x[c]) * float64(x[c])
				ny += float64(y[c]) * float64(y[c])
			}
			out[i][j] = round6(d / math.Sqrt(nx*ny))
		}
	}
	return out
}

// ClassProbs turns one image's cosines to the queries into the
// probabilities of classes classes: a class scores as its best synonym
// (classOf[q] is query q's class, as prompts.Vocabulary.Queries gives it),
// then a softmax at scale (the model's logit scale).
func ClassProbs(cos []float64, classOf []int, classes int, scale float64) []float64 {
	best := make([]float64, classes)
	for c := range best {
		best[c] = math.Inf(-1)
	}
	for q, c := range classOf {
		best[c] = math.Max(best[c], cos[q])
	}
	return softmaxScaled(best, scale)
}

func softmaxScaled(x []float64, scale float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v*scale)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(v*scale - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// Preprocess prepares img for the image encoder at n pixels: mode
// "openai" scales the short side to n and crops the center, "square"
// scales the whole image to n×n (CLIP Surgery). Another mode is a usage
// error.
func Preprocess(img *imageio.RGB, mode string, n int) ([]float32, error) {
	switch mode {
	case "openai":
		return imageio.PreprocessOpenAI(img, n), nil
	case "square":
		return imageio.PreprocessSquare(img, n), nil
	}
	return nil, Usagef("unknown --preprocess %q (want openai or square)", mode)
}

// EncodeImages is the global embeddings [n, E] of n images (CLIP's
// encode_image), image i read by load(i) and preprocessed by mode at the
// model's size: size, when not 0, must be that size. The images are
// loaded one at a time, so only their inputs are kept.
func EncodeImages(m *clip.Model, n int, load func(i int) (*imageio.RGB, error), mode string, size int) ([]float32, error) {
	S := m.Config.ImageSize()
	if size != 0 && size != S {
		return nil, Usagef("--size %d: encode_image runs at the model's %d pixels (use 'features' for dense features at other sizes)", size, S)
	}
	var pix []float32
	for i := range n {
		img, err := load(i)
		if err != nil {
			return nil, err
		}
		x, err := Preprocess(img, mode, S)
		if err != nil {
			return nil, err
		}
		pix = append(pix, x...)
	}
	return m.EncodeImage(pix, n, S, S)
}

// ClassProb is a class and its zero-shot probability.
type ClassProb struct {
	Class string  `json:"class"`
	Prob  float64 `json:"prob"`
}

// ZeroShot classifies n images, given as their embeddings [n, E]
// (EncodeImages), over vocab's classes with the prompt templates: for each
// image its classes by decreasing probability (ClassProbs, rounded to 6
// decimals), the best top of them when top > 0.
func (e *Engine) ZeroShot(img []float32, n int, vocab *prompts.Vocabulary, templates prompts.TemplateSet, top int) ([][]ClassProb, error) {
	queries, classOf := vocab.Queries()
	G, err := e.Classifier(queries, templates)
	if err != nil {
		return nil, err
	}
	m := e.Model
	scale := math.Exp(float64(m.LogitScale))
	cos := Cosines(img, n, G, len(queries), m.Config.EmbedDim)
	names := vocab.ClassNames()
	out := make([][]ClassProb, n)
	for i := range out {
		var list []ClassProb
		for k, p := range ClassProbs(cos[i], classOf, len(names), scale) {
			list = append(list, ClassProb{names[k], round6(p)})
		}
		sort.SliceStable(list, func(a, b int) bool { return list[a].Prob > list[b].Prob })
		if top > 0 && len(list) > top {
			list = list[:top]
		}
		out[i] = list
	}
	return out, nil
}

// Embeddings are the global embeddings of images and texts (freeseg
// embed): Image is [len(Images), E], Text [len(Texts), E].
type Embeddings struct {
	Images, Texts []string
	Image, Text   []float32
	E             int
	LogitScale    float64 // exp of the model's logit scale
}

// Embed encodes the images (EncodeImages; image i read by load(i)) and
// the texts with m.
func Embed(m *clip.Model, images []string, load func(i int) (*imageio.RGB, error), mode string, size int, texts []string) (*Embeddings, error) {
	em := &Embeddings{Images: images, Texts: texts, E: m.Config.EmbedDim, LogitScale: math.Exp(float64(m.LogitScale))}
	var err error
	if len(images) > 0 {
		if em.Image, err = EncodeImages(m, len(images), load, mode, size); err != nil {
			return nil, err
		}
	}
	if len(texts) > 0 {
		if em.Text, err = m.EncodeText(texts); err != nil {
			return nil, err
		}
	}
	return em, nil
}

// Tensors are the embeddings as the tensors image_embeds and text_embeds
// (those present).
func (em *Embeddings) Tensors() []*weights.Tensor {
	var ts []*weights.Tensor
	if em.Image != nil {
		ts = append(ts, &weights.Tensor{Name: "image_embeds", Shape: []int{len(em.Images), em.E}, F32: em.Image})
	}
	if em.Text != nil {
		ts = append(ts, &weights.Tensor{Name: "text_embeds", Shape: []int{len(em.Texts), em.E}, F32: em.Text})
	}
	return ts
}

// Report is freeseg embed's JSON object: the inputs, the embedding size
// and the cosines of the images with the texts (with the logit scale), or
// when only one kind is given, of its members with each other.
func (em *Embeddings) Report() map[string]any {
	rep := map[string]any{"images": em.Images, "texts": em.Texts, "embed_dim": em.E}
	switch {
	case em.Image != nil && em.Text != nil:
		rep["cosine"] = Cosines(em.Image, len(em.Images), em.Text, len(em.Texts), em.E)
		rep["logit_scale"] = em.LogitScale
	case em.Image != nil:
		rep["cosine"] = Cosines(em.Image, len(em.Images), em.Image, len(em.Images), em.E)
	default:
		rep["cosine"] = Cosines(em.Text, len(em.Texts), em.Text, len(em.Texts), em.E)
	}
	return rep
}
