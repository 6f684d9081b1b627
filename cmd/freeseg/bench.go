package main

import (
	"bytes"
	"context"
	"fmt"
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
	"github.com/freeseg/freeseg/export"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
	"github.com/freeseg/freeseg/tensor/gemm"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "measure speed: the machine's FMA/bf16 peaks, GEMM GFLOP/s and efficiency, ms per 224 crop, per 448 image, per SCLIP-protocol VOC image, text classifier time, peak memory",
		usage:   "[--model DIR | --arch ViT-B/16] [--precision fp32|bf16] [--repeat N] [--format text|json]",
		run:     runBench,
	})
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

// timeIt runs f repeat times and returns the median seconds; lastCPU is
// then the median CPU time of the process (all threads) per run.
func timeIt(repeat int, f func() error) (float64, error) {
	var ts, cs []float64
	for i := 0; i < repeat; i++ {
		c0 := processCPU()
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(start).Seconds())
		cs = append(cs, (processCPU() - c0).Seconds())
	}
	lastCPU = median(cs)
	return median(ts), nil
}

// lastCPU is the median CPU seconds per run of the last timeIt. On a
// quiet machine it is about threads × the wall time; on a shared one it
// still tells what a run costs (the wall time then measures the others).
var lastCPU float64

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

func runBench(e *env, args []string) error {
	fs := newFlags(e, commands["bench"])
	model := fs.String("model", "", "model folder or checkpoint (default: random weights of --arch)")
	arch := fs.String("arch", "ViT-B/16", "architecture of the random-weight model: ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336")
	repeat := fs.Int("repeat", 5, "runs per measurement (the median is reported)")
	textRepeat := fs.Int("text-repeat", 1, "runs of the cold 171-class x 80-template classifier (slow)")
	format := fs.String("format", "text", "text or json")
	skipText := fs.Bool("skip-text", false, "skip the text classifier measurements")
	proxy := fs.Bool("proxyclip", false, "also measure --method proxyclip: ms per 336 window and per VOC image (slow: DINO ViT-B/8)")
	vfm := fs.String("vfm", "", "with --proxyclip: the DINO to measure (default: ViT-B/8 with random weights)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %q", pos)
	}
	if *repeat < 1 || *textRepeat < 1 {
		return usagef("--repeat and --text-repeat must be at least 1")
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: want text or json", *format)
	}
	var m *clip.Model
	if *model != "" {
		if m, err = loadModel(*model); err != nil {
			return err
		}
	} else {
		cfg, err := clip.Arch(*arch)
		if err != nil {
			return usageError{err.Error()}
		}
		if m, err = clip.Random(cfg, 1); err != nil {
			return err
		}
		if m, err = applyPrecision(m); err != nil {
			return err
		}
	}
	logf := func(msg string, a ...any) {
		if *format == "text" {
			fmt.Fprintf(e.stdout, msg, a...)
		}
	}
	res := map[string]any{
		"model": m.Config.Name(), "threads": runtime.GOMAXPROCS(0), "gemm_kernel": gemmKernel(), "repeat": *repeat,
		"precision": m.Precision().String(), "bf16_kernel": gemm.BF16Kernel(),
	}
	logf("model %s, %s, %d threads, GEMM kernel %s (bf16: %s), median of %d runs\n", m.Config.Name(), m.Precision(), runtime.GOMAXPROCS(0), gemmKernel(), gemm.BF16Kernel(), *repeat)

	benchPeaksAndGEMM(res, logf, *repeat)
	S := m.Config.ImageSize()
	crop := make([]float32, 3*S*S)
	for i := range crop {
		crop[i] = float32(math.Sin(float64(i)))
	}
	s, err := timeIt(*repeat, func() error { _, err := dense.Vanilla.Features(context.Background(), m, crop, 1, S, S); return err })
	if err != nil {
		return err
	}
	res["crop224_ms"] = round1(s * 1000)
	res["crop224_cpu_ms"] = round1(lastCPU * 1000)
	logf("one %dx%d crop (vanilla, all tokens): %.1f ms (CPU %.0f ms)\n", S, S, s*1000, lastCPU*1000)
	for _, meth := range []dense.Method{dense.Surgery, dense.SCLIP, dense.NACLIP} {
		s, err := timeIt(*repeat, func() error { _, err := meth.Features(context.Background(), m, crop, 1, S, S); return err })
		if err != nil {
			return err
		}
		res["crop224_"+meth.Name+"_ms"] = round1(s * 1000)
		logf("  %s: %.1f ms\n", meth.Name, s*1000)
	}
	big := make([]float32, 3*2*S*2*S)
	for i := range big {
		big[i] = float32(math.Sin(float64(i)))
	}
	s, err = timeIt(*repeat, func() error { _, err := dense.Vanilla.Features(context.Background(), m, big, 1, 2*S, 2*S); return err })
	if err != nil {
		return err
	}
	res["image448_ms"] = round1(s * 1000)
	res["image448_cpu_ms"] = round1(lastCPU * 1000)
	logf("one %dx%d image (vanilla, whole): %.1f ms (CPU %.0f ms)\n", 2*S, 2*S, s*1000, lastCPU*1000)

	// SCLIP protocol on a VOC-sized photo, end to end from the JPEG bytes.
	photo, err := syntheticPhoto()
	if err != nil {
		return err
	}
	eng := freeseg.NewEngine(m)
	p, err := prompts.Protocols("sclip", "voc21")
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
	if *skipText {
		opts.Templates = "single"
	}
	q, _ := vocab.Queries()
	if _, err := eng.Classifier(q, opts.Templates); err != nil { // warm the classifier: measured separately
		return err
	}
	s, err = timeIt(*repeat, func() error {
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
	res["voc_image_ms"] = round1(s * 1000)
	res["voc_image_cpu_ms"] = round1(lastCPU * 1000)
	logf("500x375 JPEG, SCLIP VOC21 protocol (decode, 336 short side, 6 crops of 224, 21 classes): %.1f ms (CPU %.0f ms)\n", s*1000, lastCPU*1000)

	if !*skipText {
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
		s, err = timeIt(*textRepeat, func() error {
			os.RemoveAll(dir)
			c := freeseg.NewClassifierCache(dir)
			_, err := c.Get(m, names, "openai80", prompts.OpenAI80)
			return err
		})
		if err != nil {
			return err
		}
		res["classifier_cold_s"] = round3(s)
		logf("classifier, %d classes x 80 templates, cold: %.2f s\n", len(names), s)
		s, err = timeIt(*repeat, func() error {
			c := freeseg.NewClassifierCache(dir) // fresh memory, warm disk
			_, err := c.Get(m, names, "openai80", prompts.OpenAI80)
			return err
		})
		if err != nil {
			return err
		}
		res["classifier_cached_s"] = round3(s)
		logf("classifier from the disk cache: %.3f s\n", s)
	}
	if *proxy {
		if err := benchProxyCLIP(m, *vfm, *repeat, photo, res, logf); err != nil {
			return err
		}
	}
	res["peak_rss_mb"] = round1(peakRSSMB())
	logf("peak RSS: %.0f MB\n", peakRSSMB())
	if *format == "json" {
		return export.WriteJSONLine(e.stdout, res)
	}
	return nil
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// benchPeaksAndGEMM measures the machine's peaks with all threads (the FMA
// and VDPBF16PS register-only loops) and the GEMM at the linear layers of
// ViT-B/16 (M = 785 and 197 tokens; K×N = 768×2304, 768×768, 768×3072,
// 3072×768) in the precision of --precision, as mean rates over repeated
// calls. gemm_efficiency is the M = 785 rate over the peak of the
// instruction the precision uses (FMA for fp32, VDPBF16PS for native bf16,
// FMA for emulated bf16).
func benchPeaksAndGEMM(res map[string]any, logf func(string, ...any), repeat int) {
	threads := runtime.GOMAXPROCS(0)
	fmaP := gemm.FMAPeak(threads, 300*time.Millisecond)
	fma := fmaP.GFLOPS
	res["fma_peak_gflops"] = round1(fma)
	logf("peak fp32 FMA, %d threads: %.0f GFLOP/s (%.0f per CPU-second)\n", threads, fma, fmaP.PerCPU)
	peak, peakCPU := fma, fmaP.PerCPU
	bfP, ok := gemm.BF16Peak(threads, 300*time.Millisecond)
	if amx, amxOK := gemm.AMXPeak(threads, 300*time.Millisecond); amxOK {
		bfP, ok = amx, true // FREESEG_BF16=amx: the bf16 products run on the tiles
		logf("(bf16 peak of AMX TDPBF16PS)\n")
	}
	if ok {
		res["bf16_peak_gflops"] = round1(bfP.GFLOPS)
		logf("peak bf16 VDPBF16PS, %d threads: %.0f GFLOP/s (%.0f per CPU-second)\n", threads, bfP.GFLOPS, bfP.PerCPU)
	}
	bf16 := modelPrecision == clip.BF16
	if bf16 && gemm.BF16Kernel() != "emulated" {
		peak, peakCPU = bfP.GFLOPS, bfP.PerCPU
	}
	var cpuSecs float64 // of the last rate call
	rate := func(M, K, N int) float64 {
		a := make([]float32, M*K)
		b := make([]float32, K*N)
		for i := range a {
			a[i] = float32(i%17) / 17
		}
		for i := range b {
			b[i] = float32(i%13) / 13
		}
		pb := gemm.PackB(false, K, N, b, N)
		if bf16 {
			pb = pb.BF16()
		}
		c := make([]float32, M*N)
		bias := make([]float32, N)
		gemm.SgemmPacked(M, 1, a, K, pb, 0, c, N, bias) // warm the buffers
		calls := max(4, 4*repeat)
		c0 := processCPU()
		start := time.Now()
		for range calls {
			gemm.SgemmPacked(M, 1, a, K, pb, 0, c, N, bias)
		}
		cpuSecs = (processCPU() - c0).Seconds() / float64(calls)
		return 2 * float64(M*K*N) * float64(calls) / time.Since(start).Seconds() / 1e9
	}
	g := rate(785, 768, 3072)
	res["gemm_gflops"] = round1(g)
	logf("GEMM 785x768x3072: %.1f GFLOP/s\n", g)
	for _, M := range []int{785, 197} {
		var flops, secs, cpu float64
		for _, kn := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} {
			r := rate(M, kn[0], kn[1])
			f := 2 * float64(M*kn[0]*kn[1])
			flops += f
			secs += f / r
			cpu += cpuSecs
		}
		r := flops / secs
		key := fmt.Sprintf("gemm_gflops_m%d", M)
		eff := "gemm_efficiency"
		if M != 785 {
			eff += fmt.Sprintf("_m%d", M)
		}
		res[key] = round1(r)
		if peak > 0 {
			res[eff] = round3(r / peak)
		}
		// The same ratio in CPU time (flops per CPU-second of the process
		// over the peak loop's per CPU-second): unlike the wall-time ratio
		// it survives other programs sharing the cores, but it does not
		// count threads waiting for work.
		if peakCPU > 0 && cpu > 0 {
			res[eff+"_cpu"] = round3(flops / cpu / 1e9 / peakCPU)
		}
		logf("GEMM at the ViT-B/16 layers, M=%d: %.1f GFLOP/s, %.0f%% of the peak (%.0f%% in CPU time)\n", M, r, 100*r/peak, 100*flops/cpu/1e9/peakCPU)
	}
}
