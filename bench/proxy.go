package bench

import (
	"context"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
)

// proxyCLIP measures --method proxyclip (Config.ProxyCLIP): the DINO pass
// and the whole method on one 336 window, and a VOC-sized photo under the
// proxyclip VOC21 protocol. The VFM is vfm when given, else a DINO ViT-B/8
// with random weights (the speed does not depend on the values).
func proxyCLIP(ctx context.Context, r *Report, logf func(string, ...any), m *clip.Model, vfm string, repeat int, photo []byte) error {
	eng := freeseg.NewEngine(m)
	if vfm != "" {
		eng.VFMSource = vfm
		if _, err := eng.LoadVFM(); err != nil {
			return err
		}
	} else {
		c, err := dino.Arch("ViT-B/8")
		if err != nil {
			return err
		}
		if eng.VFM, err = dino.Random(c, 1); err != nil {
			return err
		}
	}
	const S = 336
	crop := wave(3 * S * S)
	s, _, err := timeIt(repeat, func() error {
		_, _, _, err := eng.VFM.Tokens(dense.VFMInput(crop, 1, S, S), 1, S, S)
		return err
	})
	if err != nil {
		return err
	}
	r.VFMWindow336MS = ptr(round1(s * 1000))
	logf("proxyclip, %s on one 336x336 window: %.1f ms\n", eng.VFM.Config.Name(), s*1000)
	s, _, err = timeIt(repeat, func() error {
		_, err := dense.ProxyCLIP.FeaturesWith(ctx, m, eng.VFM, crop, 1, S, S)
		return err
	})
	if err != nil {
		return err
	}
	r.ProxyCLIPWindow336MS = ptr(round1(s * 1000))
	logf("proxyclip, one 336x336 window (VFM, CLIP, proxy attention): %.1f ms\n", s*1000)
	// The classifier is measured separately: one template.
	if s, _, err = protocolImage(ctx, eng, "proxyclip", "single", repeat, photo); err != nil {
		return err
	}
	r.ProxyCLIPVOCImageMS = ptr(round1(s * 1000))
	logf("500x375 JPEG, proxyclip VOC21 protocol (decode, 336 short side, 2 windows of 336, 21 classes): %.1f ms\n", s*1000)
	return nil
}
