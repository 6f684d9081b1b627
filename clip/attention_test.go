package clip

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/tensor"
	"github.com/freeseg/freeseg/tensor/gemm"
)

// maxRelDiff is max|a-b| / max|b|, +Inf when either holds a NaN or Inf
// (numtest.Compare), so that a "> tol" check fails on them.
func maxRelDiff(a, b []float32) float64 {
	d := numtest.Compare(a, b)
	if d.NonFinite >= 0 || len(a) != len(b) {
		return math.Inf(1)
	}
	return d.MaxAbs / d.Peak
}

// TestAttentionMatchesReference compares the fused attention with the
// three-step one for every kind, with and without bias and causal mask,
// over two sequences.
func TestAttentionMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	const D, heads = 128, 2
	var worst float64
	defer func() { t.Logf("largest difference %.3g of the output magnitude", worst) }()
	for _, N := range []int{1, 7, 50, 197} {
		B := 2
		qkv := make([]float32, B*N*3*D)
		for i := range qkv {
			qkv[i] = float32(r.NormFloat64())
		}
		bias := make([]float32, N*N)
		for i := range bias {
			bias[i] = float32(r.NormFloat64())
		}
		for kind := AttnQK; kind <= AttnIdentity; kind++ {
			for _, opt := range []AttnOptions{{}, {Bias: bias}, {Causal: true}, {Bias: bias, Causal: true}} {
				got := make([]float32, B*N*D)
				want := make([]float32, B*N*D)
				Attention(got, qkv, B, N, D, heads, kind, opt)
				attentionReference(want, qkv, B, N, D, heads, kind, opt)
				e := maxRelDiff(got, want)
				worst = max(worst, e)
				if e > 2e-6 {
					t.Errorf("N=%d %v bias=%v causal=%v: fused differs from the reference by %.3g of the output magnitude",
						N, kind, opt.Bias != nil, opt.Causal, e)
				}
			}
		}
	}
}

// prefixAttentionReference is prefixAttention in three steps (logits,
// masked softmax, product), as it was before the fused kernel.
func prefixAttentionReference(ctx, qkv, pk, pv []float32, B, S, P, D, heads int) {
	hd := D / heads
	scale := float32(1 / math.Sqrt(float64(hd)))
	T := P + S
	for task := 0; task < B*heads; task++ {
		b, h := task/heads, task%heads
		keys, vals := make([]float32, T*hd), make([]float32, T*hd)
		for p := 0; p < P; p++ {
			copy(keys[p*hd:(p+1)*hd], pk[p*D+h*hd:p*D+(h+1)*hd])
			copy(vals[p*hd:(p+1)*hd], pv[p*D+h*hd:p*D+(h+1)*hd])
		}
		base := b * S * 3 * D
		for s := 0; s < S; s++ {
			row := qkv[base+s*3*D:]
			copy(keys[(P+s)*hd:(P+s+1)*hd], row[D+h*hd:D+(h+1)*hd])
			copy(vals[(P+s)*hd:(P+s+1)*hd], row[2*D+h*hd:2*D+(h+1)*hd])
		}
		sc := make([]float32, S*T)
		gemm.SgemmSerial(false, true, S, T, hd, scale, qkv[base+h*hd:], 3*D, keys, hd, 0, sc, T)
		for s := 0; s < S; s++ {
			for j := P + s + 1; j < T; j++ {
				sc[s*T+j] = float32(math.Inf(-1))
			}
		}
		tensor.SoftmaxRows(sc, S, T, T)
		gemm.SgemmSerial(false, false, S, hd, T, 1, sc, T, vals, hd, 0, ctx[b*S*D+h*hd:], D)
	}
}

func TestPrefixAttentionMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	const D, heads = 128, 2
	for _, sp := range [][2]int{{1, 2}, {5, 8}, {20, 57}, {40, 3}} {
		S, P, B := sp[0], sp[1], 3
		qkv := make([]float32, B*S*3*D)
		pk := make([]float32, P*D)
		pv := make([]float32, P*D)
		for _, x := range [][]float32{qkv, pk, pv} {
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
		}
		got := make([]float32, B*S*D)
		want := make([]float32, B*S*D)
		prefixAttention(got, qkv, pk, pv, B, S, P, D, heads)
		prefixAttentionReference(want, qkv, pk, pv, B, S, P, D, heads)
		if e := maxRelDiff(got, want); e > 2e-6 {
			t.Errorf("S=%d P=%d: fused differs from the reference by %.3g of the output magnitude", S, P, e)
		}
	}
}
