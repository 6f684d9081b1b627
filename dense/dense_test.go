package dense_test

import (
	"context"
	"testing"

	"github.com/freeseg/freeseg/dense"
	"github.com/freeseg/freeseg/internal/golden"
	"github.com/freeseg/freeseg/internal/numtest"
	"github.com/freeseg/freeseg/internal/testmodel"
)

func peak(x []float32) float64 {
	return numtest.Peak(x) // NaN (a failing tolerance) when x is not finite
}

// checkDense runs a method on a golden input batch and compares with the
// reference features. Methods whose reference drops CLS are compared on the
// patch rows only.
func checkDense(t *testing.T, method, key string, imgs []float32, B, H, W int) {
	t.Helper()
	m := testmodel.Tiny(t)
	meth, err := dense.ByName(method)
	if err != nil {
		t.Fatal(err)
	}
	f, err := meth.Features(context.Background(), m, imgs, B, H, W)
	if err != nil {
		t.Fatal(err)
	}
	want := golden.Tensor(t, key)
	got := f.Data
	if want.Shape[1] == f.GH*f.GW { // reference without the CLS row
		got = nil
		for b := 0; b < B; b++ {
			got = append(got, f.Patches(b)...)
		}
	} else if want.Shape[1] != f.Tokens() {
		t.Fatalf("%s: golden has %d tokens, we produced %d", key, want.Shape[1], f.Tokens())
	}
	golden.AssertClose(t, key, got, want.F32, 2e-5*peak(want.F32))
}

func TestGoldenDenseSquare224(t *testing.T) {
	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/square224")...)
	for _, name := range []string{"vanilla", "surgery", "sclip", "naclip", "clearclip", "maskclip"} {
		t.Run(name, func(t *testing.T) {
			checkDense(t, name, "dense/"+name+"/square224", imgs, 3, 224, 224)
		})
	}
}

func TestGoldenDenseSurgery320(t *testing.T) {
	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/square320")...)
	checkDense(t, "surgery", "dense/surgery/square320", imgs, 3, 320, 320)
}

func TestGoldenDenseRectangles(t *testing.T) {
	for _, in := range []struct {
		key  string
		h, w int
	}{{"rect224x320", 224, 320}, {"rect320x208", 320, 208}} {
		imgs := golden.Tensor(t, "input/"+in.key).F32
		for _, name := range []string{"sclip", "naclip", "clearclip"} {
			t.Run(name+"/"+in.key, func(t *testing.T) {
				checkDense(t, name, "dense/"+name+"/"+in.key, imgs, 3, in.h, in.w)
			})
		}
	}
}

// Batching images must not change any image's features: a batch of three
// equals three single-image runs exactly.
func TestBatchEqualsSingles(t *testing.T) {
	m := testmodel.Tiny(t)
	imgs := testmodel.Stack(t, testmodel.PhotoKeys("pre/square224")...)
	for _, meth := range []dense.Method{dense.Surgery, dense.NACLIP} {
		all, err := meth.Features(context.Background(), m, imgs, 3, 224, 224)
		if err != nil {
			t.Fatal(err)
		}
		n := 3 * 224 * 224
		for b := 0; b < 3; b++ {
			one, err := meth.Features(context.Background(), m, imgs[b*n:(b+1)*n], 1, 224, 224)
			if err != nil {
				t.Fatal(err)
			}
			g, w := all.Image(b), one.Image(0)
			for i := range w {
				if g[i] != w[i] {
					t.Fatalf("%s image %d value %d: batch %g vs single %g", meth.Name, b, i, g[i], w[i])
				}
			}
		}
	}
}

func TestMethodValidation(t *testing.T) {
	if _, err := dense.ByName("nope"); err == nil {
		t.Fatal("unknown method accepted")
	}
	bad := dense.Method{Name: "x", Blocks: 3}
	if err := bad.Validate(12); err == nil {
		t.Fatal("3-block non-dual method accepted")
	}
	if err := (dense.Method{Name: "y", Blocks: 13, DualPath: true}).Validate(12); err == nil {
		t.Fatal("13 blocks of 12 accepted")
	}
	for _, n := range dense.Names() {
		m, _ := dense.ByName(n)
		if err := m.Validate(12); err != nil {
			t.Fatalf("published method %s invalid: %v", n, err)
		}
	}
}
