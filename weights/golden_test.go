package weights_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/weights"
)

// hfTarget is where an OpenAI tensor lands in the Hugging Face layout
// (docs/model.md#weight-names): one name, or the q/k/v split of an in_proj tensor, possibly
// transposed.
type hfTarget struct {
	names     []string // 1 name, or 3 for a q,k,v row split
	transpose bool
}

func openaiToHF(k string) (hfTarget, error) {
	one := func(n string) (hfTarget, error) { return hfTarget{names: []string{n}}, nil }
	switch k {
	case "logit_scale":
		return one("logit_scale")
	case "token_embedding.weight":
		return one("text_model.embeddings.token_embedding.weight")
	case "positional_embedding":
		return one("text_model.embeddings.position_embedding.weight")
	case "text_projection":
		return hfTarget{[]string{"text_projection.weight"}, true}, nil
	case "visual.class_embedding":
		return one("vision_model.embeddings.class_embedding")
	case "visual.conv1.weight":
		return one("vision_model.embeddings.patch_embedding.weight")
	case "visual.positional_embedding":
		return one("vision_model.embeddings.position_embedding.weight")
	case "visual.proj":
		return hfTarget{[]string{"visual_projection.weight"}, true}, nil
	}
	for _, p := range [][2]string{
		{"ln_final.", "text_model.final_layer_norm."},
		{"visual.ln_pre.", "vision_model.pre_layrnorm."},
		{"visual.ln_post.", "vision_model.post_layernorm."},
	} {
		if rest, ok := strings.CutPrefix(k, p[0]); ok {
			return one(p[1] + rest)
		}
	}
	var tower, rest string
	if r, ok := strings.CutPrefix(k, "visual.transformer.resblocks."); ok {
		tower, rest = "vision_model", r
	} else if r, ok := strings.CutPrefix(k, "transformer.resblocks."); ok {
		tower, rest = "text_model", r
	} else {
		return hfTarget{}, fmt.Errorf("unmapped OpenAI key %q", k)
	}
	i, sub, _ := strings.Cut(rest, ".")
	base := tower + ".encoder.layers." + i + "."
	switch sub {
	case "attn.in_proj_weight", "attn.in_proj_bias":
		kind := "weight"
		if strings.HasSuffix(sub, "bias") {
			kind = "bias"
		}
		var ns []string
		for _, q := range []string{"q", "k", "v"} {
			ns = append(ns, base+"self_attn."+q+"_proj."+kind)
		}
		return hfTarget{names: ns}, nil
	}
	for _, p := range [][2]string{
		{"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."},
		{"attn.out_proj.", "self_attn.out_proj."},
		{"mlp.c_fc.", "mlp.fc1."}, {"mlp.c_proj.", "mlp.fc2."},
	} {
		if r, ok := strings.CutPrefix(sub, p[0]); ok {
			return one(base + p[1] + r)
		}
	}
	return hfTarget{}, fmt.Errorf("unmapped OpenAI key %q", k)
}

func bitsEqual(a, b []float32) int {
	if len(a) != len(b) {
		return -2
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestGoldenTorchMatchesSafetensors reads the OpenAI-named torch.save
// checkpoint and checks every tensor, bit for bit, against the Hugging
// Face safetensors file of the same weights.
func TestGoldenTorchMatchesSafetensors(t *testing.T) {
	ptPath := golden.Path(t, "tiny-clip", "openai_state_dict.pt")
	stPath := golden.Path(t, "tiny-clip", "model.safetensors")
	pt, err := weights.ReadTorch(ptPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := weights.ReadSafetensors(stPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(pt.Tensors) != 146 {
		t.Errorf("%d tensors in the torch checkpoint, want 146", len(pt.Tensors))
	}
	covered := map[string]bool{}
	for _, k := range pt.Names() {
		x := pt.Tensors[k]
		if x.DType != "F32" || x.F32 == nil || len(x.F32) != x.Numel() {
			t.Errorf("%s: dtype %s, %d values for shape %v", k, x.DType, len(x.F32), x.Shape)
			continue
		}
		tg, err := openaiToHF(k)
		if err != nil {
			t.Error(err)
			continue
		}
		switch {
		case len(tg.names) == 3: // rows q, k, v
			chunk := len(x.F32) / 3
			for j, n := range tg.names {
				h, err := st.Float(n)
				if err != nil {
					t.Error(err)
					continue
				}
				if i := bitsEqual(x.F32[j*chunk:(j+1)*chunk], h.F32); i != -1 {
					t.Errorf("%s rows %d: differs from %s at %d", k, j, n, i)
				}
				covered[n] = true
			}
		case tg.transpose:
			n := tg.names[0]
			h, err := st.Float(n, x.Shape[1], x.Shape[0])
			if err != nil {
				t.Error(err)
				continue
			}
			r, c := x.Shape[0], x.Shape[1]
			tr := make([]float32, r*c)
			for i := range r {
				for j := range c {
					tr[j*r+i] = x.F32[i*c+j]
				}
			}
			if i := bitsEqual(tr, h.F32); i != -1 {
				t.Errorf("%s transposed differs from %s at %d", k, n, i)
			}
			covered[n] = true
		default:
			n := tg.names[0]
			h, err := st.Float(n, x.Shape...)
			if err != nil {
				t.Error(err)
				continue
			}
			if i := bitsEqual(x.F32, h.F32); i != -1 {
				t.Errorf("%s differs from %s at %d", k, n, i)
			}
			covered[n] = true
		}
	}
	for _, n := range st.Names() {
		if !covered[n] && !strings.HasSuffix(n, "position_ids") {
			t.Errorf("safetensors tensor %s has no OpenAI counterpart", n)
		}
	}
	ls := pt.Tensors["logit_scale"]
	if ls == nil || len(ls.Shape) != 0 || len(ls.F32) != 1 {
		t.Fatalf("logit_scale: %+v", ls)
	}
	t.Logf("%d OpenAI tensors matched %d HF tensors bitwise; logit_scale = %v", len(pt.Tensors), len(covered), ls.F32[0])

	// Read dispatches on content.
	for _, p := range []string{ptPath, stPath} {
		f, err := weights.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != p || len(f.Tensors) == 0 {
			t.Errorf("Read(%s): path %q, %d tensors", p, f.Path, len(f.Tensors))
		}
	}
}
