package clip

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/freeseg/freeseg/tokenizer"
	"github.com/freeseg/freeseg/weights"
)

// weightFiles are the checkpoint names looked for in a model folder, in
// order of preference.
var weightFiles = []string{
	"model.safetensors",
	"open_clip_model.safetensors",
	"open_clip_pytorch_model.bin",
	"pytorch_model.bin",
}

// Load reads a model from a folder in the Hugging Face layout (config.json,
// model.safetensors or a torch .bin/.pt checkpoint, vocab.json and
// merges.txt or bpe_simple_vocab_16e6.txt.gz), or from a single checkpoint
// file. Without vocabulary files the built-in OpenAI vocabulary is used
// (every CLIP model shares it). Architecture sizes come from tensor shapes.
func Load(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	dir, file := path, ""
	if st.IsDir() {
		file, err = findCheckpoint(path)
		if err != nil {
			return nil, err
		}
	} else {
		dir, file = filepath.Dir(path), path
	}
	wf, err := weights.Read(file)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", file, err)
	}
	m, err := FromWeights(wf)
	if err != nil {
		return nil, err
	}
	if err := applyFolderConfig(m, dir); err != nil {
		return nil, err
	}
	m.Path = file
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		if st.IsDir() && hasAny(dir, "vocab.json", "merges.txt", "bpe_simple_vocab_16e6.txt.gz") {
			return nil, err // the folder has vocabulary files, but they are broken
		}
		tok = tokenizer.Default()
		m.BuiltinVocabulary = true
	}
	m.Tokenizer = tok
	return m, nil
}

func hasAny(dir string, names ...string) bool {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

func findCheckpoint(dir string) (string, error) {
	for _, n := range weightFiles {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	// Fall back to a single *.safetensors / *.pt / *.bin file in the folder.
	var cands []string
	for _, pat := range []string{"*.safetensors", "*.pt", "*.bin", "*.pth"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		cands = append(cands, m...)
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	if len(cands) > 1 {
		return "", fmt.Errorf("model folder %s: several checkpoints (%s); name one file instead", dir, strings.Join(baseNames(cands), ", "))
	}
	return "", fmt.Errorf("model folder %s: no checkpoint (looked for %s, *.safetensors, *.pt, *.bin)", dir, strings.Join(weightFiles, ", "))
}

func baseNames(p []string) []string {
	out := make([]string, len(p))
	for i, s := range p {
		out[i] = filepath.Base(s)
	}
	return out
}

// Digest returns the SHA-256 of the checkpoint file (computed once), which
// keys on-disk caches of text classifiers. Models built in memory return a
// digest of their configuration and seed instead.
func (m *Model) Digest() (string, error) {
	m.digestOnce.Do(func() {
		if m.Path == "" {
			m.digest = m.syntheticDigest
			return
		}
		f, err := os.Open(m.Path)
		if err != nil {
			m.digestErr = err
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			m.digestErr = fmt.Errorf("hashing %s: %w", m.Path, err)
			return
		}
		m.digest = hex.EncodeToString(h.Sum(nil))
	})
	return m.digest, m.digestErr
}

type digestState struct {
	digestOnce      sync.Once
	digest          string
	digestErr       error
	syntheticDigest string
}

// canonical names are OpenAI's state-dict names (docs/model.md#weight-names).
var (
	hfLayer  = regexp.MustCompile(`^(text|vision)_model\.encoder\.layers\.(\d+)\.(.+)$`)
	oaiBlock = regexp.MustCompile(`^(visual\.)?transformer\.resblocks\.(\d+)\.`)
)

// Canonicalize maps the tensors of a checkpoint in either the Hugging Face
// CLIPModel layout or the OpenAI/open_clip layout onto OpenAI names:
// q/k/v projections are stacked into in_proj (order q,k,v), the HF
// projection weights are transposed back, and integer buffers
// (position_ids) and unrelated keys are dropped (docs/model.md#weight-names).
func Canonicalize(f *weights.File) (map[string]*weights.Tensor, error) {
	src := map[string]*weights.Tensor{}
	for name, t := range f.Tensors {
		n := name
		for _, p := range []string{"module.", "state_dict.", "model."} {
			n = strings.TrimPrefix(n, p)
		}
		src[n] = t
	}
	if _, ok := src["vision_model.embeddings.patch_embedding.weight"]; ok {
		return fromHF(f.Path, src)
	}
	if _, ok := src["visual.conv1.weight"]; ok {
		out := map[string]*weights.Tensor{}
		for n, t := range src {
			if t.F32 == nil {
				continue // integer buffers and metadata
			}
			out[n] = t
		}
		return out, nil
	}
	if _, ok := src["visual.layer1.0.conv1.weight"]; ok {
		return nil, fmt.Errorf("%s: a ResNet CLIP checkpoint; freeseg supports ViT CLIP models only", f.Path)
	}
	return nil, fmt.Errorf("%s: not a CLIP checkpoint (no vision_model.embeddings.patch_embedding.weight or visual.conv1.weight among %d tensors)", f.Path, len(f.Tensors))
}

func fromHF(path string, src map[string]*weights.Tensor) (map[string]*weights.Tensor, error) {
	out := map[string]*weights.Tensor{}
	put := func(name string, t *weights.Tensor) {
		out[name] = &weights.Tensor{Name: name, DType: t.DType, Shape: t.Shape, F32: t.F32}
	}
	simple := map[string]string{
		"logit_scale": "logit_scale",
		"text_model.embeddings.token_embedding.weight":      "token_embedding.weight",
		"text_model.embeddings.position_embedding.weight":   "positional_embedding",
		"text_model.final_layer_norm.weight":                "ln_final.weight",
		"text_model.final_layer_norm.bias":                  "ln_final.bias",
		"vision_model.embeddings.class_embedding":           "visual.class_embedding",
		"vision_model.embeddings.patch_embedding.weight":    "visual.conv1.weight",
		"vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
		"vision_model.pre_layrnorm.weight":                  "visual.ln_pre.weight",
		"vision_model.pre_layrnorm.bias":                    "visual.ln_pre.bias",
		"vision_model.post_layernorm.weight":                "visual.ln_post.weight",
		"vision_model.post_layernorm.bias":                  "visual.ln_post.bias",
	}
	for hf, oai := range simple {
		if t, ok := src[hf]; ok && t.F32 != nil {
			put(oai, t)
		}
	}
	for hf, oai := range map[string]string{"text_projection.weight": "text_projection", "visual_projection.weight": "visual.proj"} {
		t, ok := src[hf]
		if !ok || t.F32 == nil {
			continue
		}
		if len(t.Shape) != 2 {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, want 2-D", path, hf, t.Shape)
		}
		out[oai] = transpose(oai, t)
	}
	layerParts := map[string]string{
		"layer_norm1.weight": "ln_1.weight", "layer_norm1.bias": "ln_1.bias",
		"layer_norm2.weight": "ln_2.weight", "layer_norm2.bias": "ln_2.bias",
		"self_attn.out_proj.weight": "attn.out_proj.weight", "self_attn.out_proj.bias": "attn.out_proj.bias",
		"mlp.fc1.weight": "mlp.c_fc.weight", "mlp.fc1.bias": "mlp.c_fc.bias",
		"mlp.fc2.weight": "mlp.c_proj.weight", "mlp.fc2.bias": "mlp.c_proj.bias",
	}
	type qkvKey struct {
		prefix string
		kind   string // weight or bias
	}
	qkv := map[qkvKey][3]*weights.Tensor{}
	for name, t := range src {
		m := hfLayer.FindStringSubmatch(name)
		if m == nil || t.F32 == nil {
			continue
		}
		prefix := "transformer.resblocks." + m[2] + "."
		if m[1] == "vision" {
			prefix = "visual." + prefix
		}
		if oai, ok := layerParts[m[3]]; ok {
			put(prefix+oai, t)
			continue
		}
		for i, p := range []string{"q", "k", "v"} {
			for _, kind := range []string{"weight", "bias"} {
				if m[3] == "self_attn."+p+"_proj."+kind {
					k := qkvKey{prefix, kind}
					parts := qkv[k]
					parts[i] = t
					qkv[k] = parts
				}
			}
		}
	}
	for k, parts := range qkv {
		for i, p := range parts {
			if p == nil {
				return nil, fmt.Errorf("%s: layer %s: missing %s_proj.%s", path, k.prefix, []string{"q", "k", "v"}[i], k.kind)
			}
		}
		n := len(parts[0].F32)
		if len(parts[1].F32) != n || len(parts[2].F32) != n {
			return nil, fmt.Errorf("%s: layer %s: q/k/v %s sizes differ", path, k.prefix, k.kind)
		}
		cat := make([]float32, 0, 3*n)
		for _, p := range parts {
			cat = append(cat, p.F32...)
		}
		shape := append([]int(nil), parts[0].Shape...)
		shape[0] *= 3
		name := k.prefix + "attn.in_proj_" + k.kind
		out[name] = &weights.Tensor{Name: name, DType: parts[0].DType, Shape: shape, F32: cat}
	}
	return out, nil
}

func transpose(name string, t *weights.Tensor) *weights.Tensor {
	r, c := t.Shape[0], t.Shape[1]
	d := make([]float32, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			d[j*r+i] = t.F32[i*c+j]
		}
	}
	return &weights.Tensor{Name: name, DType: t.DType, Shape: []int{c, r}, F32: d}
}

// InferConfig derives the architecture from canonical tensor shapes (docs/model.md#architecture-from-shapes). Head counts are width/64, as in OpenAI's build_model.
func InferConfig(path string, w map[string]*weights.Tensor) (Config, error) {
	var c Config
	get := func(name string, dims int) (*weights.Tensor, error) {
		t, ok := w[name]
		if !ok {
			return nil, fmt.Errorf("%s: missing tensor %q", path, name)
		}
		if len(t.Shape) != dims {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, want %d dimensions", path, name, t.Shape, dims)
		}
		return t, nil
	}
	conv, err := get("visual.conv1.weight", 4)
	if err != nil {
		return c, err
	}
	if conv.Shape[1] != 3 || conv.Shape[2] != conv.Shape[3] {
		return c, fmt.Errorf("%s: visual.conv1.weight has shape %v, want [width,3,p,p]", path, conv.Shape)
	}
	c.VisionWidth, c.Patch = conv.Shape[0], conv.Shape[3]
	pos, err := get("visual.positional_embedding", 2)
	if err != nil {
		return c, err
	}
	g := 0
	for g*g < pos.Shape[0]-1 {
		g++
	}
	if g*g != pos.Shape[0]-1 {
		return c, fmt.Errorf("%s: visual.positional_embedding has %d rows, want 1+g² for a square grid", path, pos.Shape[0])
	}
	c.Grid = g
	c.VisionLayers = countBlocks(w, "visual.transformer.resblocks.")
	c.TextLayers = countBlocks(w, "transformer.resblocks.")
	if c.VisionLayers == 0 {
		return c, fmt.Errorf("%s: no vision transformer blocks (visual.transformer.resblocks.*)", path)
	}
	if c.TextLayers == 0 {
		return c, fmt.Errorf("%s: no text transformer blocks (transformer.resblocks.*)", path)
	}
	tp, err := get("text_projection", 2)
	if err != nil {
		return c, err
	}
	c.EmbedDim = tp.Shape[1]
	lnf, err := get("ln_final.weight", 1)
	if err != nil {
		return c, err
	}
	c.TextWidth = lnf.Shape[0]
	tpos, err := get("positional_embedding", 2)
	if err != nil {
		return c, err
	}
	c.ContextLength = tpos.Shape[0]
	tok, err := get("token_embedding.weight", 2)
	if err != nil {
		return c, err
	}
	c.VocabSize = tok.Shape[0]
	if c.VisionWidth%64 != 0 || c.TextWidth%64 != 0 {
		return c, fmt.Errorf("%s: widths %d/%d are not multiples of the 64-wide attention heads", path, c.VisionWidth, c.TextWidth)
	}
	c.VisionHeads, c.TextHeads = headsFor(c.VisionWidth), headsFor(c.TextWidth)
	return c, nil
}

func countBlocks(w map[string]*weights.Tensor, prefix string) int {
	seen := map[int]bool{}
	for name := range w {
		m := oaiBlock.FindStringSubmatch(name)
		if m == nil || (m[1] != "") != strings.HasPrefix(prefix, "visual.") {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		seen[i] = true
	}
	idx := make([]int, 0, len(seen))
	for i := range seen {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for n, i := range idx { // require 0..L-1 without gaps
		if i != n {
			return 0
		}
	}
	return len(idx)
}
