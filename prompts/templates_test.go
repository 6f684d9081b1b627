package prompts

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// sha256 of the lists joined with "\n", computed from the Python sources
// (CLIP_Surgery clip/clip.py prompt_templates; SCLIP imagenet_template.py
// openai_imagenet_template with {c} written {}), independently of the Go
// literals.
const (
	surgery85SHA = "f87d863dc7a96d46812438cf13a8a071e340f7be26222d17a0b61d41d28c0984"
	openai80SHA  = "4f976686fb651bb5803d4689dcd849f75efe0ef19a3c801355bc9a6f03c8a5af"
)

func listSHA(l []string) string {
	h := sha256.Sum256([]byte(strings.Join(l, "\n")))
	return hex.EncodeToString(h[:])
}

func TestTemplateCounts(t *testing.T) {
	if len(Surgery85) != 85 {
		t.Errorf("len(Surgery85) = %d, want 85", len(Surgery85))
	}
	if len(OpenAI80) != 80 {
		t.Errorf("len(OpenAI80) = %d, want 80", len(OpenAI80))
	}
	if len(Single) != 1 || Single[0] != "a photo of a {}." {
		t.Errorf("Single = %q", Single)
	}
}

func TestTemplateDigests(t *testing.T) {
	if got := listSHA(Surgery85); got != surgery85SHA {
		t.Errorf("Surgery85 digest %s, want %s (a template was edited)", got, surgery85SHA)
	}
	if got := listSHA(OpenAI80); got != openai80SHA {
		t.Errorf("OpenAI80 digest %s, want %s (a template was edited)", got, openai80SHA)
	}
}

func TestTemplateEnds(t *testing.T) {
	checks := []struct {
		list []string
		i    int
		want string
	}{
		{OpenAI80, 0, "a bad photo of a {}."},
		{OpenAI80, 1, "a photo of many {}."},
		{OpenAI80, 35, "a {} in a video game."},
		{OpenAI80, 44, "a origami {}."},
		{OpenAI80, 79, "a tattoo of the {}."},
		{Surgery85, 0, "a bad photo of a {}."},
		{Surgery85, 79, "a tattoo of the {}."},
		{Surgery85, 80, "there is a {} in the scene."},
		{Surgery85, 84, "this is one {} in the scene."},
	}
	for _, c := range checks {
		if c.list[c.i] != c.want {
			t.Errorf("entry %d = %q, want %q", c.i, c.list[c.i], c.want)
		}
	}
}

// TestSurgeryExtendsOpenAI pins what was found in the sources: CLIP
// Surgery's first 80 templates are OpenAI's 80, same strings, same order,
// and the five extra are MaskCLIP's scene templates.
func TestSurgeryExtendsOpenAI(t *testing.T) {
	if !slices.Equal(Surgery85[:80], OpenAI80) {
		for i := range OpenAI80 {
			if Surgery85[i] != OpenAI80[i] {
				t.Errorf("Surgery85[%d] = %q, OpenAI80[%d] = %q", i, Surgery85[i], i, OpenAI80[i])
			}
		}
	}
	scene := []string{
		"there is a {} in the scene.",
		"there is the {} in the scene.",
		"this is a {} in the scene.",
		"this is the {} in the scene.",
		"this is one {} in the scene.",
	}
	if !slices.Equal(Surgery85[80:], scene) {
		t.Errorf("Surgery85[80:] = %q, want %q", Surgery85[80:], scene)
	}
}

func TestTemplateShape(t *testing.T) {
	for name, list := range templateSets {
		seen := map[string]int{}
		for i, tpl := range list {
			if n := strings.Count(tpl, Placeholder); n != 1 {
				t.Errorf("%s[%d] %q has %d placeholders, want 1", name, i, tpl, n)
			}
			if strings.Count(tpl, "{") != 1 || strings.Count(tpl, "}") != 1 {
				t.Errorf("%s[%d] %q has stray braces", name, i, tpl)
			}
			if tpl != strings.TrimSpace(tpl) || strings.Contains(tpl, "  ") {
				t.Errorf("%s[%d] %q has irregular spacing", name, i, tpl)
			}
			if !strings.HasSuffix(tpl, ".") {
				t.Errorf("%s[%d] %q does not end with a period", name, i, tpl)
			}
			if tpl != strings.ToLower(tpl) {
				t.Errorf("%s[%d] %q is not lower case", name, i, tpl)
			}
			if j, dup := seen[tpl]; dup {
				t.Errorf("%s[%d] repeats %s[%d] %q", name, i, name, j, tpl)
			}
			seen[tpl] = i
		}
	}
}

func TestTemplatesLookup(t *testing.T) {
	for name, n := range map[string]int{"surgery85": 85, "openai80": 80, "single": 1, " OpenAI80 ": 80} {
		l, err := Templates(name)
		if err != nil {
			t.Fatalf("Templates(%q): %v", name, err)
		}
		if len(l) != n {
			t.Errorf("Templates(%q) has %d, want %d", name, len(l), n)
		}
	}
	l, _ := Templates("openai80")
	l[0] = "changed {}"
	if OpenAI80[0] != "a bad photo of a {}." {
		t.Fatal("Templates returned the package slice, not a copy")
	}
	_, err := Templates("imagenet")
	if err == nil {
		t.Fatal("Templates(imagenet): no error")
	}
	for _, n := range []string{"surgery85", "openai80", "single"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not list %q", err, n)
		}
	}
}

func TestFill(t *testing.T) {
	cases := []struct{ tpl, name, want string }{
		{"a bad photo of a {}.", "cat", "a bad photo of a cat."},
		{"a {} in a video game.", "coffee cup", "a coffee cup in a video game."},
		{"a bad photo of a {}.", "", "a bad photo of a ."},
		{"this is one {} in the scene.", "person in shirt", "this is one person in shirt in the scene."},
		{"a photo of a {}.", "{}", "a photo of a {}."},
	}
	for _, c := range cases {
		if got := Fill(c.tpl, c.name); got != c.want {
			t.Errorf("Fill(%q, %q) = %q, want %q", c.tpl, c.name, got, c.want)
		}
	}
}
