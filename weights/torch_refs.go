package weights

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// namedRef is a tensor view found under a name.
type namedRef struct {
	name string
	t    *tensorRef
}

// collectRefs runs the pickle and lists its tensors by name.
func collectRefs(where string, pkl []byte, torchScript bool) ([]namedRef, error) {
	u := newUnpickler(where, pkl, torchScript)
	root, err := u.run()
	if err != nil {
		return nil, err
	}
	if torchScript {
		if obj, ok := root.(*pyObject); ok {
			return moduleRefs(where, obj)
		}
	}
	return stateDictRefs(where, root)
}

// stateDictRefs takes the tensors of a state dict, or of the state dict a
// training checkpoint wraps.
func stateDictRefs(where string, root any) ([]namedRef, error) {
	d, ok := root.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%s: the pickled object is %s, want a dict of tensors (a state dict)", where, typeName(root))
	}
	for range 4 { // unwrap at most a few levels of {"state_dict": {...}}
		var refs []namedRef
		for i, k := range d.keys {
			if t, ok := d.vals[i].(*tensorRef); ok {
				if s, ok := k.(string); ok {
					refs = append(refs, namedRef{s, t})
				}
			}
		}
		if len(refs) > 0 {
			return refs, nil
		}
		var inner *pyDict
		for _, k := range []string{"state_dict", "model_state_dict", "model", "module"} {
			if v, ok := d.get(k); ok {
				if dd, ok := v.(*pyDict); ok {
					inner = dd
					break
				}
			}
		}
		if inner == nil {
			break
		}
		d = inner
	}
	var keys []string
	for _, k := range d.keys {
		if s, ok := k.(string); ok && len(keys) < 10 {
			keys = append(keys, strconv.Quote(s))
		}
	}
	return nil, fmt.Errorf("%s: no tensors found in the pickled dict (keys %s)", where, strings.Join(keys, ", "))
}

// maxWalkVisits bounds the TorchScript object walk, so a graph with heavy
// sharing cannot make it exponential.
const maxWalkVisits = 1 << 20

type walker struct {
	where     string
	out       []namedRef
	onPath    map[any]bool
	visits    int
	nameBytes int
}

// moduleRefs walks a TorchScript module: every attribute that is a tensor
// is named by its dotted attribute path; submodules (objects), lists and
// dicts are walked into.
func moduleRefs(where string, root *pyObject) ([]namedRef, error) {
	w := &walker{where: where, onPath: map[any]bool{}}
	if err := w.walk("", root, 0); err != nil {
		return nil, err
	}
	if len(w.out) == 0 {
		return nil, fmt.Errorf("%s: TorchScript module of class %s holds no tensors", where, root.class)
	}
	return w.out, nil
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func (w *walker) walk(prefix string, v any, depth int) error {
	if depth > maxPickleDepth {
		return fmt.Errorf("%s: TorchScript objects nested deeper than %d levels (at %q)", w.where, maxPickleDepth, truncName(prefix))
	}
	if len(prefix) > maxNameLen {
		return fmt.Errorf("%s: TorchScript attribute path longer than %d bytes (%q)", w.where, maxNameLen, truncName(prefix))
	}
	w.visits++
	if w.visits > maxWalkVisits {
		return fmt.Errorf("%s: TorchScript object graph has more than %d nodes", w.where, maxWalkVisits)
	}
	switch x := v.(type) {
	case *tensorRef:
		if prefix == "" {
			prefix = "tensor"
		}
		w.nameBytes += len(prefix)
		if w.nameBytes > maxNameBytes {
			return fmt.Errorf("%s: TorchScript module has more than %d bytes of tensor names", w.where, maxNameBytes)
		}
		w.out = append(w.out, namedRef{prefix, x})
		return nil
	case *pyObject, *pyDict, *pyList:
		if w.onPath[x] {
			return nil // a cycle
		}
		w.onPath[x] = true
		defer delete(w.onPath, x)
	case pyTuple:
	default:
		return nil // scalars, None, strings, ...
	}
	switch x := v.(type) {
	case *pyObject:
		if x.state == nil {
			return nil
		}
		return w.walk(prefix, x.state, depth+1)
	case *pyDict:
		for i, k := range x.keys {
			var name string
			switch kk := k.(type) {
			case string:
				name = kk
			case int64:
				name = strconv.FormatInt(kk, 10)
			default:
				continue
			}
			if err := w.walk(join(prefix, name), x.vals[i], depth+1); err != nil {
				return err
			}
		}
	case *pyList:
		return w.walkSeq(prefix, x.items, depth)
	case pyTuple:
		return w.walkSeq(prefix, x, depth)
	}
	return nil
}

func (w *walker) walkSeq(prefix string, items []any, depth int) error {
	for i, it := range items {
		if err := w.walk(join(prefix, strconv.Itoa(i)), it, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func truncName(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// viewExtent computes the element count of a view and the highest storage
// element it touches (-1 for an empty view), refusing anything over limit
// elements or that overflows.
func viewExtent(t *tensorRef, limit int64) (numel, maxIdx int64, err error) {
	numel = 1
	for _, d := range t.size {
		if d == 0 {
			numel = 0
			break
		}
		if numel > limit/d {
			return 0, 0, fmt.Errorf("size %v: more than %d elements", t.size, limit)
		}
		numel *= d
	}
	if numel == 0 {
		return 0, -1, nil
	}
	maxIdx = t.offset
	for i, d := range t.size {
		st := t.stride[i]
		if st != 0 && d-1 > (math.MaxInt64/2-maxIdx)/st {
			return 0, 0, fmt.Errorf("offset %d, size %v, stride %v overflow", t.offset, t.size, t.stride)
		}
		maxIdx += (d - 1) * st
	}
	return numel, maxIdx, nil
}

// materialize reads each storage once and decodes every tensor viewing it.
//
// load(key, need) returns the first need bytes of a storage's blob (fewer
// when the blob is shorter), whether that is the whole blob, and the size
// its header declares: need is the end of the furthest element any view of
// the storage reaches, so bytes no tensor uses are never read.
func materialize(refs []namedRef, load func(key string, need int64) ([]byte, bool, int64, error), bigEndian bool) (map[string]*Tensor, error) {
	// Budget: the tensors may repeat storage elements (tied weights,
	// overlapping views, stride-0 expansions), but not without bound.
	var stored int64
	seen := map[*storageRef]bool{}
	for _, r := range refs {
		if !seen[r.t.storage] {
			seen[r.t.storage] = true
			stored += r.t.storage.bytes()
		}
	}
	budget := min(stored, math.MaxInt64/8)*4 + 1<<24
	numels := make([]int64, len(refs))
	var total int64
	byStorage := map[*storageRef][]int{}
	needs := map[*storageRef]int64{} // bytes of the storage its views reach
	var order []*storageRef
	names := make(map[string]bool, len(refs))
	for i, r := range refs {
		if names[r.name] {
			return nil, fmt.Errorf("tensor %q appears twice", truncName(r.name))
		}
		names[r.name] = true
		numel, maxIdx, err := viewExtent(r.t, budget)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %v", truncName(r.name), err)
		}
		s := r.t.storage
		if maxIdx >= 0 && (maxIdx+1 > s.bytes()/int64(r.t.elemSize)) {
			return nil, fmt.Errorf("tensor %q: view (offset %d, size %v, stride %v) reaches element %d of storage %q, which has %d elements of %s",
				truncName(r.name), r.t.offset, r.t.size, r.t.stride, maxIdx, s.key, s.bytes()/int64(r.t.elemSize), r.t.dtype)
		}
		total += numel
		if total > budget {
			return nil, fmt.Errorf("tensors hold %d elements in all, far more than the %d bytes of storage they view: refusing", total, stored)
		}
		numels[i] = numel
		needs[s] = max(needs[s], (maxIdx+1)*int64(r.t.elemSize))
		if byStorage[s] == nil {
			order = append(order, s)
		}
		byStorage[s] = append(byStorage[s], i)
	}
	out := make(map[string]*Tensor, len(refs))
	for _, s := range order {
		blob, complete, declared, err := load(s.key, needs[s])
		if err != nil {
			return nil, err
		}
		have := declared // what the blob holds, as far as is known without reading all of it
		if complete || int64(len(blob)) < needs[s] {
			have = int64(len(blob))
		}
		if have < s.bytes() || int64(len(blob)) < needs[s] {
			return nil, fmt.Errorf("storage %q (%s): blob has %d bytes, the checkpoint claims %d elements = %d bytes (truncated or corrupt file)",
				s.key, s.typeName, have, s.numel, s.bytes())
		}
		// A storage read for one tensor that uses most of it (the usual
		// state dict) lends its bytes to that tensor instead of being
		// copied: the copy doubled the garbage, and so the peak memory,
		// of loading a model. Shared storages are copied, so that no
		// two tensors share values.
		alias := len(byStorage[s]) == 1 && !bigEndian
		for _, i := range byStorage[s] {
			r := refs[i]
			t, err := gather(r.t, numels[i], blob, bigEndian, alias)
			if err != nil {
				return nil, fmt.Errorf("tensor %q: %v", truncName(r.name), err)
			}
			t.Name = r.name
			out[r.name] = t
		}
	}
	return out, nil
}

func contiguous(size, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] == 0 {
			return true
		}
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= size[i]
	}
	return true
}

// gather copies a view out of its storage bytes and decodes it. The view
// was checked to lie inside blob.
//
// With alias, a contiguous little-endian F32 view covering at least half
// of blob is returned in blob's memory rather than copied.
func gather(t *tensorRef, numel int64, blob []byte, bigEndian, alias bool) (*Tensor, error) {
	es := int64(t.elemSize)
	out := &Tensor{DType: t.dtype, Shape: make([]int, len(t.size))}
	for i, d := range t.size {
		out.Shape[i] = int(d)
	}
	var raw []byte
	switch {
	case numel == 0:
		raw = nil
	case contiguous(t.size, t.stride):
		raw = blob[t.offset*es : (t.offset+numel)*es]
		if alias && t.dtype == "F32" && 2*len(raw) >= len(blob) {
			if f, ok := bytesAsFloats(raw); ok {
				out.F32 = f
				return out, nil
			}
		}
		if bigEndian && es > 1 {
			raw = append([]byte(nil), raw...)
		}
	default:
		raw = make([]byte, numel*es)
		nd := len(t.size)
		idx := make([]int64, nd)
		pos := t.offset
		for i := int64(0); i < numel; i++ {
			copy(raw[i*es:(i+1)*es], blob[pos*es:(pos+1)*es])
			for d := nd - 1; d >= 0; d-- {
				idx[d]++
				pos += t.stride[d]
				if idx[d] < t.size[d] {
					break
				}
				pos -= t.stride[d] * t.size[d]
				idx[d] = 0
			}
		}
	}
	if bigEndian && es > 1 {
		for i := 0; i+int(es) <= len(raw); i += int(es) {
			for a, b := i, i+int(es)-1; a < b; a, b = a+1, b-1 {
				raw[a], raw[b] = raw[b], raw[a]
			}
		}
	}
	if err := decodeLE(out, raw); err != nil {
		return nil, err
	}
	return out, nil
}
