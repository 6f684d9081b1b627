package export

import (
	"io"
	"path/filepath"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/batch"
	"github.com/freeseg/freeseg/imageio"
)

// WriteExplain writes freeseg explain's outputs into dir: the heat map of
// each text over the explained image (base.heat.TEXT.png) and
// base.explain.json, whose generator names the program.
func WriteExplain(g *batch.Outputs, dir, base, imgPath string, ex *freeseg.Explanation, texts []string, opt freeseg.Options, generator string) error {
	img := ex.Image
	HW := img.W * img.H
	var written []string
	for k, t := range texts {
		heat := imageio.HeatOverlay(img, ex.Maps[k*HW:(k+1)*HW])
		p := filepath.Join(dir, base+".heat."+SafeName(t)+".png")
		if err := g.WriteFile(p, func(w io.Writer) error {
			return batch.MarkedPNG(w, "heat", func(w io.Writer) error { return imageio.EncodePNG(w, heat) })
		}); err != nil {
			return err
		}
		written = append(written, p)
	}
	rep := struct {
		Generator string `json:"generator"`
		freeseg.ExplainReport
		Outputs []string `json:"outputs"`
	}{generator, freeseg.NewExplainReport(ex, &opt), written}
	rep.Image = imgPath
	return g.WriteFile(filepath.Join(dir, base+".explain.json"), func(w io.Writer) error { return WriteJSON(w, rep) })
}
