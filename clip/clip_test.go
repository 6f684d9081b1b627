package clip_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/internal/testmodel"
	"github.com/freeseg/freeseg/prompts"
)

// goldenPrompts reads the prompt list of clip/text_embeds from golden.json.
func goldenPrompts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(golden.Path(t, "cases", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases struct {
			Clip struct {
				Prompts []string `json:"prompts"`
			} `json:"clip"`
			Text struct {
				Classes []string `json:"classes"`
			} `json:"text"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Cases.Clip.Prompts
}

// tol scales an absolute tolerance to the magnitude of the reference.
func tol(want []float32, rel float64) float64 {
	return rel * numtest.Peak(want) // NaN (a failing tolerance) when want is not finite
}

func TestGoldenConfigInferred(t *testing.T) {
	m := testmodel.Tiny(t)
	c := m.Config
	want := clip.Config{VisionWidth: 128, VisionLayers: 8, VisionHeads: 2, Patch: 16, Grid: 14, EmbedDim: 64,
		TextWidth: 128, TextLayers: 3, TextHeads: 2, ContextLength: 77, VocabSize: 49408, Act: clip.ActQuickGELU}
	if c != want {
		t.Fatalf("config %+v, want %+v", c, want)
	}
}

func TestGoldenEncodeImage(t *testing.T) {
	m := testmodel.Tiny(t)
	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/openai224")...)
	got, err := m.EncodeImage(imgs, 3, 224, 224)
	if err != nil {
		t.Fatal(err)
	}
	want := golden.Tensor(t, "clip/image_embeds").F32
	golden.AssertClose(t, "clip/image_embeds", got, want, tol(want, 1e-5))
}

func TestGoldenEncodeTextAndLogits(t *testing.T) {
	m := testmodel.Tiny(t)
	texts := goldenPrompts(t)
	if len(texts) != 8 {
		t.Fatalf("golden.json lists %d prompts, want 8", len(texts))
	}
	got, err := m.EncodeText(texts)
	if err != nil {
		t.Fatal(err)
	}
	want := golden.Tensor(t, "clip/text_embeds").F32
	golden.AssertClose(t, "clip/text_embeds", got, want, tol(want, 1e-5))

	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/openai224")...)
	img, err := m.EncodeImage(imgs, 3, 224, 224)
	if err != nil {
		t.Fatal(err)
	}
	logits := m.LogitsPerImage(img, 3, got, len(texts))
	wantL := golden.Tensor(t, "clip/logits_per_image").F32
	golden.AssertClose(t, "clip/logits_per_image", logits, wantL, tol(wantL, 1e-5))
}

func TestGoldenPromptEnsembles(t *testing.T) {
	m := testmodel.Tiny(t)
	classes := []string{"cat", "person", "sky", "coffee cup", "rocket"}
	for _, c := range []struct {
		key       string
		names     []string
		templates []string
	}{
		{"text/ensemble85", classes, prompts.Surgery85},
		{"text/ensemble80", classes, prompts.OpenAI80},
		{"text/ensemble85_empty", []string{""}, prompts.Surgery85},
	} {
		got, err := m.Classifier(c.names, c.templates)
		if err != nil {
			t.Fatal(err)
		}
		golden.AssertClose(t, c.key, got, golden.Tensor(t, c.key).F32, 1e-5)
	}
}

// The OpenAI-named torch checkpoint and the HF-named safetensors hold the
// same weights: both must load to the same model and the same outputs.
func TestGoldenTorchCheckpointMatchesSafetensors(t *testing.T) {
	hf := testmodel.Tiny(t)
	pt, err := clip.Load(golden.Path(t, "tiny-clip", "openai_state_dict.pt"))
	if err != nil {
		t.Fatal(err)
	}
	if pt.Config != hf.Config {
		t.Fatalf("torch config %+v differs from safetensors %+v", pt.Config, hf.Config)
	}
	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/openai224")...)
	a, err := pt.EncodeImage(imgs, 3, 224, 224)
	if err != nil {
		t.Fatal(err)
	}
	want := golden.Tensor(t, "clip/image_embeds").F32
	golden.AssertClose(t, "clip/image_embeds (openai_state_dict.pt)", a, want, tol(want, 1e-5))
	txt, err := pt.EncodeText(goldenPrompts(t))
	if err != nil {
		t.Fatal(err)
	}
	wantT := golden.Tensor(t, "clip/text_embeds").F32
	golden.AssertClose(t, "clip/text_embeds (openai_state_dict.pt)", txt, wantT, tol(wantT, 1e-5))
}
