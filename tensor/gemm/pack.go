package gemm

// Packing: copying A's row blocks and B's column panels into the contiguous
// layouts the micro-kernels read (see driver.go for the blocking).

// packMinPanels is the fewest panels per region for which A is packed: the
// packing is paid once per A block and saves time on every panel.
var packMinPanels = 2

// packA copies rows [0,rows) × k [0,kc) of A (element (i, p) at
// a[aoff + i·rs + p·ks]) into dst as tiles of mr rows: tile t at t·mr·kc,
// its element (i, p) at p·mt + i where mt is the tile's row count.
func packA(dst, a []float32, aoff, rs, ks, rows, kc, mr int) {
	for t := 0; t < rows; t += mr {
		mt := min(mr, rows-t)
		d := dst[t*kc : t*kc+mt*kc]
		if rs == 1 {
			for p := 0; p < kc; p++ {
				s := aoff + t + p*ks
				copy(d[p*mt:p*mt+mt], a[s:s+mt])
			}
			continue
		}
		if ks == 1 {
			packRows(d, a, aoff+t*rs, rs, mt, kc)
			continue
		}
		for i := 0; i < mt; i++ {
			s := aoff + (t+i)*rs
			for p := 0; p < kc; p++ {
				d[p*mt+i] = a[s+p*ks]
			}
		}
	}
}

// packRowsGo interleaves mt rows of kc floats (row i at a[off + i·rs]) into
// d: element (i, p) at p·mt + i.
func packRowsGo(d, a []float32, off, rs, mt, kc int) {
	const w = 8 // columns per step: each row is read 8 floats at a time
	p := 0
	for ; p+w <= kc; p += w {
		dd := d[p*mt : (p+w)*mt]
		for i := 0; i < mt; i++ {
			s := (*[w]float32)(a[off+i*rs+p:])
			dd[i] = s[0]
			dd[mt+i] = s[1]
			dd[2*mt+i] = s[2]
			dd[3*mt+i] = s[3]
			dd[4*mt+i] = s[4]
			dd[5*mt+i] = s[5]
			dd[6*mt+i] = s[6]
			dd[7*mt+i] = s[7]
		}
	}
	for ; p < kc; p++ {
		for i := 0; i < mt; i++ {
			d[p*mt+i] = a[off+i*rs+p]
		}
	}
}

// packPanels writes op(B) (k×n) into dst as ⌈n/nr⌉ panels of k×nr floats,
// row-major within a panel, columns past n zero.
func packPanels(transB bool, k, n int, b []float32, ldb int, dst []float32) {
	for jp := 0; jp*nr < n; jp++ {
		col := jp * nr
		w := min(nr, n-col)
		pan := dst[jp*k*nr : (jp+1)*k*nr]
		switch {
		case transB && w == nr && packPanelT(pan, b, col*ldb, ldb, k):
		case transB:
			for jj := 0; jj < w; jj++ {
				src := b[(col+jj)*ldb : (col+jj)*ldb+k]
				for p, v := range src {
					pan[p*nr+jj] = v
				}
			}
		case w == nr:
			for p := 0; p < k; p++ {
				*(*[nr]float32)(pan[p*nr:]) = *(*[nr]float32)(b[p*ldb+col:])
			}
		default:
			for p := 0; p < k; p++ {
				copy(pan[p*nr:p*nr+w], b[p*ldb+col:p*ldb+col+w])
			}
		}
		if w < nr {
			for p := 0; p < k; p++ {
				clear(pan[p*nr+w : p*nr+nr])
			}
		}
	}
}
