package clip

import "testing"

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"fp32": FP32, "BF16": BF16, " bfloat16 ": BF16, "float32": FP32} {
		got, err := ParsePrecision(s)
		if err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "fp16", "int8", "bf"} {
		if _, err := ParsePrecision(s); err == nil {
			t.Errorf("ParsePrecision(%q) accepted", s)
		}
	}
	for _, p := range []Precision{FP32, BF16} {
		if q, err := ParsePrecision(p.String()); err != nil || q != p {
			t.Errorf("%v does not round-trip: %v, %v", p, q, err)
		}
	}
}

// TestWithPrecision: conversion leaves the original model alone, returns
// the model itself when nothing changes, and halves the weight memory.
func TestWithPrecision(t *testing.T) {
	cfg := Config{VisionWidth: 64, VisionLayers: 2, VisionHeads: 2, Patch: 16, Grid: 2, EmbedDim: 32,
		TextWidth: 64, TextLayers: 2, TextHeads: 2, ContextLength: 77, VocabSize: 49408}
	m, err := Random(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := m.WithPrecision(FP32); q != m {
		t.Errorf("WithPrecision(FP32) of an fp32 model made a copy")
	}
	if q, _ := m.WithPrecision(PrecisionDefault); q != m {
		t.Errorf("WithPrecision(default) made a copy")
	}
	before := m.WeightBytes()
	h, err := m.WithPrecision(BF16)
	if err != nil {
		t.Fatal(err)
	}
	if m.Precision() != FP32 || m.WeightBytes() != before || m.Vision.Blocks[0].FC.W.IsBF16() {
		t.Errorf("the fp32 model changed")
	}
	if h.Precision() != BF16 || 2*h.WeightBytes() != before || !h.Text.Blocks[1].Proj.W.IsBF16() || !h.Vision.PatchEmbed.W.IsBF16() {
		t.Errorf("bf16 model: precision %v, %d bytes (fp32 %d)", h.Precision(), h.WeightBytes(), before)
	}
	if q, _ := h.WithPrecision(BF16); q != h {
		t.Errorf("WithPrecision(BF16) of a bf16 model made a copy")
	}
	if _, err := h.WithPrecision(FP32); err == nil {
		t.Errorf("a bf16 model converted back to fp32")
	}
}

// TestIntoPrecision: converting in place frees the fp32 weights and gives
// the same model as WithPrecision.
func TestIntoPrecision(t *testing.T) {
	cfg := Config{VisionWidth: 64, VisionLayers: 2, VisionHeads: 2, Patch: 16, Grid: 2, EmbedDim: 32,
		TextWidth: 64, TextLayers: 2, TextHeads: 2, ContextLength: 77, VocabSize: 49408}
	m, err := Random(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	copyBF16, _ := m.WithPrecision(BF16)
	img := make([]float32, 3*32*32)
	for i := range img {
		img[i] = float32(i%7) / 7
	}
	want, err := copyBF16.EncodeImage(img, 1, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	old := m.Vision.Blocks[0].FC.W
	h, err := m.IntoPrecision(BF16)
	if err != nil {
		t.Fatal(err)
	}
	if old.Bytes() != 0 {
		t.Errorf("fp32 weights still hold %d bytes after IntoPrecision", old.Bytes())
	}
	got, err := h.EncodeImage(img, 1, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("embedding %d: IntoPrecision %g, WithPrecision %g", i, got[i], want[i])
		}
	}
}

// FuzzParsePrecision: any string (the service's form field) is either
// refused with an error or parsed to FP32/BF16, never anything else.
func FuzzParsePrecision(f *testing.F) {
	for _, s := range []string{"fp32", "bf16", "BF16", " float32", "", "fp16", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrecision(s)
		if err == nil && p != FP32 && p != BF16 {
			t.Fatalf("ParsePrecision(%q) = %v", s, p)
		}
		if err != nil && p != PrecisionDefault {
			t.Fatalf("ParsePrecision(%q) failed but returned %v", s, p)
		}
	})
}
