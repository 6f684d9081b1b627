package gemm

// sgemmGeneric is the portable kernel for rows [i0,i1) of C. Its summation
// order over k is fixed (p = 0..k-1), which is what the reference test uses.
func sgemmGeneric(transA, transB bool, i0, i1, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := i0; i < i1; i++ {
		ci := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(ci)
		} else if beta != 1 {
			for j := range ci {
				ci[j] *= beta
			}
		}
		if transB {
			for j := 0; j < n; j++ {
				bj := b[j*ldb : j*ldb+k]
				var s float32
				if transA {
					for p := 0; p < k; p++ {
						s += a[p*lda+i] * bj[p]
					}
				} else {
					ai := a[i*lda : i*lda+k]
					for p, bv := range bj {
						s += ai[p] * bv
					}
				}
				ci[j] += alpha * s
			}
			continue
		}
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			if av == 0 {
				continue
			}
			bp := b[p*ldb : p*ldb+n]
			for j, bv := range bp {
				ci[j] += av * bv
			}
		}
	}
}

// microGeneric is the portable tile kernel over packed B panels (see
// microFn), used by SgemmPacked when no SIMD kernel is available.
func microGeneric(mr, n int, a []float32, aoff, rs, ks int, b []float32, boff, kc int, c []float32, coff, ldc int, alpha, beta float32, loadC bool, bias []float32, pf int) {
	for r := 0; r < mr; r++ {
		var acc [nr]float32
		ai := aoff + r*rs
		for p := 0; p < kc; p++ {
			av := a[ai+p*ks]
			bp := (*[nr]float32)(b[boff+p*nr : boff+p*nr+nr])
			for j := range acc {
				acc[j] += av * bp[j]
			}
		}
		ci := c[coff+r*ldc : coff+r*ldc+n]
		for j := range ci {
			v := alpha * acc[j]
			if loadC {
				v += beta * ci[j]
			}
			if bias != nil {
				v += bias[j]
			}
			ci[j] = v
		}
	}
}
