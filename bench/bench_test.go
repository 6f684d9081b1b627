package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
)

// tinyModel is a random model small enough for a run in about a second.
func tinyModel(t *testing.T) *clip.Model {
	t.Helper()
	m, err := clip.Random(clip.TinyConfig, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunReport(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the peaks for about a second")
	}
	var text strings.Builder
	c := Config{Model: tinyModel(t), Repeat: 1, TextRepeat: 1, SkipText: true,
		Logf: func(f string, a ...any) { fmt.Fprintf(&text, f, a...) }}
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != clip.TinyConfig.Name() || r.Repeat != 1 || r.Threads < 1 || r.Precision != "fp32" || r.GEMMKernel == "" || r.BF16Kernel == "" {
		t.Errorf("header fields: %+v", r)
	}
	for name, v := range map[string]float64{
		"fma_peak_gflops": r.FMAPeakGFLOPS, "gemm_gflops": r.GEMMGFLOPS, "gemm_gflops_m785": r.GEMMGFLOPSM785,
		"gemm_gflops_m197": r.GEMMGFLOPSM197, "crop224_ms": r.Crop224MS, "image448_ms": r.Image448MS,
		"voc_image_ms": r.VOCImageMS, "crop224_surgery_ms": r.Crop224SurgeryMS, "crop224_sclip_ms": r.Crop224SCLIPMS,
		"crop224_naclip_ms": r.Crop224NACLIPMS, "peak_rss_mb": r.PeakRSSMB,
	} {
		// Rounded to 0.1: a tiny model's crop can take under 0.05 ms.
		if !(v >= 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a finite figure >= 0", name, v)
		}
	}
	if !(r.FMAPeakGFLOPS > 0 && r.GEMMGFLOPS > 0 && r.PeakRSSMB > 0) {
		t.Errorf("peak %v, GEMM %v GFLOP/s, RSS %v MB: want positive", r.FMAPeakGFLOPS, r.GEMMGFLOPS, r.PeakRSSMB)
	}
	if r.GEMMEfficiency == nil || !(*r.GEMMEfficiency > 0) {
		t.Errorf("gemm_efficiency missing or not positive: %v", r.GEMMEfficiency)
	}
	// Not measured: left out of the JSON.
	if r.ClassifierColdS != nil || r.ClassifierCachedS != nil || r.ProxyCLIPVOCImageMS != nil || r.VFMWindow336MS != nil {
		t.Errorf("skipped figures are set: %+v", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, r) {
		t.Errorf("JSON round trip: %v\n%s\n%+v", err, b, back)
	}
	var keys map[string]any
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"model", "threads", "gemm_kernel", "bf16_kernel", "precision", "repeat", "crop224_cpu_ms", "voc_image_cpu_ms", "image448_cpu_ms"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %s missing from %s", k, b)
		}
	}
	for _, k := range []string{"classifier_cold_s", "proxyclip_voc_image_ms"} {
		if _, ok := keys[k]; ok {
			t.Errorf("key %s present in a run that skipped it", k)
		}
	}
	for _, want := range []string{"median of 1 runs", "crop (vanilla, all tokens)", "SCLIP VOC21 protocol", "peak RSS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

// The command printed a map, so its keys came sorted; the struct keeps
// that order (a new figure must go in its key's place).
func TestReportKeysSorted(t *testing.T) {
	f := 1.0
	r := Report{BF16PeakGFLOPS: &f, ClassifierCachedS: &f, ClassifierColdS: &f, GEMMEfficiency: &f, GEMMEfficiencyCPU: &f,
		GEMMEfficiencyM197: &f, GEMMEfficiencyM197CPU: &f, ProxyCLIPVOCImageMS: &f, ProxyCLIPWindow336MS: &f, VFMWindow336MS: &f}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	if len(keys) != reflect.TypeOf(r).NumField() {
		t.Errorf("%d keys for %d fields: %v", len(keys), reflect.TypeOf(r).NumField(), keys)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("keys not sorted: %v", keys)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []Config{{Model: tinyModel(t), Repeat: 0, TextRepeat: 1}, {Model: tinyModel(t), Repeat: 1, TextRepeat: 0}} {
		if _, err := Run(context.Background(), c); !errors.Is(err, freeseg.ErrUsage) || !strings.Contains(err.Error(), "at least 1") {
			t.Errorf("repeat %d, text repeat %d: %v, want a usage error", c.Repeat, c.TextRepeat, err)
		}
	}
	if _, err := Run(context.Background(), Config{Repeat: 1, TextRepeat: 1}); err == nil {
		t.Error("no model: no error")
	}
	if _, err := RandomModel("ViT-X/99"); !errors.Is(err, freeseg.ErrUsage) || !strings.Contains(err.Error(), "ViT-X/99") {
		t.Errorf("unknown arch: %v, want a usage error naming it", err)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{5}, 5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}
