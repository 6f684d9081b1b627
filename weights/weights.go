// Package weights reads model checkpoints: safetensors files, PyTorch zip
// checkpoints (torch.save) and TorchScript archives (torch.jit.save, e.g.
// OpenAI's .pt files); Read picks the format by content. Floating-point tensors of any stored precision
// (F32, F16, BF16, F64) come back as float32; integer tensors (buffers such
// as position_ids, or golden U8/I64 data) come back as int64.
//
// The package knows nothing about CLIP: mapping names onto a model is the
// model package's job.
package weights

import (
	"fmt"
	"sort"
)

// Tensor is one named array of a checkpoint.
type Tensor struct {
	Name  string
	DType string // dtype as stored: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
	Shape []int
	F32   []float32 // values of a floating-point tensor, else nil
	Ints  []int64   // values of an integer or bool tensor, else nil
}

// Numel is the number of elements the shape describes.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// IsFloat reports whether the tensor holds floating-point values.
func (t *Tensor) IsFloat() bool { return t.F32 != nil || isFloatDType(t.DType) }

func isFloatDType(d string) bool {
	switch d {
	case "F32", "F16", "BF16", "F64":
		return true
	}
	return false
}

// File is a whole checkpoint: tensors by name, plus the free-form metadata
// some formats carry.
type File struct {
	Path     string
	Tensors  map[string]*Tensor
	Metadata map[string]string
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for n := range f.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns the named tensor or an error naming the file and the tensor.
func (f *File) Get(name string) (*Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %q", f.Path, name)
	}
	return t, nil
}

// Float returns the named floating-point tensor, checking its shape when
// want is non-nil.
func (f *File) Float(name string, want ...int) (*Tensor, error) {
	t, err := f.Get(name)
	if err != nil {
		return nil, err
	}
	if t.F32 == nil {
		return nil, fmt.Errorf("%s: tensor %q has dtype %s, want a floating-point tensor", f.Path, name, t.DType)
	}
	if want != nil && !sameShape(t.Shape, want) {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want %v", f.Path, name, t.Shape, want)
	}
	return t, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
