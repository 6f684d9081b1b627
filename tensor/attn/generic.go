package attn

import (
	"math"
	"sync"

	"github.com/freeseg/freeseg/tensor"
	"github.com/freeseg/freeseg/tensor/gemm"
)

var logitsPool sync.Pool

// unfused computes the attention in three steps: the logits matrix
// scale·x·yᵀ [nq, nk] (tensor/gemm), its masked softmax by rows (tensor),
// and its product with v (tensor/gemm), each with the best kernels of
// those packages. Without an offset this is exactly the attention of
// clip before the fused kernel.
func unfused(out []float32, ldo int, x []float32, ldx int, y []float32, ldy int, v []float32, ldv int, nq, nk, hd int, scale float32, o Options) {
	sp, _ := logitsPool.Get().(*[]float32)
	if sp == nil {
		sp = new([]float32)
	}
	defer logitsPool.Put(sp)
	if cap(*sp) < nq*nk {
		*sp = make([]float32, nq*nk)
	}
	s := (*sp)[:nq*nk]
	gemm.SgemmSerial(false, true, nq, nk, hd, scale, x, ldx, y, ldy, 0, s, nk)
	if o.Offset == 0 {
		tensor.MaskedSoftmaxRows(s, nq, nk, nk, o.Bias, o.LDB, o.Causal)
	} else {
		// Causal with an offset: add the bias, mask keys j > i+Offset.
		ninf := float32(math.Inf(-1))
		for i := 0; i < nq; i++ {
			row := s[i*nk : (i+1)*nk]
			if o.Bias != nil {
				tensor.Add(row, o.Bias[i*o.LDB:i*o.LDB+nk])
			}
			for j := i + o.Offset + 1; j < nk; j++ {
				row[j] = ninf
			}
		}
		tensor.SoftmaxRows(s, nq, nk, nk)
	}
	beta := float32(0)
	if o.Accumulate {
		beta = 1
	}
	gemm.SgemmSerial(false, false, nq, hd, nk, 1, s, nk, v, ldv, beta, out, ldo)
}
