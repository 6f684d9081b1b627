package dino_test

import (
	"math"
	"testing"

	"github.com/freeseg/freeseg/dino"
)

// The published architectures build and report their names; a random
// model's forward runs at a non-native size.
func TestRandomArch(t *testing.T) {
	c, err := dino.Arch("ViT-S/8")
	if err != nil {
		t.Fatal(err)
	}
	if c.Patch != 8 || c.Grid != 28 || c.Width != 384 || c.Name() != "DINO ViT-S/8" {
		t.Fatalf("config %+v (%s)", c, c.Name())
	}
	c.Layers = 1
	m, err := dino.Random(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*64*48)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	out, gh, gw, err := m.Tokens(x, 1, 64, 48)
	if err != nil || gh != 8 || gw != 6 || len(out) != (1+48)*384 {
		t.Fatalf("tokens %d grid %dx%d err %v", len(out), gh, gw, err)
	}
	if _, err := dino.Arch("ViT-G/2"); err == nil {
		t.Fatal("unknown architecture accepted")
	}
}

// DINO ViT-B/8 on one 336 window (1,765 tokens), the VFM pass of proxyclip.
func BenchmarkTokensB8At336(b *testing.B) {
	c, _ := dino.Arch("ViT-B/8")
	m, err := dino.Random(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 3*336*336)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	for b.Loop() {
		if _, _, _, err := m.Tokens(x, 1, 336, 336); err != nil {
			b.Fatal(err)
		}
	}
}
