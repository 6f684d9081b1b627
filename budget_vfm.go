package freeseg

import (
	"runtime"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
)

// vfmCost adds to b what a proxy method (proxyclip) costs beyond CLIP's
// encoder for B passes of H×W: the vision foundation model's pass (its
// tokens, which for a ViT/8 are four times CLIP ViT-B/16's, its buffers and
// work) and the proxy attention (the score blocks per worker, CLIP's values
// resized to the VFM grid, the products). vfm nil (not loaded yet) is
// costed as DefaultVFM, DINO ViT-B/8. Other methods add nothing.
func vfmCost(b *Budget, m *clip.Model, meth dense.Method, vfm *dino.Model, B, H, W int) {
	if !meth.Proxy {
		return
	}
	var c dino.Config
	if vfm != nil {
		c = vfm.Config
	} else {
		var err error
		if c, err = dino.Arch("ViT-B/8"); err != nil {
			return
		}
	}
	p := max(1, c.Patch)
	n := (H / p) * (W / p)
	N := float64(1 + n)
	b.Tokens = max(b.Tokens, 1+n)
	D, M, L := float64(c.Width), float64(c.MLP), float64(c.Layers)
	Dc := float64(m.Vision.Width)
	fb := float64(B)
	// The VFM input; its stream, ln, q|k|v, ctx, MLP hidden layer; its
	// output tokens; per image the unit features, the resized values, the
	// proxy context and out_proj rows.
	act := 3*fb*float64(H*W) + fb*N*(D+D+3*D+D+M) + fb*N*D + N*D + 3*N*Dc
	b.ActivationBytes += sat(4 * act)
	workers := float64(runtime.GOMAXPROCS(0))
	b.AttentionBytes += sat(4 * workers * 64 * N) // the proxy scores, 64 rows at a time
	perBlock := 2*N*(4*D*D+2*D*M) + 4*N*N*D
	proxy := 2*N*N*D + 2*N*N*Dc // the scores and their product with the values
	b.GFLOPs += fb * (L*perBlock + proxy + 2*float64(n)*3*float64(p*p)*D) / 1e9
}
