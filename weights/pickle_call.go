package weights

import (
	"fmt"
	"strings"
)

// call applies an allowed callable (REDUCE and NEWOBJ).
func (u *unpickler) call(fv any, args pyTuple, op, depth int) (any, error) {
	if depth > maxPickleDepth {
		return nil, u.errAt(op, "rebuild calls nested deeper than %d levels", maxPickleDepth)
	}
	g, ok := fv.(*pyGlobal)
	if !ok {
		return nil, u.errAt(op, "cannot call %s", typeName(fv))
	}
	name := g.String()
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			return u.errAt(op, "%s takes %d to %d arguments, got %d", name, lo, hi, len(args))
		}
		return nil
	}
	switch name {
	case "collections.OrderedDict", "builtins.dict", "__builtin__.dict":
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		d := &pyDict{}
		if len(args) == 1 && args[0] != nil {
			items, ok := seqItems(args[0])
			if !ok {
				if src, ok := args[0].(*pyDict); ok {
					for i := range src.keys {
						d.set(src.keys[i], src.vals[i])
					}
					return d, nil
				}
				return nil, u.errAt(op, "%s of %s", name, typeName(args[0]))
			}
			for _, it := range items {
				kv, ok := seqItems(it)
				if !ok || len(kv) != 2 {
					return nil, u.errAt(op, "%s item is not a (key, value) pair", name)
				}
				if err := u.setItems(d, kv, op); err != nil {
					return nil, err
				}
			}
		}
		return d, nil
	case "builtins.set", "__builtin__.set", "builtins.frozenset", "__builtin__.frozenset":
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		s := &pySet{}
		if len(args) == 1 {
			items, ok := seqItems(args[0])
			if !ok {
				return nil, u.errAt(op, "%s of %s", name, typeName(args[0]))
			}
			s.items = append(s.items, items...)
		}
		return s, nil
	case "_codecs.encode": // how protocol 2 pickles bytes
		if err := nargs(1, 2); err != nil {
			return nil, err
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, u.errAt(op, "_codecs.encode of %s", typeName(args[0]))
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			b = append(b, byte(r)) // latin-1
		}
		return pyBytes(b), nil
	case "torch._utils._rebuild_tensor":
		if err := nargs(4, 4); err != nil {
			return nil, err
		}
		return u.rebuildTensor(args[0], args[1], args[2], args[3], nil, op)
	case "torch._utils._rebuild_tensor_v2":
		if err := nargs(6, 7); err != nil {
			return nil, err
		}
		return u.rebuildTensor(args[0], args[1], args[2], args[3], nil, op)
	case "torch._utils._rebuild_tensor_v3":
		if err := nargs(7, 8); err != nil {
			return nil, err
		}
		return u.rebuildTensor(args[0], args[1], args[2], args[3], args[6], op)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if err := nargs(3, 4); err != nil {
			return nil, err
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, u.errAt(op, "%s of %s, want a tensor", name, typeName(args[0]))
		}
		return args[0], nil
	case "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2":
		if err := nargs(4, 4); err != nil {
			return nil, err
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, u.errAt(op, "%s arguments are %s, want a tuple", name, typeName(args[2]))
		}
		return u.call(args[0], inner, op, depth+1)
	case "torch.device":
		if err := nargs(1, 2); err != nil {
			return nil, err
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, u.errAt(op, "torch.device of %s", typeName(args[0]))
		}
		return s, nil
	case "torch.Size":
		if err := nargs(0, 1); err != nil {
			return nil, err
		}
		if len(args) == 0 {
			return pyTuple{}, nil
		}
		items, ok := seqItems(args[0])
		if !ok {
			return nil, u.errAt(op, "torch.Size of %s", typeName(args[0]))
		}
		return pyTuple(items), nil
	case "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist",
		"torch.jit._pickle.build_tensorlist", "torch.jit._pickle.build_genericlist":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		items, ok := seqItems(args[0])
		if !ok {
			return nil, u.errAt(op, "%s of %s", name, typeName(args[0]))
		}
		return &pyList{items: items}, nil
	case "torch.jit._pickle.restore_type_tag":
		if err := nargs(2, 2); err != nil {
			return nil, err
		}
		return args[0], nil
	}
	if u.torchScript && strings.HasPrefix(name, "__torch__") {
		return &pyObject{class: g, args: append([]any(nil), args...)}, nil
	}
	return nil, u.errAt(op, "global %s cannot be called", name)
}

func seqItems(v any) ([]any, bool) {
	switch x := v.(type) {
	case pyTuple:
		return x, true
	case *pyList:
		return x.items, true
	}
	return nil, false
}

func intTuple(v any) ([]int64, bool) {
	items, ok := seqItems(v)
	if !ok || len(items) > maxTensorDims {
		return nil, false
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

// rebuildTensor checks the structure of a tensor view; whether it fits its
// storage is checked when the storage is read (sizes are only trusted then).
func (u *unpickler) rebuildTensor(storage, offset, size, stride, dtype any, op int) (*tensorRef, error) {
	s, ok := storage.(*storageRef)
	if !ok {
		return nil, u.errAt(op, "tensor storage is %s, want a persistent storage", describe(storage))
	}
	off, ok := offset.(int64)
	if !ok || off < 0 {
		return nil, u.errAt(op, "tensor on storage %q: bad storage offset %s", s.key, describe(offset))
	}
	sz, ok1 := intTuple(size)
	st, ok2 := intTuple(stride)
	if !ok1 || !ok2 || len(sz) != len(st) {
		return nil, u.errAt(op, "tensor on storage %q: bad size %s or stride %s", s.key, describe(size), describe(stride))
	}
	for i := range sz {
		if sz[i] < 0 || st[i] < 0 {
			return nil, u.errAt(op, "tensor on storage %q: negative size or stride (size %v, stride %v)", s.key, sz, st)
		}
	}
	t := &tensorRef{storage: s, dtype: s.dtype, elemSize: s.elemSize, offset: off, size: sz, stride: st}
	if dtype != nil {
		g, ok := dtype.(*pyGlobal)
		if !ok {
			return nil, u.errAt(op, "tensor dtype is %s, want a torch dtype", describe(dtype))
		}
		dt, ok := dtypeGlobals[g.String()]
		if !ok {
			return nil, u.errAt(op, "unsupported tensor dtype %s", g)
		}
		t.dtype, t.elemSize = dt.dtype, dt.elemSize
	}
	return t, nil
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, pyBigInt:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyBytes:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pySet:
		return "set"
	case *pyGlobal:
		return "global " + x.String()
	case *pyObject:
		return "object of class " + x.class.String()
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// describe shows a scalar value, or the type of anything else (never
// recursing, so a hostile structure cannot blow up an error message).
func describe(v any) string {
	switch x := v.(type) {
	case int64, bool, float64:
		return fmt.Sprint(x)
	case string:
		if len(x) > 64 {
			x = x[:64] + "..."
		}
		return fmt.Sprintf("%q", x)
	case pyTuple:
		return fmt.Sprintf("a tuple of %d items", len(x))
	}
	return typeName(v)
}
