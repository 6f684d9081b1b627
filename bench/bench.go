// Package bench measures freeseg's speed on this machine (freeseg bench):
// the machine's FMA/bf16 peaks, the GEMM at the ViT-B/16 layer shapes, a
// model's dense features per crop and per image, the SCLIP protocol on a
// VOC-sized photo end to end, the text classifier cold and cached, and
// optionally ProxyCLIP. docs/speed.md explains the figures.
package bench

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// Config is what to measure.
type Config struct {
	// Model is the model to measure, in the precision to measure (see
	// RandomModel for one with random weights: the speed does not depend
	// on the values).
	Model *clip.Model
	// Repeat is the runs per measurement (the median is reported).
	Repeat int
	// TextRepeat is the runs of the cold 171-class x 80-template
	// classifier (slow).
	TextRepeat int
	// SkipText skips the text classifier measurements (and the VOC image
	// then uses one template).
	SkipText bool
	// ProxyCLIP also measures the proxyclip method (slow: DINO ViT-B/8),
	// with the DINO of VFM (a folder, checkpoint or hub id) when given,
	// else one with random weights.
	ProxyCLIP bool
	VFM       string
	// Logf, when set, receives the text report line by line as the
	// measurements finish.
	Logf func(format string, args ...any)
}

// RandomModel is a model of the named architecture (clip.Arch) with random
// weights. An unknown name is an error wrapping freeseg.ErrUsage.
func RandomModel(arch string) (*clip.Model, error) {
	cfg, err := clip.Arch(arch)
	if err != nil {
		return nil, freeseg.AsUsage(err)
	}
	return clip.Random(cfg, 1)
}

// Check refuses counts below one (ErrUsage), before the model is loaded.
func (c *Config) Check() error {
	if c.Repeat < 1 || c.TextRepeat < 1 {
		return freeseg.Usagef("--repeat and --text-repeat must be at least 1")
	}
	return nil
}

// Run makes the measurements of c.
func Run(ctx context.Context, c Config) (*Report, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if c.Model == nil {
		return nil, errors.New("bench: no model")
	}
	logf := c.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	m, repeat := c.Model, c.Repeat
	r := &Report{
		Model: m.Config.Name(), Threads: runtime.GOMAXPROCS(0), GEMMKernel: gemm.Kernel(), Repeat: repeat,
		Precision: m.Precision().String(), BF16Kernel: gemm.BF16Kernel(),
	}
	logf("model %s, %s, %d threads, GEMM kernel %s (bf16: %s), median of %d runs\n", m.Config.Name(), m.Precision(), r.Threads, r.GEMMKernel, r.BF16Kernel, repeat)

	peaksAndGEMM(r, logf, repeat, m.Precision() == clip.BF16)
	S := m.Config.ImageSize()
	crop := wave(3 * S * S)
	s, cpu, err := timeIt(repeat, func() error { _, err := dense.Vanilla.Features(ctx, m, crop, 1, S, S); return err })
	if err != nil {
		return nil, err
	}
	r.Crop224MS, r.Crop224CPUMS = round1(s*1000), round1(cpu*1000)
	logf("one %dx%d crop (vanilla, all tokens): %.1f ms (CPU %.0f ms)\n", S, S, s*1000, cpu*1000)
	for _, meth := range []struct {
		m   dense.Method
		out *float64
	}{{dense.Surgery, &r.Crop224SurgeryMS}, {dense.SCLIP, &r.Crop224SCLIPMS}, {dense.NACLIP, &r.Crop224NACLIPMS}} {
		s, _, err := timeIt(repeat, func() error { _, err := meth.m.Features(ctx, m, crop, 1, S, S); return err })
		if err != nil {
			return nil, err
		}
		*meth.out = round1(s * 1000)
		logf("  %s: %.1f ms\n", meth.m.Name, s*1000)
	}
	big := wave(3 * 2 * S * 2 * S)
	s, cpu, err = timeIt(repeat, func() error { _, err := dense.Vanilla.Features(ctx, m, big, 1, 2*S, 2*S); return err })
	if err != nil {
		return nil, err
	}
	r.Image448MS, r.Image448CPUMS = round1(s*1000), round1(cpu*1000)
	logf("one %dx%d image (vanilla, whole): %.1f ms (CPU %.0f ms)\n", 2*S, 2*S, s*1000, cpu*1000)

	// SCLIP protocol on a VOC-sized photo, end to end from the JPEG bytes.
	photo, err := syntheticPhoto()
	if err != nil {
		return nil, err
	}
	eng := freeseg.NewEngine(m)
	templates := prompts.TemplateSet("")
	if c.SkipText {
		templates = "single"
	}
	if s, cpu, err = protocolImage(ctx, eng, "sclip", templates, repeat, photo); err != nil {
		return nil, err
	}
	r.VOCImageMS, r.VOCImageCPUMS = round1(s*1000), round1(cpu*1000)
	logf("500x375 JPEG, SCLIP VOC21 protocol (decode, 336 short side, 6 crops of 224, 21 classes): %.1f ms (CPU %.0f ms)\n", s*1000, cpu*1000)

	if !c.SkipText {
		if err := classifier(r, logf, m, repeat, c.TextRepeat); err != nil {
			return nil, err
		}
	}
	if c.ProxyCLIP {
		if err := proxyCLIP(ctx, r, logf, m, c.VFM, repeat, photo); err != nil {
			return nil, err
		}
	}
	rss := peakRSSMB()
	r.PeakRSSMB = round1(rss)
	logf("peak RSS: %.0f MB\n", rss)
	return r, nil
}

// protocolImage times the segmentation of photo (decoding included) under
// method's VOC21 protocol, with templates instead of the protocol's when
// given; the classifier is encoded first (it is measured separately).
func protocolImage(ctx context.Context, eng *freeseg.Engine, method string, templates prompts.TemplateSet, repeat int, photo []byte) (wall, cpu float64, err error) {
	p, err := prompts.Protocols(method, "voc21")
	if err != nil {
		return 0, 0, err
	}
	opts, err := freeseg.ProtocolOptions(p)
	if err != nil {
		return 0, 0, err
	}
	vocab, err := p.Vocabulary()
	if err != nil {
		return 0, 0, err
	}
	if templates != "" {
		opts.Templates = templates
	}
	q, _ := vocab.Queries()
	if _, err := eng.Classifier(q, opts.Templates); err != nil {
		return 0, 0, err
	}
	return timeIt(repeat, func() error {
		img, _, err := imageio.Decode(bytes.NewReader(photo), "bench.jpg")
		if err != nil {
			return err
		}
		_, err = eng.Segment(ctx, img, vocab, opts)
		return err
	})
}

// classifier times the COCO-Stuff classifier (171 classes x 80 templates)
// cold (an empty disk cache each run) and from the disk cache.
func classifier(r *Report, logf func(string, ...any), m *clip.Model, repeat, textRepeat int) error {
	stuff, err := prompts.Dataset("coco_stuff164k")
	if err != nil {
		return err
	}
	names, _ := stuff.Queries()
	dir, err := os.MkdirTemp("", "freeseg-bench-cache")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, _, err := timeIt(textRepeat, func() error {
		os.RemoveAll(dir)
		c := freeseg.NewClassifierCache(dir)
		_, err := c.Get(m, names, "openai80", prompts.OpenAI80)
		return err
	})
	if err != nil {
		return err
	}
	r.ClassifierColdS = ptr(round3(s))
	logf("classifier, %d classes x 80 templates, cold: %.2f s\n", len(names), s)
	s, _, err = timeIt(repeat, func() error {
		c := freeseg.NewClassifierCache(dir) // fresh memory, warm disk
		_, err := c.Get(m, names, "openai80", prompts.OpenAI80)
		return err
	})
	if err != nil {
		return err
	}
	r.ClassifierCachedS = ptr(round3(s))
	logf("classifier from the disk cache: %.3f s\n", s)
	return nil
}

// wave is n smooth input values (the speed does not depend on them).
func wave(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	return x
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// timeIt runs f repeat times and returns the median wall seconds and the
// median CPU seconds of the process (all threads) per run. On a quiet
// machine the CPU time is about threads × the wall time; on a shared one
// it still tells what a run costs (the wall time then measures the others).
func timeIt(repeat int, f func() error) (wall, cpu float64, err error) {
	var ts, cs []float64
	for i := 0; i < repeat; i++ {
		c0 := processCPU()
		start := time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		ts = append(ts, time.Since(start).Seconds())
		cs = append(cs, (processCPU() - c0).Seconds())
	}
	return median(ts), median(cs), nil
}

// peakRSSMB reads the process's peak resident set (VmHWM) on Linux.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return math.NaN()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return math.NaN()
}

// syntheticPhoto makes a 500x375 JPEG with smooth structure (a VOC-sized
// photo stand-in) so that the benchmark includes decoding.
func syntheticPhoto() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 500, 375))
	for y := 0; y < 375; y++ {
		for x := 0; x < 500; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 500), uint8(y * 255 / 375), uint8((x*y)%256) / 2, 255})
		}
	}
	var buf bytes.Buffer
	err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	return buf.Bytes(), err
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
func ptr(x float64) *float64   { return &x }
