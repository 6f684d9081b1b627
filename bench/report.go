package bench

// Report is the measurements of Run, as `freeseg bench --format json`
// prints them (docs/speed.md describes each). The fields are in the order
// of their JSON keys, sorted, as the command has always listed them (a
// test checks it): a new figure goes in its key's place. Figures that a
// run may not measure are pointers, left out when nil.
type Report struct {
	BF16Kernel            string   `json:"bf16_kernel"`
	BF16PeakGFLOPS        *float64 `json:"bf16_peak_gflops,omitempty"`
	ClassifierCachedS     *float64 `json:"classifier_cached_s,omitempty"`
	ClassifierColdS       *float64 `json:"classifier_cold_s,omitempty"`
	Crop224CPUMS          float64  `json:"crop224_cpu_ms"`
	Crop224MS             float64  `json:"crop224_ms"`
	Crop224NACLIPMS       float64  `json:"crop224_naclip_ms"`
	Crop224SCLIPMS        float64  `json:"crop224_sclip_ms"`
	Crop224SurgeryMS      float64  `json:"crop224_surgery_ms"`
	FMAPeakGFLOPS         float64  `json:"fma_peak_gflops"`
	GEMMEfficiency        *float64 `json:"gemm_efficiency,omitempty"`
	GEMMEfficiencyCPU     *float64 `json:"gemm_efficiency_cpu,omitempty"`
	GEMMEfficiencyM197    *float64 `json:"gemm_efficiency_m197,omitempty"`
	GEMMEfficiencyM197CPU *float64 `json:"gemm_efficiency_m197_cpu,omitempty"`
	GEMMGFLOPS            float64  `json:"gemm_gflops"`
	GEMMGFLOPSM197        float64  `json:"gemm_gflops_m197"`
	GEMMGFLOPSM785        float64  `json:"gemm_gflops_m785"`
	GEMMKernel            string   `json:"gemm_kernel"`
	Image448CPUMS         float64  `json:"image448_cpu_ms"`
	Image448MS            float64  `json:"image448_ms"`
	Model                 string   `json:"model"`
	PeakRSSMB             float64  `json:"peak_rss_mb"`
	Precision             string   `json:"precision"`
	ProxyCLIPVOCImageMS   *float64 `json:"proxyclip_voc_image_ms,omitempty"`
	ProxyCLIPWindow336MS  *float64 `json:"proxyclip_window336_ms,omitempty"`
	Repeat                int      `json:"repeat"`
	Threads               int      `json:"threads"`
	VFMWindow336MS        *float64 `json:"vfm_window336_ms,omitempty"`
	VOCImageCPUMS         float64  `json:"voc_image_cpu_ms"`
	VOCImageMS            float64  `json:"voc_image_ms"`
}
