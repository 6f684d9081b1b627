package main

import (
	"bytes"
	"context"
	"math"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/dino"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// benchProxyCLIP measures --method proxyclip (bench --proxyclip): the DINO
// pass and the whole method on one 336 window, and a VOC-sized photo under
// the proxyclip VOC21 protocol. The VFM is vfm when given, else a DINO
// ViT-B/8 with random weights (the speed does not depend on the values).
func benchProxyCLIP(m *clip.Model, vfm string, repeat int, photo []byte, res map[string]any, logf func(string, ...any)) error {
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
	crop := make([]float32, 3*S*S)
	for i := range crop {
		crop[i] = float32(math.Sin(float64(i)))
	}
	s, err := timeIt(repeat, func() error {
		_, _, _, err := eng.VFM.Tokens(dense.VFMInput(crop, 1, S, S), 1, S, S)
		return err
	})
	if err != nil {
		return err
	}
	res["vfm_window336_ms"] = round1(s * 1000)
	logf("proxyclip, %s on one 336x336 window: %.1f ms\n", eng.VFM.Config.Name(), s*1000)
	s, err = timeIt(repeat, func() error {
		_, err := dense.ProxyCLIP.FeaturesWith(context.Background(), m, eng.VFM, crop, 1, S, S)
		return err
	})
	if err != nil {
		return err
	}
	res["proxyclip_window336_ms"] = round1(s * 1000)
	logf("proxyclip, one 336x336 window (VFM, CLIP, proxy attention): %.1f ms\n", s*1000)

	p, err := prompts.Protocols("proxyclip", "voc21")
	if err != nil {
		return err
	}
	opts, err := freeseg.ProtocolOptions(p)
	if err != nil {
		return err
	}
	vocab, err := p.Vocabulary()
	if err != nil {
		return err
	}
	opts.Templates = "single" // the classifier is measured separately
	q, _ := vocab.Queries()
	if _, err := eng.Classifier(q, opts.Templates); err != nil {
		return err
	}
	s, err = timeIt(repeat, func() error {
		img, _, err := imageio.Decode(bytes.NewReader(photo), "bench.jpg")
		if err != nil {
			return err
		}
		_, err = eng.Segment(context.Background(), img, vocab, opts)
		return err
	})
	if err != nil {
		return err
	}
	res["proxyclip_voc_image_ms"] = round1(s * 1000)
	logf("500x375 JPEG, proxyclip VOC21 protocol (decode, 336 short side, 2 windows of 336, 21 classes): %.1f ms\n", s*1000)
	return nil
}
