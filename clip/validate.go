package clip

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/freeseg/freeseg/weights"
)

// canonicalPrefixes are the names of the tensors a model is built from;
// other tensors of a checkpoint (buffers such as position_ids) are ignored
// here as by the builder.
var canonicalPrefixes = []string{"visual.", "transformer.", "token_embedding.", "positional_embedding",
	"ln_final.", "text_projection", "logit_scale"}

// maxLogitScale bounds the stored (log) temperature: exp of it must stay
// finite in float32 (exp(88.7) overflows). CLIP clamps it to ln(100) ≈ 4.6
// in training, so any real checkpoint is far below.
const maxLogitScale = 80

// validateShapes checks the inferred configuration and the canonical
// tensors before anything is built from them: every size positive, heads
// dividing the widths, the positional tables matching the grid and the
// widths, and a finite temperature. Shapes that are valid for the tensor
// format but not for the model (a patch convolution [128,3,0,0], a
// positional table of one row) would otherwise load and then divide by
// zero or index out of range on the first image.
func validateShapes(path string, c Config, w map[string]*weights.Tensor) error {
	sizes := []struct {
		name string
		v    int
		from string
	}{
		{"vision width", c.VisionWidth, "visual.conv1.weight dim 0"},
		{"patch size", c.Patch, "visual.conv1.weight dims 2, 3"},
		{"grid", c.Grid, "visual.positional_embedding rows = 1 + grid²"},
		{"vision layers", c.VisionLayers, "visual.transformer.resblocks.*"},
		{"vision heads", c.VisionHeads, "the vision width"},
		{"embedding size", c.EmbedDim, "text_projection dim 1"},
		{"text width", c.TextWidth, "ln_final.weight"},
		{"text layers", c.TextLayers, "transformer.resblocks.*"},
		{"text heads", c.TextHeads, "the text width"},
		{"context length", c.ContextLength, "positional_embedding rows"},
		{"vocabulary size", c.VocabSize, "token_embedding.weight rows"},
	}
	for _, s := range sizes {
		if s.v <= 0 {
			return fmt.Errorf("%s: %s is %d (from %s): every size of the model must be positive", path, s.name, s.v, s.from)
		}
	}
	if c.VisionWidth%c.VisionHeads != 0 || c.TextWidth%c.TextHeads != 0 {
		return fmt.Errorf("%s: %d vision heads do not divide the width %d, or %d text heads the width %d",
			path, c.VisionHeads, c.VisionWidth, c.TextHeads, c.TextWidth)
	}
	if c.ContextLength < 2 {
		return fmt.Errorf("%s: context length %d cannot hold the start and end tokens", path, c.ContextLength)
	}
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names) // the first bad tensor in name order, so the error is stable
	for _, n := range names {
		canonical := false
		for _, p := range canonicalPrefixes {
			canonical = canonical || strings.HasPrefix(n, p)
		}
		if !canonical {
			continue
		}
		for _, d := range w[n].Shape {
			if d <= 0 {
				return fmt.Errorf("%s: tensor %q has shape %v: a model tensor cannot have an empty dimension", path, n, w[n].Shape)
			}
		}
	}
	if t, ok := w["visual.conv1.weight"]; ok && (len(t.Shape) != 4 || t.Shape[2] != c.Patch || t.Shape[3] != c.Patch) {
		return fmt.Errorf("%s: visual.conv1.weight has shape %v, want [%d,3,%d,%d]", path, t.Shape, c.VisionWidth, c.Patch, c.Patch)
	}
	for _, pt := range []struct {
		name        string
		rows, width int
	}{
		{"visual.positional_embedding", 1 + c.Grid*c.Grid, c.VisionWidth},
		{"positional_embedding", c.ContextLength, c.TextWidth},
	} {
		if t, ok := w[pt.name]; ok && (len(t.Shape) != 2 || t.Shape[0] != pt.rows || t.Shape[1] != pt.width) {
			return fmt.Errorf("%s: %s has shape %v, want [%d,%d]", path, pt.name, t.Shape, pt.rows, pt.width)
		}
	}
	if t, ok := w["logit_scale"]; ok && len(t.F32) == 1 {
		if v := float64(t.F32[0]); math.IsNaN(v) || v > maxLogitScale {
			return fmt.Errorf("%s: logit_scale is %g: exp(logit_scale) must be finite (CLIP's is at most ln 100 = 4.6)", path, v)
		}
	}
	return nil
}
