package weights

// A minimal, safe pickle virtual machine for the data.pkl of PyTorch zip
// checkpoints and TorchScript archives. It runs no code: GLOBAL and
// STACK_GLOBAL only resolve names from a fixed allow-list (plus opaque
// __torch__.* classes in TorchScript mode), and REDUCE / NEWOBJ only "call"
// the few functions whose effect it knows (rebuilding a tensor view, making a
// dict or set, ...). Everything it builds is plain data.
//
// The machine itself is iterative; the only recursion in this package (the
// TorchScript object walk and nested rebuild calls) is bounded by
// maxPickleDepth. Every allocation is proportional to the bytes of the
// pickle, never to a size the pickle claims.

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

const (
	// maxPickleDepth bounds MARK nesting, nested rebuild calls and the
	// depth of the TorchScript object walk. Python's own pickler cannot
	// produce structures much deeper than its recursion limit (1000).
	maxPickleDepth = 1000
	// maxTensorDims bounds the rank of a tensor view.
	maxTensorDims = 64
	// maxPickleValues bounds the values pushed on the stack over a whole
	// run, and maxMemo the memo's entries. One opcode byte can push a
	// 16-byte interface or a new empty container (~100 bytes), so the
	// pickle's size alone (maxPickleBytes) would still let 16 MiB of
	// opcodes build gigabytes. A CLIP state dict pushes about 20 values
	// and memoizes about 8 per tensor (ViT-L/14: ~10,000 values), a
	// TorchScript archive a few times more: 2^20 leaves a margin of 25x or
	// more and keeps what the unpickler allocates under 200 MB at worst
	// (measured in hostile_test.go).
	maxPickleValues = 1 << 20
	maxMemo         = 1 << 20
)

// Python values. None is nil, bool is bool, int is int64, float is float64,
// str is string.
type (
	pyTuple []any
	pyList  struct{ items []any }
	pyDict  struct {
		keys, vals []any
		index      map[any]int // position of each hashable scalar key
		state      any         // what BUILD set (an OrderedDict's _metadata); unused
	}
	pySet    struct{ items []any }
	pyBytes  []byte
	pyBigInt struct{ nbytes int } // an int too large for int64
	pyGlobal struct{ module, name string }
	// pyObject is an instance of an opaque class (a TorchScript module).
	pyObject struct {
		class *pyGlobal
		args  []any
		state any
	}
)

// storageRef is one storage blob, <prefix>/data/<key>, as a persistent id
// describes it.
type storageRef struct {
	key      string
	typeName string // e.g. torch.FloatStorage
	dtype    string
	elemSize int
	numel    int64 // claimed number of elements of dtype
}

// bytes is the size the persistent id claims; numel is bounded at creation
// so this cannot overflow.
func (s *storageRef) bytes() int64 { return s.numel * int64(s.elemSize) }

// tensorRef is a strided view of a storage.
type tensorRef struct {
	storage  *storageRef
	dtype    string
	elemSize int
	offset   int64 // in elements of dtype
	size     []int64
	stride   []int64 // in elements of dtype
}

func (g *pyGlobal) String() string { return g.module + "." + g.name }

func (d *pyDict) set(k, v any) {
	switch k.(type) {
	case nil, bool, int64, float64, string:
		if d.index == nil {
			d.index = map[any]int{}
		}
		if i, ok := d.index[k]; ok {
			d.vals[i] = v
			return
		}
		d.index[k] = len(d.keys)
	}
	// Other keys (tuples, bytes) are kept without de-duplication: state
	// dicts only use strings, and nothing here looks such keys up.
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.index[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

type storageType struct {
	dtype    string
	elemSize int
}

var storageTypes = map[string]storageType{
	"torch.FloatStorage":    {"F32", 4},
	"torch.HalfStorage":     {"F16", 2},
	"torch.BFloat16Storage": {"BF16", 2},
	"torch.DoubleStorage":   {"F64", 8},
	"torch.LongStorage":     {"I64", 8},
	"torch.IntStorage":      {"I32", 4},
	"torch.ShortStorage":    {"I16", 2},
	"torch.CharStorage":     {"I8", 1},
	"torch.ByteStorage":     {"U8", 1},
	"torch.BoolStorage":     {"BOOL", 1},
	"torch.UntypedStorage":  {"U8", 1},
}

// dtypeGlobals are the torch.dtype values (_rebuild_tensor_v3 takes one).
var dtypeGlobals = map[string]storageType{
	"torch.float32": {"F32", 4}, "torch.float": {"F32", 4},
	"torch.float16": {"F16", 2}, "torch.half": {"F16", 2},
	"torch.bfloat16": {"BF16", 2},
	"torch.float64":  {"F64", 8}, "torch.double": {"F64", 8},
	"torch.int64": {"I64", 8}, "torch.long": {"I64", 8},
	"torch.int32": {"I32", 4}, "torch.int": {"I32", 4},
	"torch.int16": {"I16", 2}, "torch.short": {"I16", 2},
	"torch.int8":  {"I8", 1},
	"torch.uint8": {"U8", 1},
	"torch.bool":  {"BOOL", 1},
}

// otherGlobals are the allowed names that are neither storage types nor
// dtypes. Those with a case in call are callable; the rest are plain
// values (types passed as arguments, e.g. to _rebuild_from_type_v2).
var otherGlobals = map[string]bool{
	"collections.OrderedDict":                    true,
	"builtins.dict":                              true,
	"__builtin__.dict":                           true,
	"builtins.set":                               true,
	"__builtin__.set":                            true,
	"builtins.frozenset":                         true,
	"__builtin__.frozenset":                      true,
	"_codecs.encode":                             true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_tensor_v3":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch._tensor._rebuild_from_type":           true,
	"torch._tensor._rebuild_from_type_v2":        true,
	"torch.device":                               true,
	"torch.Size":                                 true,
	"torch.Tensor":                               true,
	"torch.nn.parameter.Parameter":               true,
	"torch.jit._pickle.build_intlist":            true,
	"torch.jit._pickle.build_doublelist":         true,
	"torch.jit._pickle.build_boollist":           true,
	"torch.jit._pickle.build_tensorlist":         true,
	"torch.jit._pickle.build_genericlist":        true,
	"torch.jit._pickle.restore_type_tag":         true,
}

// unpickler runs one pickle.
type unpickler struct {
	where       string // "<file>: <entry>", prefixed to every error
	data        []byte
	pos         int
	stack       []any
	marks       []int
	memo        map[uint32]any
	torchScript bool                   // allow __torch__.* classes
	storages    map[string]*storageRef // persistent ids by key; the first wins, as in torch
	pushes      int                    // values pushed so far (maxPickleValues)
}

func newUnpickler(where string, data []byte, torchScript bool) *unpickler {
	return &unpickler{where: where, data: data, memo: map[uint32]any{}, torchScript: torchScript, storages: map[string]*storageRef{}}
}

type pickleError struct{ msg string }

func (e *pickleError) Error() string { return e.msg }

func (u *unpickler) errAt(pos int, format string, args ...any) error {
	return &pickleError{fmt.Sprintf("%s: offset %d: %s", u.where, pos, fmt.Sprintf(format, args...))}
}

func (u *unpickler) read(n int, op int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, u.errAt(op, "truncated pickle: opcode needs %d more bytes, %d left", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

// readUint reads a little-endian unsigned operand of 1, 2, 4 or 8 bytes.
func (u *unpickler) readUint(width, op int) (uint64, error) {
	b, err := u.read(width, op)
	if err != nil {
		return 0, err
	}
	var n uint64
	for i := width - 1; i >= 0; i-- {
		n = n<<8 | uint64(b[i])
	}
	return n, nil
}

// opWidth is the operand width of the fixed-width integer opcodes.
func opWidth(c byte) int {
	switch c {
	case 'J', 'r', 'j':
		return 4
	case 'M':
		return 2
	}
	return 1 // 'K', 'q', 'h'
}

func (u *unpickler) readLen(width, op int) (int, error) {
	n, err := u.readUint(width, op)
	if err != nil {
		return 0, err
	}
	if n > uint64(len(u.data)-u.pos) {
		return 0, u.errAt(op, "truncated pickle: length %d but only %d bytes left", n, len(u.data)-u.pos)
	}
	return int(n), nil
}

func (u *unpickler) fence() int {
	if len(u.marks) > 0 {
		return u.marks[len(u.marks)-1]
	}
	return 0
}

func (u *unpickler) push(v any) {
	u.pushes++
	u.stack = append(u.stack, v)
}

func (u *unpickler) pop(op int) (any, error) {
	if len(u.stack) <= u.fence() {
		return nil, u.errAt(op, "stack underflow (opcode 0x%02x)", u.data[op])
	}
	v := u.stack[len(u.stack)-1]
	u.stack[len(u.stack)-1] = nil
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top(op int) (any, error) {
	if len(u.stack) <= u.fence() {
		return nil, u.errAt(op, "stack underflow (opcode 0x%02x)", u.data[op])
	}
	return u.stack[len(u.stack)-1], nil
}

func (u *unpickler) popMark(op int) ([]any, error) {
	if len(u.marks) == 0 {
		return nil, u.errAt(op, "opcode 0x%02x without a MARK", u.data[op])
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	clear(u.stack[m:])
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) popN(n, op int) ([]any, error) {
	if len(u.stack)-u.fence() < n {
		return nil, u.errAt(op, "stack underflow (opcode 0x%02x)", u.data[op])
	}
	m := len(u.stack) - n
	items := append([]any(nil), u.stack[m:]...)
	clear(u.stack[m:])
	u.stack = u.stack[:m]
	return items, nil
}

// readLine reads a GLOBAL operand line.
func (u *unpickler) readLine(op int) (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", u.errAt(op, "truncated pickle: GLOBAL operand has no newline")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) > 8 {
		ext := byte(0)
		if b[7]&0x80 != 0 {
			ext = 0xff
		}
		for _, c := range b[8:] {
			if c != ext {
				return pyBigInt{len(b)}
			}
		}
		b = b[:8]
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if shift := 64 - 8*uint(len(b)); shift > 0 { // sign-extend
		return int64(v<<shift) >> shift
	}
	return int64(v)
}

func (u *unpickler) setItems(d *pyDict, items []any, op int) error {
	if len(items)%2 != 0 {
		return u.errAt(op, "odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		switch items[i].(type) {
		case *pyList, *pyDict, *pySet:
			return u.errAt(op, "unhashable dict key of type %s", typeName(items[i]))
		}
		d.set(items[i], items[i+1])
	}
	return nil
}

// global resolves a GLOBAL name against the allow-list.
func (u *unpickler) global(mod, name string, op int) (*pyGlobal, error) {
	full := mod + "." + name
	g := &pyGlobal{module: mod, name: name}
	if _, ok := storageTypes[full]; ok {
		return g, nil
	}
	if _, ok := dtypeGlobals[full]; ok {
		return g, nil
	}
	if otherGlobals[full] {
		return g, nil
	}
	if u.torchScript && (mod == "__torch__" || strings.HasPrefix(mod, "__torch__.")) {
		return g, nil
	}
	if len(full) > 200 {
		full = full[:200] + "..."
	}
	if mod == "torch" && strings.HasSuffix(name, "Storage") {
		return nil, u.errAt(op, "unsupported storage type %s (supported: float, half, bfloat16, double, long, int, short, char, byte, bool)", full)
	}
	hint := "only tensor, storage and plain-container globals are allowed"
	if strings.HasPrefix(mod, "__torch__") {
		hint = "__torch__ classes are only allowed in a TorchScript archive"
	}
	return nil, u.errAt(op, "global %q is not allowed (%s; is this a pickled model object rather than a state dict?)", full, hint)
}

func (u *unpickler) persistentLoad(pid any, op int) (*storageRef, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 {
		return nil, u.errAt(op, "persistent id is %s, want ('storage', type, key, location, numel)", describe(pid))
	}
	if s, ok := asStr(t[0]); !ok || s != "storage" {
		return nil, u.errAt(op, "persistent id kind %s, want 'storage'", describe(t[0]))
	}
	g, ok := t[1].(*pyGlobal)
	if !ok {
		return nil, u.errAt(op, "storage type is %s, want a torch storage class", describe(t[1]))
	}
	st, ok := storageTypes[g.String()]
	if !ok {
		return nil, u.errAt(op, "unsupported storage type %s", g)
	}
	key, ok := asStr(t[2])
	if !ok || len(key) > 256 {
		return nil, u.errAt(op, "storage key is %s, want a string", describe(t[2]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 || numel > math.MaxInt64/16 {
		return nil, u.errAt(op, "storage %q: bad element count %s", key, describe(t[4]))
	}
	if s, ok := u.storages[key]; ok {
		return s, nil // torch reuses the storage loaded first for a key
	}
	s := &storageRef{key: key, typeName: g.String(), dtype: st.dtype, elemSize: st.elemSize, numel: numel}
	u.storages[key] = s
	return s, nil
}

func asStr(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case pyBytes:
		return string(x), true
	}
	return "", false
}
