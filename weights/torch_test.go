package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/goldenpath"
)

// ---- a small pickle writer (test only) ----

type pw struct {
	b       []byte
	v4      bool // protocol 4 style: FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE
	nmemo   int
	globals map[string]int
	stors   map[string]int
}

func newPW(v4 bool) *pw {
	p := &pw{v4: v4, globals: map[string]int{}, stors: map[string]int{}}
	if v4 {
		p.op(0x80, 4, 0x95, 0, 0, 0, 0, 0, 0, 0, 0) // PROTO 4, FRAME (length unused)
	} else {
		p.op(0x80, 2)
	}
	return p
}

func (p *pw) op(b ...byte) { p.b = append(p.b, b...) }
func (p *pw) mark()        { p.op('(') }

func (p *pw) put() int {
	i := p.nmemo
	p.nmemo++
	switch {
	case p.v4:
		p.op(0x94)
	case i < 256:
		p.op('q', byte(i))
	default:
		p.op('r')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(i))
	}
	return i
}

func (p *pw) get(i int) {
	if i < 256 {
		p.op('h', byte(i))
		return
	}
	p.op('j')
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(i))
}

func (p *pw) str(s string) {
	if p.v4 && len(s) < 256 {
		p.op(0x8c, byte(len(s)))
	} else {
		p.op('X')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	}
	p.b = append(p.b, s...)
}

func (p *pw) global(mod, name string) {
	k := mod + "\n" + name
	if i, ok := p.globals[k]; ok {
		p.get(i)
		return
	}
	if p.v4 {
		p.str(mod)
		p.str(name)
		p.op(0x93)
	} else {
		p.op('c')
		p.b = append(p.b, mod+"\n"+name+"\n"...)
	}
	p.globals[k] = p.put()
}

func (p *pw) int(n int64) {
	switch {
	case n >= 0 && n < 256:
		p.op('K', byte(n))
	case n >= 0 && n < 65536:
		p.op('M')
		p.b = binary.LittleEndian.AppendUint16(p.b, uint16(n))
	case n >= math.MinInt32 && n <= math.MaxInt32:
		p.op('J')
		p.b = binary.LittleEndian.AppendUint32(p.b, uint32(int32(n)))
	default:
		p.op(0x8a, 8)
		p.b = binary.LittleEndian.AppendUint64(p.b, uint64(n))
	}
}

func (p *pw) ints(xs ...int64) {
	switch len(xs) {
	case 0:
		p.op(')')
	case 1, 2, 3:
		for _, x := range xs {
			p.int(x)
		}
		p.op(0x84 + byte(len(xs)))
	default:
		p.mark()
		for _, x := range xs {
			p.int(x)
		}
		p.op('t')
	}
}

type stor struct {
	typ, key string
	numel    int64
}

func (p *pw) storage(s stor) {
	if i, ok := p.stors[s.key]; ok {
		p.get(i)
		return
	}
	p.mark()
	p.str("storage")
	p.global("torch", s.typ)
	p.str(s.key)
	p.str("cpu")
	p.int(s.numel)
	p.op('t', 'Q')
	p.stors[s.key] = p.put()
}

func (p *pw) hooks() {
	p.global("collections", "OrderedDict")
	p.op(')', 'R')
}

// tensor writes _rebuild_tensor_v2(storage, off, size, stride, False, OrderedDict()).
func (p *pw) tensor(s stor, off int64, size, stride []int64) {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.mark()
	p.storage(s)
	p.int(off)
	p.ints(size...)
	p.ints(stride...)
	p.op(0x89)
	p.hooks()
	p.op('t', 'R')
	p.put()
}

func (p *pw) stop() []byte { return append(p.b, '.') }

// ---- blobs ----

func f32s(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func u16s(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

func i64s(v ...int64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

type zent struct {
	name string
	data []byte
}

func buildZip(t testing.TB, method uint16, ents ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ---- the synthetic checkpoint ----

type want struct {
	dtype string
	shape []int
	f32   []float32
	ints  []int64
}

var (
	sA  = stor{"FloatStorage", "0", 6}
	sS  = stor{"FloatStorage", "1", 8}
	sH  = stor{"HalfStorage", "2", 4}
	sBF = stor{"BFloat16Storage", "3", 2}
	sI  = stor{"LongStorage", "4", 3}
	sD  = stor{"DoubleStorage", "5", 1}
	sB  = stor{"BoolStorage", "6", 3}
	sI8 = stor{"CharStorage", "7", 2}
	sP  = stor{"FloatStorage", "8", 2}
	sSc = stor{"FloatStorage", "9", 1}
)

func syntheticBlobs(bigEndian bool) []zent {
	d := make([]byte, 8)
	binary.LittleEndian.PutUint64(d, math.Float64bits(0.1))
	blobs := []zent{
		{"0", f32s(1, 2, 3, 4, 5, 6)},
		{"1", f32s(10, 11, 12, 13, 14, 15, 16, 17)},
		{"2", u16s(0x3c00, 0xc000, 0x0001, 0x7c00)},
		{"3", u16s(0x3f80, 0xc0a0)},
		{"4", i64s(-1, 1<<40, 7)},
		{"5", d},
		{"6", []byte{1, 0, 1}},
		{"7", []byte{0x80, 0x7f}},
		{"8", f32s(0.5, -0.25)},
		{"9", f32s(4.6052)},
	}
	if bigEndian {
		sizes := []int{4, 4, 2, 2, 8, 8, 1, 1, 4, 4}
		for i := range blobs {
			b := append([]byte(nil), blobs[i].data...)
			es := sizes[i]
			for j := 0; j < len(b); j += es {
				for a, c := j, j+es-1; a < c; a, c = a+1, c-1 {
					b[a], b[c] = b[c], b[a]
				}
			}
			blobs[i].data = b
		}
	}
	return blobs
}

var syntheticWant = map[string]want{
	"a":      {"F32", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}, nil},
	"aT":     {"F32", []int{3, 2}, []float32{1, 4, 2, 5, 3, 6}, nil},
	"s1":     {"F32", []int{4}, []float32{12, 13, 14, 15}, nil},
	"s2":     {"F32", []int{2, 2}, []float32{11, 13, 15, 17}, nil},
	"e":      {"F32", []int{2, 3}, []float32{10, 11, 12, 10, 11, 12}, nil},
	"h":      {"F16", []int{2, 2}, []float32{1, -2, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}, nil},
	"bf":     {"BF16", []int{2}, []float32{1, -5}, nil},
	"i":      {"I64", []int{3}, nil, []int64{-1, 1 << 40, 7}},
	"d":      {"F64", []int{}, []float32{0.1}, nil},
	"b":      {"BOOL", []int{3}, nil, []int64{1, 0, 1}},
	"i8":     {"I8", []int{2}, nil, []int64{-128, 127}},
	"p":      {"F32", []int{2}, []float32{0.5, -0.25}, nil},
	"scalar": {"F32", []int{}, []float32{4.6052}, nil},
}

// writeStateDictItems writes the (key, tensor) pairs of the synthetic
// state dict, plus two non-tensor values, between a MARK and SETITEMS.
func writeStateDictItems(p *pw) {
	p.mark()
	p.str("a")
	p.tensor(sA, 0, []int64{2, 3}, []int64{3, 1})
	p.str("aT")
	p.tensor(sA, 0, []int64{3, 2}, []int64{1, 3})
	p.str("s1")
	p.tensor(sS, 2, []int64{4}, []int64{1})
	p.str("s2")
	p.tensor(sS, 1, []int64{2, 2}, []int64{4, 2})
	p.str("e")
	p.tensor(sS, 0, []int64{2, 3}, []int64{0, 1})
	p.str("h")
	p.tensor(sH, 0, []int64{2, 2}, []int64{2, 1})
	p.str("bf")
	p.tensor(sBF, 0, []int64{2}, []int64{1})
	p.str("i")
	p.tensor(sI, 0, []int64{3}, []int64{1})
	p.str("d")
	p.tensor(sD, 0, nil, nil)
	p.str("b")
	p.tensor(sB, 0, []int64{3}, []int64{1})
	p.str("i8")
	p.tensor(sI8, 0, []int64{2}, []int64{1})
	p.str("p")
	p.global("torch._utils", "_rebuild_parameter")
	p.mark()
	p.tensor(sP, 0, []int64{2}, []int64{1})
	p.op(0x88)
	p.hooks()
	p.op('t', 'R')
	p.str("scalar")
	p.tensor(sSc, 0, nil, nil)
	p.str("epoch")
	p.int(3)
	p.str("note")
	p.str("hello")
	p.op('u')
}

// syntheticPickle is an OrderedDict state dict with a _metadata BUILD.
func syntheticPickle(v4 bool) []byte {
	p := newPW(v4)
	p.global("collections", "OrderedDict")
	p.op(')', 'R')
	p.put()
	writeStateDictItems(p)
	// state = {'_metadata': OrderedDict({'': {'version': 1}})}
	p.op('}')
	p.str("_metadata")
	p.global("collections", "OrderedDict")
	p.op(')', 'R')
	p.str("")
	p.op('}')
	p.str("version")
	p.int(1)
	p.op('s', 's', 's', 'b')
	return p.stop()
}

// wrappedPickle is a training checkpoint: {"epoch": 5, "state_dict": {...}}.
func wrappedPickle() []byte {
	p := newPW(false)
	p.op('}')
	p.mark()
	p.str("epoch")
	p.int(5)
	p.str("state_dict")
	p.op('}')
	writeStateDictItems(p)
	p.op('u')
	return p.stop()
}

func syntheticZip(t testing.TB, pkl []byte, method uint16, bigEndian bool) []byte {
	ents := []zent{{"archive/data.pkl", pkl}}
	if bigEndian {
		ents = append(ents, zent{"archive/byteorder", []byte("big")})
	} else {
		ents = append(ents, zent{"archive/byteorder", []byte("little")})
	}
	for _, b := range syntheticBlobs(bigEndian) {
		ents = append(ents, zent{"archive/data/" + b.name, b.data})
	}
	ents = append(ents, zent{"archive/version", []byte("3\n")})
	return buildZip(t, method, ents...)
}

func checkTensors(t *testing.T, f *File, wantT map[string]want) {
	t.Helper()
	if len(f.Tensors) != len(wantT) {
		t.Errorf("got %d tensors %v, want %d", len(f.Tensors), f.Names(), len(wantT))
	}
	for name, w := range wantT {
		got, ok := f.Tensors[name]
		if !ok {
			t.Errorf("missing tensor %q (have %v)", name, f.Names())
			continue
		}
		if got.Name != name || got.DType != w.dtype || !sameShape(got.Shape, w.shape) || got.Shape == nil {
			t.Errorf("%s: got name %q dtype %s shape %v, want %s %v", name, got.Name, got.DType, got.Shape, w.dtype, w.shape)
		}
		if w.f32 != nil {
			if got.Ints != nil || len(got.F32) != len(w.f32) {
				t.Errorf("%s: got F32 %v Ints %v, want F32 %v", name, got.F32, got.Ints, w.f32)
				continue
			}
			for i := range w.f32 {
				if math.Float32bits(got.F32[i]) != math.Float32bits(w.f32[i]) {
					t.Errorf("%s[%d] = %v, want %v", name, i, got.F32[i], w.f32[i])
				}
			}
		} else {
			if got.F32 != nil || len(got.Ints) != len(w.ints) {
				t.Errorf("%s: got F32 %v Ints %v, want Ints %v", name, got.F32, got.Ints, w.ints)
				continue
			}
			for i := range w.ints {
				if got.Ints[i] != w.ints[i] {
					t.Errorf("%s[%d] = %v, want %v", name, i, got.Ints[i], w.ints[i])
				}
			}
		}
	}
}

func parseBytes(t *testing.T, data []byte, name string) (*File, error) {
	t.Helper()
	return ParseTorch(bytes.NewReader(data), int64(len(data)), name)
}

func TestParseTorchSynthetic(t *testing.T) {
	cases := []struct {
		name   string
		pkl    []byte
		method uint16
		big    bool
	}{
		{"ordereddict-proto2", syntheticPickle(false), zip.Store, false},
		{"ordereddict-proto4", syntheticPickle(true), zip.Store, false},
		{"wrapped-state_dict", wrappedPickle(), zip.Store, false},
		{"deflated", syntheticPickle(false), zip.Deflate, false},
		{"big-endian", syntheticPickle(false), zip.Store, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := syntheticZip(t, c.pkl, c.method, c.big)
			f, err := parseBytes(t, data, "synthetic.pt")
			if err != nil {
				t.Fatal(err)
			}
			if f.Path != "synthetic.pt" {
				t.Errorf("Path = %q", f.Path)
			}
			checkTensors(t, f, syntheticWant)
		})
	}
}

func TestReadDispatch(t *testing.T) {
	dir := t.TempDir()
	pt := filepath.Join(dir, "x.bin")
	if err := os.WriteFile(pt, syntheticZip(t, syntheticPickle(false), zip.Store, false), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Read(pt)
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, f, syntheticWant)
	if f2, err := ReadTorch(pt); err != nil || len(f2.Tensors) != len(syntheticWant) {
		t.Fatalf("ReadTorch: %v", err)
	}

	var st bytes.Buffer
	if err := WriteSafetensors(&st, []*Tensor{
		{Name: "w", Shape: []int{2}, F32: []float32{1, 2}},
		{Name: "ids", Shape: []int{1, 2}, Ints: []int64{0, 1}},
	}, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "x.safetensors")
	os.WriteFile(sp, st.Bytes(), 0o644)
	f, err = Read(sp)
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, f, map[string]want{
		"w":   {"F32", []int{2}, []float32{1, 2}, nil},
		"ids": {"I64", []int{1, 2}, nil, []int64{0, 1}},
	})
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}

	// A safetensors header of 640 bytes starts with 0x80 0x02, like a pickle.
	hdr := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	hdr += strings.Repeat(" ", 640-len(hdr))
	st640 := append(binary.LittleEndian.AppendUint64(nil, 640), hdr...)
	st640 = append(st640, f32s(3)...)
	sp640 := filepath.Join(dir, "h640.safetensors")
	os.WriteFile(sp640, st640, 0o644)
	if f, err := Read(sp640); err != nil || f.Tensors["a"] == nil || f.Tensors["a"].F32[0] != 3 {
		t.Errorf("640-byte header: %v", err)
	}

	lp := filepath.Join(dir, "legacy.pt")
	legacy := append([]byte{0x80, 0x02, 0x8a, 0x0a}, legacyMagic...)
	legacy = append(legacy, '.')
	os.WriteFile(lp, legacy, 0o644)
	for _, fn := range []func(string) (*File, error){Read, ReadTorch} {
		_, err = fn(lp)
		if err == nil || !strings.Contains(err.Error(), lp) || !strings.Contains(err.Error(), "legacy") {
			t.Errorf("legacy file: got %v", err)
		}
	}
	bp := filepath.Join(dir, "bare.pkl")
	os.WriteFile(bp, []byte{0x80, 0x02, '}', '.'}, 0o644)
	if _, err = Read(bp); err == nil || !strings.Contains(err.Error(), "bare pickle") {
		t.Errorf("bare pickle: got %v", err)
	}
	if _, err = Read(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: got %v", err)
	}
}

// More rebuild paths: _rebuild_tensor_v3 on an UntypedStorage with an
// explicit dtype, _rebuild_from_type_v2 wrapping _rebuild_parameter,
// metadata argument, LONG_BINPUT/LONG_BINGET and torch.Size.
func TestParseTorchRebuildVariants(t *testing.T) {
	p := newPW(false)
	p.op('}')
	p.put()
	p.mark()
	p.str("half")
	p.global("torch._utils", "_rebuild_tensor_v3")
	p.mark()
	p.storage(stor{"UntypedStorage", "0", 8}) // 8 bytes
	p.int(1)                                  // offset in float16 elements
	p.ints(3)
	p.ints(1)
	p.op(0x89)
	p.hooks()
	p.global("torch", "float16")
	p.op('t', 'R')
	p.str("param")
	p.global("torch._tensor", "_rebuild_from_type_v2")
	p.mark()
	p.global("torch._utils", "_rebuild_parameter")
	p.global("torch.nn.parameter", "Parameter")
	p.mark()
	p.tensor(stor{"FloatStorage", "1", 2}, 0, []int64{2}, []int64{1})
	p.op(0x88)
	p.hooks()
	p.op('t')
	p.op('}')
	p.op('t', 'R')
	p.str("meta")
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.mark()
	p.storage(stor{"FloatStorage", "1", 2})
	p.int(1)
	p.global("torch", "Size")
	p.ints(1)
	p.op(0x85, 'R')
	p.ints(1)
	p.op(0x89)
	p.hooks()
	p.op('}') // metadata
	p.op('t', 'R')
	for p.nmemo < 300 { // force LONG_BINPUT / LONG_BINGET
		p.str("pad")
		p.put()
		p.op('0')
	}
	p.str("again")
	p.tensor(stor{"FloatStorage", "1", 2}, 0, []int64{2}, []int64{1})
	p.op('u')
	data := buildZip(t, zip.Store,
		zent{"m/data.pkl", p.stop()},
		zent{"m/data/0", u16s(0, 0x3c00, 0x4000, 0xbc00)},
		zent{"m/data/1", f32s(7, 8)},
	)
	f, err := parseBytes(t, data, "variants.pt")
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, f, map[string]want{
		"half":  {"F16", []int{3}, []float32{1, 2, -1}, nil},
		"param": {"F32", []int{2}, []float32{7, 8}, nil},
		"meta":  {"F32", []int{1}, []float32{8}, nil},
		"again": {"F32", []int{2}, []float32{7, 8}, nil},
	})
}

// ---- TorchScript ----

// obj writes GLOBAL cls, EMPTY_TUPLE, NEWOBJ, {attrs}, BUILD the way the
// TorchScript C++ pickler does.
func (p *pw) obj(mod, cls string, attrs func()) int {
	p.global(mod, cls)
	p.op(')', 0x81)
	i := p.put()
	p.op('}')
	p.mark()
	attrs()
	p.op('u', 'b')
	return i
}

func torchScriptPickle(deep int) []byte {
	p := newPW(false)
	const m = "__torch__.clip.model"
	top := p.nmemo + 1 // the object's memo slot, after its class global's
	p.obj(m, "CLIP", func() {
		p.str("training")
		p.op(0x89)
		p.str("visual")
		p.obj(m, "VisionTransformer", func() {
			p.str("training")
			p.op(0x89)
			p.str("class_embedding")
			p.tensor(stor{"FloatStorage", "0", 4}, 0, []int64{4}, []int64{1})
			p.str("conv1")
			p.obj("__torch__.torch.nn.modules.conv", "Conv2d", func() {
				p.str("weight")
				p.tensor(stor{"FloatStorage", "1", 4}, 0, []int64{1, 1, 2, 2}, []int64{4, 4, 2, 1})
				p.str("bias")
				p.op('N')
				p.str("kernel_size")
				p.global("torch.jit._pickle", "build_intlist")
				p.mark()
				p.op(']')
				p.mark()
				p.int(2)
				p.int(2)
				p.op('e')
				p.op('t', 'R')
			})
			p.str("transformer")
			p.obj(m, "Transformer", func() {
				p.str("resblocks")
				p.obj("__torch__.torch.nn.modules.container", "Sequential", func() {
					p.str("0")
					p.obj(m, "ResidualAttentionBlock", func() {
						p.str("attn")
						p.obj("__torch__.torch.nn.modules.activation", "MultiheadAttention", func() {
							p.str("in_proj_weight")
							p.tensor(stor{"HalfStorage", "2", 6}, 0, []int64{3, 2}, []int64{2, 1})
							p.str("bias_k")
							p.op('N')
							p.str("out_proj")
							p.obj("__torch__.torch.nn.modules.linear", "NonDynamicallyQuantizableLinear", func() {
								p.str("weight")
								p.tensor(stor{"HalfStorage", "2", 6}, 2, []int64{2}, []int64{1})
								p.str("training")
								p.op(0x89)
							})
						})
					})
				})
			})
		})
		p.str("logit_scale")
		p.tensor(stor{"FloatStorage", "3", 1}, 0, nil, nil)
		p.str("input_resolution")
		p.tensor(stor{"LongStorage", "4", 1}, 0, nil, nil)
		p.str("extra")
		p.global("torch.jit._pickle", "restore_type_tag")
		p.mark()
		p.op('}')
		p.str("x")
		p.tensor(stor{"FloatStorage", "3", 1}, 0, []int64{1}, []int64{1})
		p.op('s')
		p.str("Dict[str, Tensor]")
		p.op('t', 'R')
		p.str("parent") // a cycle back to the top module
		p.get(top)
		p.str("deep")
		p.tensor(stor{"FloatStorage", "3", 1}, 0, nil, nil)
		for range deep {
			p.op(0x85)
		}
	})
	return p.stop()
}

func torchScriptZip(t testing.TB, pkl []byte, withCode bool) []byte {
	ents := []zent{{"ViT-B-16/data.pkl", pkl}}
	if withCode {
		ents = append(ents,
			zent{"ViT-B-16/code/__torch__/clip/model.py", []byte("class CLIP(Module):\n  __parameters__ = []\n")},
			zent{"ViT-B-16/constants.pkl", []byte{0x80, 0x02, ')', '.'}})
	}
	ents = append(ents,
		zent{"ViT-B-16/data/0", f32s(1, 2, 3, 4)},
		zent{"ViT-B-16/data/1", f32s(5, 6, 7, 8)},
		zent{"ViT-B-16/data/2", u16s(0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600)},
		zent{"ViT-B-16/data/3", f32s(4.5)},
		zent{"ViT-B-16/data/4", i64s(224)},
		zent{"ViT-B-16/version", []byte("1\n")})
	return buildZip(t, zip.Store, ents...)
}

func TestParseTorchScript(t *testing.T) {
	f, err := parseBytes(t, torchScriptZip(t, torchScriptPickle(2), true), "ViT-B-16.pt")
	if err != nil {
		t.Fatal(err)
	}
	checkTensors(t, f, map[string]want{
		"visual.class_embedding":                              {"F32", []int{4}, []float32{1, 2, 3, 4}, nil},
		"visual.conv1.weight":                                 {"F32", []int{1, 1, 2, 2}, []float32{5, 6, 7, 8}, nil},
		"visual.transformer.resblocks.0.attn.in_proj_weight":  {"F16", []int{3, 2}, []float32{1, 2, 3, 4, 5, 6}, nil},
		"visual.transformer.resblocks.0.attn.out_proj.weight": {"F16", []int{2}, []float32{3, 4}, nil},
		"logit_scale":      {"F32", []int{}, []float32{4.5}, nil},
		"input_resolution": {"I64", []int{}, nil, []int64{224}},
		"extra.x":          {"F32", []int{1}, []float32{4.5}, nil},
		"deep.0.0":         {"F32", []int{}, []float32{4.5}, nil},
	})

	// Without code/ and constants.pkl it is a plain torch.save file, where
	// __torch__ classes are not allowed.
	_, err = parseBytes(t, torchScriptZip(t, torchScriptPickle(2), false), "plain.pt")
	wantErr(t, err, "plain.pt", `global "__torch__.clip.model.CLIP" is not allowed`)

	// Nesting deeper than the walk allows.
	_, err = parseBytes(t, torchScriptZip(t, torchScriptPickle(maxPickleDepth+10), true), "deep.pt")
	wantErr(t, err, "deep.pt", "nested deeper than")
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("got no error, want one mentioning %q", parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

// ---- errors ----

// oneTensorZip is a checkpoint whose pickle is written by body, with one
// F32 blob "0" of blobFloats values.
func oneTensorZip(t *testing.T, blobFloats int, body func(p *pw)) []byte {
	p := newPW(false)
	p.op('}')
	p.mark()
	body(p)
	p.op('u')
	vals := make([]float32, blobFloats)
	return buildZip(t, zip.Store, zent{"a/data.pkl", p.stop()}, zent{"a/data/0", f32s(vals...)})
}

func rawPickleZip(t *testing.T, pkl []byte) []byte {
	return buildZip(t, zip.Store, zent{"a/data.pkl", pkl}, zent{"a/data/0", f32s(1, 2, 3, 4, 5, 6)})
}

func TestParseTorchErrors(t *testing.T) {
	good := syntheticZip(t, syntheticPickle(false), zip.Store, false)
	corrupt := append([]byte(nil), good...)
	if i := bytes.Index(corrupt, f32s(10, 11, 12)); i >= 0 {
		corrupt[i] ^= 0xff
	} else {
		t.Fatal("blob not found in zip")
	}
	deepMarks := append([]byte{0x80, 2}, bytes.Repeat([]byte{'('}, maxPickleDepth+1)...)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated zip", good[:len(good)/2], "not a readable zip archive"},
		{"empty file", nil, "not a readable zip archive"},
		{"corrupt blob", corrupt, "checksum"},
		{"no data.pkl", buildZip(t, zip.Store, zent{"a/other", []byte("x")}), "no <archive>/data.pkl"},
		{"blob shorter than claimed", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "0", 10}, 0, []int64{10}, []int64{1})
		}), `storage "0" (torch.FloatStorage): blob has 24 bytes, the checkpoint claims 10 elements = 40 bytes`},
		{"missing blob", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "7", 1}, 0, []int64{1}, []int64{1})
		}), "no zip entry a/data/7"},
		{"offset out of range", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "0", 6}, 5, []int64{4}, []int64{1})
		}), `tensor "w": view (offset 5, size [4], stride [1]) reaches element 8 of storage "0", which has 6 elements`},
		{"stride out of range", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "0", 6}, 0, []int64{2, 3}, []int64{1, 3})
		}), "reaches element 7"},
		{"huge expanded view", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "0", 6}, 0, []int64{1 << 20, 1 << 20}, []int64{0, 0})
		}), "more than"},
		{"overflowing view", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "0", 6}, 0, []int64{2}, []int64{math.MaxInt64})
		}), "overflow"},
		{"negative stride", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"FloatStorage", "0", 6}, 0, []int64{2}, []int64{-1})
		}), "negative size or stride"},
		{"unknown global", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.global("os", "system")
			p.str("echo hi")
			p.op(0x85, 'R')
		}), `global "os.system" is not allowed`},
		{"unsupported storage", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.tensor(stor{"ComplexFloatStorage", "0", 3}, 0, []int64{3}, []int64{1})
		}), "unsupported storage type torch.ComplexFloatStorage"},
		{"uncallable global", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.global("torch", "FloatStorage")
			p.op(')', 'R')
		}), "global torch.FloatStorage cannot be called"},
		{"wrong rebuild arity", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.global("torch._utils", "_rebuild_tensor_v2")
			p.op(')', 'R')
		}), "takes 6 to 7 arguments, got 0"},
		{"bad persistent id", oneTensorZip(t, 6, func(p *pw) {
			p.str("w")
			p.str("storage")
			p.op('Q')
		}), "persistent id is \"storage\""},
		{"unknown opcode", rawPickleZip(t, []byte{0x80, 2, '}', 0xff, '.'}), "offset 3: unsupported pickle opcode 0xff"},
		{"text opcode", rawPickleZip(t, []byte{0x80, 2, 'I', '1', '\n', '.'}), "unsupported pickle opcode 0x49"},
		{"deep nesting", rawPickleZip(t, deepMarks), "nesting deeper than 1000 levels"},
		{"no STOP", rawPickleZip(t, []byte{0x80, 2, '}'}), "no STOP opcode"},
		{"stack underflow", rawPickleZip(t, []byte{0x80, 2, 't', '.'}), "without a MARK"},
		{"underflow past mark", rawPickleZip(t, []byte{0x80, 2, 'K', 1, '(', 0x86, '.'}), "stack underflow"},
		{"missing memo", rawPickleZip(t, []byte{0x80, 2, 'h', 9, '.'}), "memo key 9 was never stored"},
		{"truncated string", rawPickleZip(t, []byte{0x80, 2, 'X', 0xff, 0xff, 0, 0, 'a', '.'}), "truncated pickle"},
		{"not a dict", rawPickleZip(t, []byte{0x80, 2, 'K', 1, '.'}), "the pickled object is int, want a dict of tensors"},
		{"no tensors", rawPickleZip(t, []byte{0x80, 2, '}', 'X', 1, 0, 0, 0, 'k', 'K', 1, 's', '.'}), `no tensors found in the pickled dict (keys "k")`},
		{"bad protocol", rawPickleZip(t, []byte{0x80, 9, '.'}), "unsupported pickle protocol 9"},
		{"legacy magic", append(append([]byte{0x80, 0x02, 0x8a, 0x0a}, legacyMagic...), '.'), "legacy (pre-1.6, non-zip)"},
		{"bad byteorder", buildZip(t, zip.Store, zent{"a/data.pkl", []byte{0x80, 2, '}', '.'}}, zent{"a/byteorder", []byte("middle")}), `byteorder is "middle"`},
		{"duplicate entry", buildZip(t, zip.Store, zent{"a/data.pkl", []byte{0x80, 2, '}', '.'}}, zent{"a/data.pkl", []byte{0x80, 2, '}', '.'}}), "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseBytes(t, c.data, "bad.pt")
			wantErr(t, err, "bad.pt", c.want)
		})
	}
}

func TestParseSafetensorsErrors(t *testing.T) {
	mk := func(header string, data []byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), data...)
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1000)
	huge = append(huge, "{}"...)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"too short", []byte{1, 2}, "too short"},
		{"header longer than file", huge, "header claims 1000 bytes but the file has only 2"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the"},
		{"not json", mk("[1]", nil), "not a JSON object"},
		{"stray bytes", mk(`{} x`, nil), "stray bytes"},
		{"duplicate key", mk(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32s(1)), `key "a" appears twice`},
		{"unknown dtype", mk(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), `tensor "a": unknown dtype "F8_E4M3"`},
		{"no shape", mk(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, f32s(1)), "no shape"},
		{"offsets out of range", mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32s(1)), "data_offsets [0,8] outside the 4 data bytes"},
		{"negative offset", mk(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, f32s(1)), "outside"},
		{"wrong size", mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, f32s(1, 2)), "4 bytes for shape [2] of F32, want 8"},
		{"overlap", mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, f32s(1, 2)), `tensors "a" [0,8] and "b" [4,8] overlap`},
		{"huge shape", mk(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}`, f32s(1)), "bad shape"},
		{"bad metadata", mk(`{"__metadata__":{"a":1}}`, nil), "__metadata__ is not a string map"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSafetensors(bytes.NewReader(c.data), int64(len(c.data)), "bad.safetensors")
			wantErr(t, err, "bad.safetensors", c.want)
		})
	}
	// Padding spaces after the header object are fine.
	ok := mk(`{"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}    `, u16s(0x3f80))
	f, err := ParseSafetensors(bytes.NewReader(ok), int64(len(ok)), "ok.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if a := f.Tensors["a"]; a == nil || len(a.F32) != 1 || a.F32[0] != 1 || a.Shape == nil || len(a.Shape) != 0 {
		t.Errorf("got %+v", f.Tensors["a"])
	}
}

// ---- fuzzing ----

// goldenDir is the golden folder, or "" when FREESEG_GOLDEN is unset or
// unusable (the fuzz seeds it adds are optional).
func goldenDir() string {
	d, err := goldenpath.Resolve()
	if err != nil {
		return ""
	}
	return d
}

// goldenPickle returns the golden checkpoint's data.pkl when available.
func goldenPickle() []byte {
	d := goldenDir()
	if d == "" {
		return nil
	}
	zr, err := zip.OpenReader(filepath.Join(d, "tiny-clip", "openai_state_dict.pt"))
	if err != nil {
		return nil
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/data.pkl") {
			b, err := readEntry(f, 1<<40, maxPickleBytes, "a pickle")
			if err == nil {
				return b
			}
		}
	}
	return nil
}

func FuzzParsePickle(f *testing.F) {
	f.Add(syntheticPickle(false))
	f.Add(syntheticPickle(true))
	f.Add(wrappedPickle())
	f.Add(torchScriptPickle(3))
	f.Add([]byte{0x80, 2, '}', '.'})
	if g := goldenPickle(); g != nil {
		f.Add(g)
	}
	blob := make([]byte, 4096)
	load := func(_ string, need int64) ([]byte, bool, int64, error) {
		return blob[:min(need, int64(len(blob)))], need >= int64(len(blob)), int64(len(blob)), nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ts := range []bool{false, true} {
			refs, err := collectRefs("fuzz.pkl", data, ts)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz.pkl") {
					t.Fatalf("error without the file name: %v", err)
				}
				continue
			}
			m, err := materialize(refs, load, false)
			if err != nil {
				continue
			}
			for name, tt := range m {
				n := len(tt.F32) + len(tt.Ints)
				if n != tt.Numel() {
					t.Fatalf("%s: %d values for shape %v", name, n, tt.Shape)
				}
			}
		}
	})
}

func FuzzParseTorch(f *testing.F) {
	f.Add(syntheticZip(f, syntheticPickle(false), zip.Store, false))
	f.Add(syntheticZip(f, syntheticPickle(true), zip.Deflate, true))
	f.Add(torchScriptZip(f, torchScriptPickle(1), true))
	addLyingZipSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseTorch(bytes.NewReader(data), int64(len(data)), "fuzz.pt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.pt") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for name, tt := range file.Tensors {
			if len(tt.F32)+len(tt.Ints) != tt.Numel() {
				t.Fatalf("%s: values do not match shape %v", name, tt.Shape)
			}
		}
	})
}

func FuzzParseSafetensors(f *testing.F) {
	var b bytes.Buffer
	WriteSafetensors(&b, []*Tensor{
		{Name: "w", Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}},
		{Name: "ids", Shape: []int{3}, Ints: []int64{0, 1, 2}},
	}, map[string]string{"format": "pt"})
	f.Add(b.Bytes())
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Add([]byte("\x3a\x00\x00\x00\x00\x00\x00\x00" + `{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}    ` + "\x00\x3c\x00\xc0"))
	if d := goldenDir(); d != "" {
		if fh, err := os.Open(filepath.Join(d, "tiny-clip", "model.safetensors")); err == nil {
			var lb [8]byte
			if _, err := fh.ReadAt(lb[:], 0); err == nil {
				n := binary.LittleEndian.Uint64(lb[:])
				if n < 1<<20 {
					h := make([]byte, 8+n)
					if _, err := fh.ReadAt(h, 0); err == nil {
						f.Add(h) // the real header, without its data
					}
				}
			}
			fh.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseSafetensors(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.safetensors") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for name, tt := range file.Tensors {
			if len(tt.F32)+len(tt.Ints) != tt.Numel() {
				t.Fatalf("%s: values do not match shape %v", name, tt.Shape)
			}
		}
	})
}

// TestPickleOpcodes runs the machine on a hand-written pickle using the
// less common opcodes and checks the values it builds.
func TestPickleOpcodes(t *testing.T) {
	p := newPW(false)
	p.op(']') // the list collecting the results
	p.mark()
	p.op(0x8a, 1, 0xff)                                                 // LONG1 -1
	p.op(0x8a, 9, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // LONG1 -2 in 9 bytes
	p.op(0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1)                            // 2**64: too big
	p.op(0x8b, 2, 0, 0, 0, 0x00, 0x01)                                  // LONG4 256
	p.op(0x8a, 0)                                                       // LONG1 0
	p.op('J', 0xfe, 0xff, 0xff, 0xff)                                   // BININT -2
	p.op('G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0)                             // BINFLOAT 1.5
	p.op('U', 2, 'h', 'i')                                              // SHORT_BINSTRING
	p.op('T', 1, 0, 0, 0, 'x')                                          // BINSTRING
	p.op('C', 2, 0, 1)                                                  // SHORT_BINBYTES
	p.op(0x8c, 1, 'y', 0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 'z')               // SHORT_BINUNICODE, BINUNICODE8
	p.op('(', 'K', 1, 'K', 2, 'd')                                      // DICT {1: 2}
	p.op('(', 'K', 3, 'l')                                              // LIST [3]
	p.op(0x8f, '(', 'K', 4, 'K', 5, 0x90)                               // EMPTY_SET, ADDITEMS
	p.op('(', 'K', 6, 0x91)                                             // FROZENSET
	p.op('K', 7, '2', '0')                                              // DUP, POP
	p.op('(', 'K', 8, '1')                                              // POP_MARK
	p.global("builtins", "set")
	p.op(']', 'K', 9, 'a', 0x85, 'R') // set([9])
	p.global("_codecs", "encode")
	p.op('X', 2, 0, 0, 0, 0xc3, 0xbf) // "ÿ"
	p.str("latin1")
	p.op(0x86, 'R')
	p.global("torch", "device")
	p.str("cuda:0")
	p.op(0x85, 'R')
	p.global("collections", "OrderedDict")
	p.op(')', '}', 0x92) // NEWOBJ_EX without keywords
	p.global("collections", "OrderedDict")
	p.op(']', '(', 'X', 1, 0, 0, 0, 'k', 'K', 1, 't', 'a', 0x85, 'R') // OrderedDict([("k", 1)])
	p.op('N', 0x88, 0x89)
	p.op('e')
	u := newUnpickler("ops.pkl", p.stop(), false)
	v, err := u.run()
	if err != nil {
		t.Fatal(err)
	}
	got := v.(*pyList).items
	want := []string{"int -1", "int -2", "int", "int 256", "int 0", "int -2", "float 1.5", "str hi", "str x", "bytes",
		"str y", "str z", "dict 1", "list 1", "set 2", "set 1", "int 7", "set 1", "bytes", "str cuda:0", "dict 0", "dict 1",
		"None", "bool true", "bool false"}
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i, g := range got {
		d := typeName(g)
		switch x := g.(type) {
		case int64, float64, string:
			d += " " + strings.Trim(describe(x), `"`)
		case bool:
			d += map[bool]string{true: " true", false: " false"}[x]
		case *pyDict:
			d += " " + string(rune('0'+len(x.keys)))
		case *pyList:
			d += " " + string(rune('0'+len(x.items)))
		case *pySet:
			d += " " + string(rune('0'+len(x.items)))
		}
		if d != want[i] {
			t.Errorf("value %d: got %s, want %s", i, d, want[i])
		}
	}
	if b := got[18].(pyBytes); len(b) != 1 || b[0] != 0xff {
		t.Errorf("_codecs.encode: got %v", b)
	}
}

// TestParseTorchTensorsOwnTheirValues checks that no two tensors share
// memory, although a storage read for one tensor lends it its bytes (the
// synthetic checkpoint has storages viewed by one tensor and by several):
// writing into one tensor's values changes no other tensor.
func TestParseTorchTensorsOwnTheirValues(t *testing.T) {
	// tied: two contiguous views of one storage (tied weights), each
	// covering all of it.
	tp := newPW(false)
	tp.op('}')
	tp.mark()
	tp.str("x")
	tp.tensor(sA, 0, []int64{6}, []int64{1})
	tp.str("y")
	tp.tensor(sA, 0, []int64{2, 3}, []int64{3, 1})
	tp.op('u')
	tied := tp.stop()
	for _, c := range []struct {
		pkl    []byte
		method uint16
	}{{syntheticPickle(false), zip.Store}, {syntheticPickle(false), zip.Deflate}, {tied, zip.Store}} {
		method := c.method
		f, err := parseBytes(t, syntheticZip(t, c.pkl, method, false), "synthetic.pt")
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) < 2 {
			t.Fatalf("%d tensors", len(f.Tensors))
		}
		for _, name := range f.Names() {
			before := map[string][]float32{}
			for n, x := range f.Tensors {
				before[n] = append([]float32(nil), x.F32...)
			}
			for i := range f.Tensors[name].F32 {
				f.Tensors[name].F32[i] = -999
			}
			for n, x := range f.Tensors {
				if n != name && !slices.Equal(x.F32, before[n]) {
					t.Fatalf("method %d: writing into %q changed %q: %v → %v", method, name, n, before[n], x.F32)
				}
			}
		}
	}
}
