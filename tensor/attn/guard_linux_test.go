//go:build linux

package attn

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a copy of src that ends exactly at an inaccessible page,
// so that a kernel reading or writing past its end faults.
func guarded(t *testing.T, src []float32) []float32 {
	page := syscall.Getpagesize()
	n := len(src)
	size := (n*4+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	g := unsafe.Slice((*float32)(unsafe.Pointer(&mem[size-page-n*4])), n)
	copy(g, src)
	return g
}

// TestGuarded runs the kernels on operands that end at a guard page, with
// the shortest lengths the shapes allow.
func TestGuarded(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 1))
		for _, s := range [][3]int{{1, 1, 64}, {13, 13, 7}, {33, 33, 20}, {40, 77, 64}, {197, 197, 70}, {100, 120, 128}} {
			for flags := 0; flags < 8; flags++ {
				bias, causal, acc := flags&1 != 0, flags&2 != 0, flags&4 != 0
				off := 0
				if causal {
					off = s[1] - s[0]
				}
				p := newProblem(r, s[0], s[1], s[2], 1, bias, causal, acc, off)
				p.x, p.y, p.v = guarded(t, p.x), guarded(t, p.y), guarded(t, p.v)
				if bias {
					p.o.Bias = guarded(t, p.o.Bias)
				}
				got := guarded(t, p.out)
				Attend(got, p.ldo, p.x, p.ldx, p.y, p.ldy, p.v, p.ldv, p.nq, p.nk, p.hd, p.scale, p.o)
				p.compare(t, got, tol)
			}
		}
	})
}
