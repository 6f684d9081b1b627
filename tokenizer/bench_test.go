package tokenizer

import (
	"strings"
	"testing"
)

// A prompt-ensemble workload: CLIP's ImageNet-style templates filled with
// class names, as the text classifier builds them (docs/model.md#text-classifier).
var benchTemplates = []string{
	"a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
	"a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.", "a cropped photo of the {}.",
	"a tattoo of a {}.", "the embroidered {}.", "a bright photo of a {}.", "a photo of a clean {}.",
	"a photo of a dirty {}.", "a dark photo of the {}.", "a drawing of a {}.", "a photo of my {}.",
	"the plastic {}.", "a photo of the cool {}.", "a close-up photo of a {}.", "a black and white photo of the {}.",
	"a painting of the {}.", "a pixelated photo of the {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
	"itap of a {}.", "a origami {}.", "a toy {}.", "there is a {} in the scene.",
}

var benchClasses = []string{
	"aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "dining table", "dog",
	"horse", "motorbike", "person in shirt", "potted plant", "sheep", "sofa", "train", "tv monitor", "sky-other",
	"wall-concrete", "traffic light", "fire hydrant", "baseball glove", "coffee cup", "background",
}

func benchPrompts() []string {
	var ps []string
	for _, c := range benchClasses {
		for _, tpl := range benchTemplates {
			ps = append(ps, strings.ReplaceAll(tpl, "{}", c))
		}
	}
	return ps
}

// BenchmarkEncode reports tokens/s on the prompt ensemble with a warm cache
// (the steady state of a server) and cold (a fresh cache for every prompt
// set, so every word goes through BPE).
func BenchmarkEncode(b *testing.B) {
	ps := benchPrompts()
	run := func(b *testing.B, tk *Tokenizer, reset bool) {
		tokens := 0
		for b.Loop() {
			if reset {
				tk.cache = newWordCache(cacheEntries)
			}
			for _, p := range ps {
				tokens += len(tk.Encode(p))
			}
		}
		b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		b.ReportMetric(float64(len(ps)), "prompts/op")
	}
	b.Run("warm", func(b *testing.B) { run(b, Default(), false) })
	b.Run("cold", func(b *testing.B) {
		tk := *Default()
		run(b, &tk, true)
	})
	b.Run("parallel", func(b *testing.B) {
		tk := Default()
		tokens := make(chan int, 64)
		b.RunParallel(func(pb *testing.PB) {
			n := 0
			for i := 0; pb.Next(); i++ {
				n += len(tk.Encode(ps[i%len(ps)]))
			}
			tokens <- n
		})
		close(tokens)
		total := 0
		for n := range tokens {
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "tokens/s")
	})
}

// BenchmarkLongWord is one 64 KiB "word", where BPE's heap form matters.
func BenchmarkLongWord(b *testing.B) {
	tk := Default()
	var sb strings.Builder
	for sb.Len() < 1<<16 {
		sb.WriteString("supercalifragilisticexpialidocious")
	}
	s := sb.String()
	for b.Loop() {
		tk.Encode(s)
	}
	b.SetBytes(int64(len(s)))
}

// BenchmarkDefault is the cost of building the embedded vocabulary.
func BenchmarkDefault(b *testing.B) {
	for b.Loop() {
		if _, err := parseOpenAIEmbedded(); err != nil {
			b.Fatal(err)
		}
	}
}
