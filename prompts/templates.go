package prompts

import (
	"fmt"
	"slices"
	"strings"
)

// Placeholder is the slot in a template that [Fill] replaces with a class name.
const Placeholder = "{}"

// OpenAI80 is OpenAI's 80 ImageNet prompt templates, in their original order:
// openai_imagenet_template of wangf3014/SCLIP prompts/imagenet_template.py
// (commit 73446ae4fe18812847da7e90be47fb646f68331e), there written as
// lambdas such as `lambda c: f'a bad photo of a {c}.'`. It is the list SCLIP,
// NACLIP and ClearCLIP ensemble over. The same 80 strings, in the same order,
// are imagenet_templates of openai/CLIP
// notebooks/Prompt_Engineering_for_ImageNet.ipynb (commit
// 0f8656596bf596470b4d6d84ab1a086545b4ffaa) and openai_imagenet_template of
// mc-lan/ClearCLIP prompts/imagenet_template.py (commit
// afe06b8e42eb9623f6eb9da0cb0628bcc439a76d).
//
// Note the original's grammar ("a origami {}.", "a embroidered {}.",
// "itap of a {}."): these are the published strings and must not be fixed.
// Do not modify the slice; [Templates] returns copies.
var OpenAI80 = []string{
	"a bad photo of a {}.",
	"a photo of many {}.",
	"a sculpture of a {}.",
	"a photo of the hard to see {}.",
	"a low resolution photo of the {}.",
	"a rendering of a {}.",
	"graffiti of a {}.",
	"a bad photo of the {}.",
	"a cropped photo of the {}.",
	"a tattoo of a {}.",
	"the embroidered {}.",
	"a photo of a hard to see {}.",
	"a bright photo of a {}.",
	"a photo of a clean {}.",
	"a photo of a dirty {}.",
	"a dark photo of the {}.",
	"a drawing of a {}.",
	"a photo of my {}.",
	"the plastic {}.",
	"a photo of the cool {}.",
	"a close-up photo of a {}.",
	"a black and white photo of the {}.",
	"a painting of the {}.",
	"a painting of a {}.",
	"a pixelated photo of the {}.",
	"a sculpture of the {}.",
	"a bright photo of the {}.",
	"a cropped photo of a {}.",
	"a plastic {}.",
	"a photo of the dirty {}.",
	"a jpeg corrupted photo of a {}.",
	"a blurry photo of the {}.",
	"a photo of the {}.",
	"a good photo of the {}.",
	"a rendering of the {}.",
	"a {} in a video game.",
	"a photo of one {}.",
	"a doodle of a {}.",
	"a close-up photo of the {}.",
	"a photo of a {}.",
	"the origami {}.",
	"the {} in a video game.",
	"a sketch of a {}.",
	"a doodle of the {}.",
	"a origami {}.",
	"a low resolution photo of a {}.",
	"the toy {}.",
	"a rendition of the {}.",
	"a photo of the clean {}.",
	"a photo of a large {}.",
	"a rendition of a {}.",
	"a photo of a nice {}.",
	"a photo of a weird {}.",
	"a blurry photo of a {}.",
	"a cartoon {}.",
	"art of a {}.",
	"a sketch of the {}.",
	"a embroidered {}.",
	"a pixelated photo of a {}.",
	"itap of the {}.",
	"a jpeg corrupted photo of the {}.",
	"a good photo of a {}.",
	"a plushie {}.",
	"a photo of the nice {}.",
	"a photo of the small {}.",
	"a photo of the weird {}.",
	"the cartoon {}.",
	"art of the {}.",
	"a drawing of the {}.",
	"a photo of the large {}.",
	"a black and white photo of a {}.",
	"the plushie {}.",
	"a dark photo of a {}.",
	"itap of a {}.",
	"graffiti of the {}.",
	"a toy {}.",
	"itap of my {}.",
	"a photo of a cool {}.",
	"a photo of a small {}.",
	"a tattoo of the {}.",
}

// Surgery85 is CLIP Surgery's default prompt templates: the prompt_templates
// list of encode_text_with_prompt_ensemble in xmed-lab/CLIP_Surgery
// clip/clip.py (commit 9f5be11f1de1a2df1e4b2830107431b54205297a). Its
// first 80 entries are [OpenAI80], identical and in the same order; the last
// five are MaskCLIP's scene templates (maskclip_templates in ClearCLIP's
// prompts/imagenet_template.py).
//
// Do not modify the slice; [Templates] returns copies.
var Surgery85 = append(slices.Clip(OpenAI80), sceneTemplates...)

// sceneTemplates are the five scene templates CLIP Surgery appends to the
// 80 ImageNet ones.
var sceneTemplates = []string{
	"there is a {} in the scene.",
	"there is the {} in the scene.",
	"this is a {} in the scene.",
	"this is the {} in the scene.",
	"this is one {} in the scene.",
}

// Single is the one-template "ensemble".
var Single = []string{"a photo of a {}."}

// templateSets maps the names accepted by [Templates] to the lists.
var templateSets = map[string][]string{
	"surgery85": Surgery85,
	"openai80":  OpenAI80,
	"single":    Single,
}

// TemplateSetNames returns the names [Templates] accepts, sorted.
func TemplateSetNames() []string {
	names := make([]string, 0, len(templateSets))
	for n := range templateSets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TemplateSet names a template list: "surgery85" ([Surgery85]), "openai80"
// ([OpenAI80]) or "single" ([Single]).
type TemplateSet string

// The template sets.
const (
	SetOpenAI80  TemplateSet = "openai80"
	SetSurgery85 TemplateSet = "surgery85"
	SetSingle    TemplateSet = "single"
)

func (t TemplateSet) String() string { return string(t) }

// ParseTemplateSet reads a template set's name (any case).
func ParseTemplateSet(s string) (TemplateSet, error) {
	n := TemplateSet(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := templateSets[string(n)]; !ok {
		return "", fmt.Errorf("prompts: unknown template set %q (valid: %s)", s, strings.Join(TemplateSetNames(), ", "))
	}
	return n, nil
}

// List returns a copy of the set's templates.
func (t TemplateSet) List() ([]string, error) { return Templates(string(t)) }

// Templates returns a copy of the named template list: "surgery85"
// ([Surgery85]), "openai80" ([OpenAI80]) or "single" ([Single]).
func Templates(name string) ([]string, error) {
	t, ok := templateSets[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return nil, fmt.Errorf("prompts: unknown template set %q (valid: %s)", name, strings.Join(TemplateSetNames(), ", "))
	}
	return slices.Clone(t), nil
}

// Fill puts name into template at every "{}" ([Placeholder]); the published
// templates have exactly one. This is Python's template.format(name) for
// these templates. The name is inserted as given: an empty name yields, for
// example, "a bad photo of a ." (CLIP Surgery's redundant-feature prompts),
// and a "{}" inside name is not expanded again.
func Fill(template, name string) string {
	return strings.ReplaceAll(template, Placeholder, name)
}
