package dino

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/tensor/gemm"
	"github.com/freeseg/freeseg/weights"
)

// checkpointNames are looked for in a model folder, in this order.
var checkpointNames = []string{
	"model.safetensors",
	"pytorch_model.bin",
	"dino_vitbase8_pretrain.pth",
	"dino_vitbase16_pretrain.pth",
	"dino_deitsmall8_pretrain.pth",
	"dino_deitsmall16_pretrain.pth",
}

// HFConfig is the part of a Hugging Face ViTConfig freeseg reads.
type HFConfig struct {
	ModelType string `json:"model_type"`
	Hidden    int    `json:"hidden_size"`
	Layers    int    `json:"num_hidden_layers"`
	Heads     int    `json:"num_attention_heads"`
	Act       string `json:"hidden_act"`
	// layer_norm_eps is not read: a Hugging Face ViTConfig may carry its
	// default 1e-12, while DINO itself (and ProxyCLIP, which loads it from
	// torch hub) uses 1e-6.
	PatchSize   int `json:"patch_size"`
	NumChannels int `json:"num_channels"`
}

// Load reads a DINO ViT from a folder (a Hugging Face ViTModel folder such
// as facebook/dino-vitb8: config.json + model.safetensors or
// pytorch_model.bin; or a folder with a torch hub checkpoint such as
// dino_vitbase8_pretrain.pth) or from a checkpoint file. A config.json
// beside the checkpoint, when present, gives the head count and is checked
// against the shapes; without one the heads are width/64, as in every
// published DINO.
func Load(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vfm %s: %w", path, err)
	}
	dir, file := path, path
	if st.IsDir() {
		if file, err = findCheckpoint(path); err != nil {
			return nil, err
		}
	} else {
		dir = filepath.Dir(path)
	}
	var cfg *HFConfig
	cfgPath := filepath.Join(dir, "config.json")
	if b, err := os.ReadFile(cfgPath); err == nil {
		cfg = new(HFConfig)
		if err := json.Unmarshal(b, cfg); err != nil {
			return nil, fmt.Errorf("vfm %s: %w", cfgPath, err)
		}
		if cfg.ModelType != "" && cfg.ModelType != "vit" && cfg.ModelType != "dino" {
			return nil, fmt.Errorf("vfm %s: model_type %q is not a ViT (want a DINO ViTModel such as facebook/dino-vitb8)", cfgPath, cfg.ModelType)
		}
		if a := strings.ToLower(cfg.Act); a != "" && a != "gelu" {
			return nil, fmt.Errorf("vfm %s: hidden_act %q: DINO uses exact GELU", cfgPath, cfg.Act)
		}
	}
	wf, err := weights.Read(file)
	if err != nil {
		return nil, fmt.Errorf("vfm %s: %w", file, err)
	}
	m, err := FromWeights(wf, cfg)
	if err != nil {
		return nil, err
	}
	m.Path = file
	return m, nil
}

func findCheckpoint(dir string) (string, error) {
	for _, n := range checkpointNames {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	var cands []string
	for _, pat := range []string{"*.safetensors", "*.pth", "*.pt", "*.bin"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		cands = append(cands, m...)
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		return "", fmt.Errorf("vfm folder %s: no checkpoint (looked for %s, *.safetensors, *.pth, *.bin)", dir, strings.Join(checkpointNames, ", "))
	}
	return "", fmt.Errorf("vfm folder %s: several checkpoints (%d); name one file instead", dir, len(cands))
}

var (
	hfLayer = regexp.MustCompile(`^encoder\.layer\.(\d+)\.(.+)$`)
	hubName = regexp.MustCompile(`^blocks\.(\d+)\.`)
)

// canonicalize maps both layouts onto the torch hub names of
// facebookresearch/dino (cls_token, pos_embed, patch_embed.proj.*,
// blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*, norm.*),
// stacking the Hugging Face query/key/value projections into qkv.
func canonicalize(f *weights.File) (map[string]*weights.Tensor, error) {
	src := map[string]*weights.Tensor{}
	for name, t := range f.Tensors {
		// A training checkpoint holds the student and the teacher; DINO's
		// released backbones are the teacher's.
		if strings.HasPrefix(name, "student.") || t.F32 == nil {
			continue
		}
		n, prev := name, ""
		for n != prev {
			prev = n
			for _, p := range []string{"module.", "backbone.", "teacher.", "vit.", "dino."} {
				n = strings.TrimPrefix(n, p)
			}
		}
		src[n] = t
	}
	if _, ok := src["patch_embed.proj.weight"]; ok {
		return src, nil
	}
	if _, ok := src["embeddings.patch_embeddings.projection.weight"]; !ok {
		return nil, fmt.Errorf("%s: not a DINO ViT checkpoint (no patch_embed.proj.weight or embeddings.patch_embeddings.projection.weight among %d tensors)", f.Path, len(f.Tensors))
	}
	out := map[string]*weights.Tensor{}
	simple := map[string]string{
		"embeddings.cls_token":                          "cls_token",
		"embeddings.position_embeddings":                "pos_embed",
		"embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
		"embeddings.patch_embeddings.projection.bias":   "patch_embed.proj.bias",
		"layernorm.weight":                              "norm.weight",
		"layernorm.bias":                                "norm.bias",
	}
	for hf, hub := range simple {
		if t, ok := src[hf]; ok {
			out[hub] = t
		}
	}
	parts := map[string]string{
		"layernorm_before.weight": "norm1.weight", "layernorm_before.bias": "norm1.bias",
		"layernorm_after.weight": "norm2.weight", "layernorm_after.bias": "norm2.bias",
		"attention.output.dense.weight": "attn.proj.weight", "attention.output.dense.bias": "attn.proj.bias",
		"intermediate.dense.weight": "mlp.fc1.weight", "intermediate.dense.bias": "mlp.fc1.bias",
		"output.dense.weight": "mlp.fc2.weight", "output.dense.bias": "mlp.fc2.bias",
	}
	type qkvKey struct{ layer, kind string }
	qkv := map[qkvKey]*[3]*weights.Tensor{}
	for name, t := range src {
		m := hfLayer.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		prefix := "blocks." + m[1] + "."
		if hub, ok := parts[m[2]]; ok {
			out[prefix+hub] = t
			continue
		}
		for i, p := range []string{"query", "key", "value"} {
			for _, kind := range []string{"weight", "bias"} {
				if m[2] == "attention.attention."+p+"."+kind {
					k := qkvKey{prefix, kind}
					if qkv[k] == nil {
						qkv[k] = new([3]*weights.Tensor)
					}
					qkv[k][i] = t
				}
			}
		}
	}
	for k, p := range qkv {
		var cat []float32
		for i, t := range p {
			if t == nil {
				return nil, fmt.Errorf("%s: layer %s: missing attention.attention.%s.%s", f.Path, k.layer, []string{"query", "key", "value"}[i], k.kind)
			}
			if len(t.F32) != len(p[0].F32) {
				return nil, fmt.Errorf("%s: layer %s: query/key/value %s sizes differ", f.Path, k.layer, k.kind)
			}
			cat = append(cat, t.F32...)
		}
		shape := append([]int(nil), p[0].Shape...)
		shape[0] *= 3
		out[k.layer+"attn.qkv."+k.kind] = &weights.Tensor{Name: k.layer + "attn.qkv." + k.kind, DType: p[0].DType, Shape: shape, F32: cat}
	}
	return out, nil
}

// FromWeights builds a model from a checkpoint in either layout; cfg (may
// be nil) is the folder's config.json.
func FromWeights(f *weights.File, cfg *HFConfig) (*Model, error) {
	w, err := canonicalize(f)
	if err != nil {
		return nil, err
	}
	c, err := inferConfig(f.Path, w, cfg)
	if err != nil {
		return nil, err
	}
	b := &builder{path: f.Path, w: w}
	D, p := c.Width, c.Patch
	m := &Model{Config: c}
	conv := b.get("patch_embed.proj.weight", D, 3, p, p)
	m.PatchEmbed = clip.Linear{In: 3 * p * p, Out: D, B: b.get("patch_embed.proj.bias", D)}
	if b.err == nil {
		m.PatchEmbed.W = gemm.PackB(true, 3*p*p, D, conv, 3*p*p)
	}
	m.CLS = b.get("cls_token", 1, 1, D)
	m.Pos = b.get("pos_embed", 1, 1+c.Grid*c.Grid, D)
	for l := 0; l < c.Layers; l++ {
		pre := fmt.Sprintf("blocks.%d.", l)
		m.Blocks = append(m.Blocks, Block{
			Norm1: b.ln(pre+"norm1", D, c.Eps),
			Norm2: b.ln(pre+"norm2", D, c.Eps),
			QKV:   b.linear(pre+"attn.qkv", D, 3*D),
			Proj:  b.linear(pre+"attn.proj", D, D),
			FC1:   b.linear(pre+"mlp.fc1", D, c.MLP),
			FC2:   b.linear(pre+"mlp.fc2", c.MLP, D),
		})
	}
	m.Norm = b.ln("norm", D, c.Eps)
	if b.err != nil {
		return nil, b.err
	}
	return m, nil
}

func inferConfig(path string, w map[string]*weights.Tensor, cfg *HFConfig) (Config, error) {
	c := Config{Eps: 1e-6}
	conv, ok := w["patch_embed.proj.weight"]
	if !ok || len(conv.Shape) != 4 || conv.Shape[1] != 3 || conv.Shape[2] != conv.Shape[3] || conv.Shape[0] < 1 || conv.Shape[2] < 1 {
		return c, fmt.Errorf("%s: patch embedding weight missing or not [width,3,p,p]", path)
	}
	c.Width, c.Patch = conv.Shape[0], conv.Shape[2]
	pos, ok := w["pos_embed"]
	if !ok || len(pos.Shape) != 3 || pos.Shape[0] != 1 || pos.Shape[2] != c.Width {
		return c, fmt.Errorf("%s: pos_embed missing or not [1, 1+g², %d]", path, c.Width)
	}
	g := int(math.Round(math.Sqrt(float64(pos.Shape[1] - 1))))
	if g < 1 || g*g != pos.Shape[1]-1 {
		return c, fmt.Errorf("%s: pos_embed has %d rows, want 1+g² for a square grid", path, pos.Shape[1])
	}
	c.Grid = g
	seen := map[int]bool{}
	for name := range w {
		if m := hubName.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[1])
			seen[i] = true
		}
	}
	idx := make([]int, 0, len(seen))
	for i := range seen {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for n, i := range idx {
		if i != n {
			return c, fmt.Errorf("%s: transformer blocks are not numbered 0..%d (block %d missing)", path, len(idx)-1, n)
		}
	}
	c.Layers = len(idx)
	if c.Layers == 0 {
		return c, fmt.Errorf("%s: no transformer blocks", path)
	}
	fc1, ok := w["blocks.0.mlp.fc1.weight"]
	if !ok || len(fc1.Shape) != 2 {
		return c, fmt.Errorf("%s: blocks.0.mlp.fc1.weight missing or not 2-D", path)
	}
	c.MLP = fc1.Shape[0]
	if c.MLP < 1 {
		return c, fmt.Errorf("%s: blocks.0.mlp.fc1.weight has shape %v", path, fc1.Shape)
	}
	switch {
	case cfg != nil && cfg.Heads > 0:
		c.Heads = cfg.Heads
		if cfg.Hidden != 0 && cfg.Hidden != c.Width {
			return c, fmt.Errorf("%s: config.json hidden_size %d, but the weights have width %d", path, cfg.Hidden, c.Width)
		}
		if cfg.Layers != 0 && cfg.Layers != c.Layers {
			return c, fmt.Errorf("%s: config.json num_hidden_layers %d, but the weights have %d blocks", path, cfg.Layers, c.Layers)
		}
	case c.Width%64 == 0:
		c.Heads = c.Width / 64
	default:
		return c, fmt.Errorf("%s: width %d is not a multiple of 64 and there is no config.json giving num_attention_heads", path, c.Width)
	}
	if c.Width%c.Heads != 0 {
		return c, fmt.Errorf("%s: width %d is not divisible into %d heads", path, c.Width, c.Heads)
	}
	return c, nil
}

// builder fetches canonical tensors, checking shapes and values, and keeps
// the first error.
type builder struct {
	path string
	w    map[string]*weights.Tensor
	err  error
}

func (b *builder) get(name string, shape ...int) []float32 {
	if b.err != nil {
		return nil
	}
	t, ok := b.w[name]
	if !ok {
		b.err = fmt.Errorf("%s: missing tensor %q", b.path, name)
		return nil
	}
	same := len(t.Shape) == len(shape)
	for i := 0; same && i < len(shape); i++ {
		same = t.Shape[i] == shape[i]
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if !same || len(t.F32) != n {
		b.err = fmt.Errorf("%s: tensor %q has shape %v, want %v", b.path, name, t.Shape, shape)
		return nil
	}
	for _, v := range t.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			b.err = fmt.Errorf("%s: tensor %q holds NaN or Inf values (corrupt checkpoint?)", b.path, name)
			return nil
		}
	}
	return t.F32
}

func (b *builder) linear(prefix string, in, out int) clip.Linear {
	w := b.get(prefix+".weight", out, in)
	l := clip.Linear{In: in, Out: out, B: b.get(prefix+".bias", out)}
	if b.err == nil {
		l.W = gemm.PackB(true, in, out, w, in)
		delete(b.w, prefix+".weight")
	}
	return l
}

func (b *builder) ln(prefix string, d int, eps float64) LayerNorm {
	return LayerNorm{W: b.get(prefix+".weight", d), B: b.get(prefix+".bias", d), Eps: eps}
}
