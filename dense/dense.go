// Package dense holds the dense-feature methods: ways of changing the last
// blocks of CLIP's vision transformer so that every patch token, not only
// CLS, carries a usable image-text similarity (docs/method.md#dense-methods). Each method
// is a row of switches (Method) interpreted by one executor over the shared
// transformer of package clip; there is one copy of the transformer.
package dense

import (
	"fmt"
	"sort"
	"strings"

	"github.com/freeseg/freeseg/clip"
)

// PosInterp is how the positional table is resized for inputs whose grid
// differs from the training grid (docs/model.md#positional-tables). The table is always resized
// from the original weights, never in place.
type PosInterp int

const (
	// PosBicubicScale is SCLIP/NACLIP/ClearCLIP's interpolate_pos_encoding:
	// bicubic (A=-0.75) with scale factors ((H/p)+0.1)/g0, ((W/p)+0.1)/g0.
	PosBicubicScale PosInterp = iota
	// PosBilinear is CLIP Surgery's bilinear resize to the target grid.
	PosBilinear
)

// Method is one dense method, described only by how it changes the last
// blocks of the transformer (docs/method.md#dense-methods).
type Method struct {
	Name string
	// Blocks is how many final blocks the method changes (0 = vanilla).
	Blocks int
	// Attn is the attention of the changed path.
	Attn clip.AttnKind
	// Residual keeps the stream entering the changed block(s) on the
	// changed path (MaskCLIP, SCLIP, Surgery); ClearCLIP and NACLIP drop it.
	Residual bool
	// FFN applies the block's MLP on the changed path (single-block only).
	FFN bool
	// DualPath is CLIP Surgery's architecture surgery: the unchanged path
	// runs on, every changed block computes its attention from the unchanged
	// stream, and the changed path accumulates those outputs without FFN.
	// The CLS row of the output comes from the unchanged path.
	DualPath bool
	// Sigma > 0 adds NACLIP's Gaussian neighbourhood bias to the logits.
	Sigma float64
	// Pos is how the positional table is interpolated.
	Pos PosInterp
	// PadWindowsToPatch zero-pads each sliding window to a multiple of the
	// patch size and cuts the logits back (ClearCLIP's inference does).
	PadWindowsToPatch bool
	// Proxy replaces the attention of the last block by ProxyCLIP's proxy
	// attention from a vision foundation model's patch features (Attn,
	// Residual and FFN are unused; see FeaturesWith and docs/vfm.md), with
	// the similarity shift Beta and the sharpness Gamma.
	Proxy       bool
	Beta, Gamma float64
	// Pad > 0 zero-pads every sliding window to a multiple of Pad pixels
	// and cuts the logits back (ProxyCLIP's forward_slide: 56, a multiple
	// of both models' patches).
	Pad int
}

// The published methods (docs/method.md#dense-methods).
var (
	Vanilla   = Method{Name: "vanilla", Pos: PosBicubicScale}
	Surgery   = Method{Name: "surgery", Blocks: 6, Attn: clip.AttnVV, Residual: true, DualPath: true, Pos: PosBilinear}
	MaskCLIP  = Method{Name: "maskclip", Blocks: 1, Attn: clip.AttnIdentity, Residual: true, FFN: true, Pos: PosBicubicScale}
	SCLIP     = Method{Name: "sclip", Blocks: 1, Attn: clip.AttnQQPlusKK, Residual: true, FFN: true, Pos: PosBicubicScale}
	ClearCLIP = Method{Name: "clearclip", Blocks: 1, Attn: clip.AttnQQ, Pos: PosBicubicScale, PadWindowsToPatch: true}
	NACLIP    = Method{Name: "naclip", Blocks: 1, Attn: clip.AttnKK, Sigma: 5, Pos: PosBicubicScale}
	// ProxyCLIP (Lan et al., ECCV 2024) with its default β 1.2 and γ 3.0.
	ProxyCLIP = Method{Name: "proxyclip", Blocks: 1, Proxy: true, Beta: 1.2, Gamma: 3.0, Pad: 56, Pos: PosBicubicScale}
)

var methods = map[string]Method{}

func init() {
	for _, m := range []Method{Vanilla, Surgery, MaskCLIP, SCLIP, ClearCLIP, NACLIP, ProxyCLIP} {
		methods[m.Name] = m
	}
}

// Names lists the published method names.
func Names() []string {
	out := make([]string, 0, len(methods))
	for n := range methods {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ByName returns a published method.
func ByName(name string) (Method, error) {
	m, ok := methods[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Method{}, fmt.Errorf("unknown method %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return m, nil
}

// Validate checks that the switches describe something the executor runs.
func (m Method) Validate(layers int) error {
	switch {
	case m.Blocks < 0 || m.Blocks > layers:
		return fmt.Errorf("method %s: changes %d blocks of a %d-block transformer", m.Name, m.Blocks, layers)
	case m.Blocks > 1 && !m.DualPath:
		return fmt.Errorf("method %s: only the dual path (surgery) changes more than one block", m.Name)
	case m.FFN && m.DualPath:
		return fmt.Errorf("method %s: the dual path has no FFN", m.Name)
	case m.Sigma < 0:
		return fmt.Errorf("method %s: negative Gaussian sigma %g", m.Name, m.Sigma)
	case m.Pad < 0 || m.Pad > 1024:
		return fmt.Errorf("method %s: window padding multiple %d must be in [0, 1024]", m.Name, m.Pad)
	case m.Proxy && (m.Blocks != 1 || m.DualPath):
		return fmt.Errorf("method %s: the proxy attention replaces exactly the last block", m.Name)
	case m.Proxy && !(m.Gamma > 0 && m.Gamma <= 1e3):
		return fmt.Errorf("method %s: proxy gamma %g must be in (0, 1000]", m.Name, m.Gamma)
	case m.Proxy && !(m.Beta >= 0 && m.Beta <= 1e3):
		return fmt.Errorf("method %s: proxy beta %g must be in [0, 1000]", m.Name, m.Beta)
	}
	return nil
}

// Describe is the method's definition in words (its switches), for reports.
func (m Method) Describe() string {
	if m.Proxy {
		return fmt.Sprintf("last block's attention from a vision foundation model (beta %g, gamma %g), no residual, no FFN", m.Beta, m.Gamma)
	}
	if m.Blocks == 0 {
		return "no block changed"
	}
	parts := []string{fmt.Sprintf("last %d block(s) changed", m.Blocks)}
	if m.DualPath {
		parts = append(parts, "dual path")
	}
	parts = append(parts, "attention "+m.Attn.String())
	if m.Sigma > 0 {
		parts = append(parts, fmt.Sprintf("Gaussian neighbourhood sigma %g", m.Sigma))
	}
	yes := map[bool]string{true: "with", false: "without"}
	parts = append(parts, yes[m.Residual]+" residual", yes[m.FFN]+" FFN")
	switch m.Pos {
	case PosBilinear:
		parts = append(parts, "positions resized bilinearly")
	case PosBicubicScale:
		parts = append(parts, "positions resized bicubically by scale factor")
	}
	if m.PadWindowsToPatch {
		parts = append(parts, "windows padded to the patch size")
	}
	if m.Pad > 0 {
		parts = append(parts, fmt.Sprintf("windows padded to a multiple of %d", m.Pad))
	}
	return strings.Join(parts, ", ")
}
