package weights

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// maxHeader bounds the JSON header, as the safetensors format itself does
// (100 MB), so a corrupt length cannot make us allocate gigabytes.
const maxHeader = 100 << 20

// ReadSafetensors reads a whole .safetensors file. Tensors are read one at a
// time, so memory peaks at the converted tensors plus one raw tensor.
func ReadSafetensors(path string) (*File, error) {
	f, size, err := openFile(path, "a .safetensors file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseSafetensors(f, size, path)
}

// openFile opens a checkpoint file and returns its size, refusing a
// folder with a message saying what was wanted.
func openFile(path, want string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: is a directory, want %s", path, want)
	}
	return f, st.Size(), nil
}

type stEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

func dtypeSize(d string) int {
	switch d {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "I8", "U8", "BOOL":
		return 1
	}
	return 0
}

// ParseSafetensors reads safetensors data of the given total size from r.
// name is used in error messages. Every offset and size in the header is
// checked against the data before anything is allocated for it.
func ParseSafetensors(r io.ReaderAt, size int64, name string) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%s: %d bytes is too short for a safetensors file (no 8-byte header length)", name, size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading header length: %w", name, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen > maxHeader {
		return nil, fmt.Errorf("%s: header length %d exceeds the %d-byte limit (not a safetensors file?)", name, hlen, maxHeader)
	}
	if int64(hlen) > size-8 {
		return nil, fmt.Errorf("%s: header claims %d bytes but the file has only %d after the length (truncated?)", name, hlen, size-8)
	}
	hdr := make([]byte, hlen)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	names, raw, err := headerEntries(hdr)
	if err != nil {
		return nil, fmt.Errorf("%s: header: %v", name, err)
	}
	dataStart := 8 + int64(hlen)
	dataLen := size - dataStart
	out := &File{Path: name, Tensors: map[string]*Tensor{}}
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	entries := map[string]stEntry{}
	for _, k := range names {
		msg := raw[k]
		if k == "__metadata__" {
			md := map[string]string{}
			if err := json.Unmarshal(msg, &md); err != nil {
				return nil, fmt.Errorf("%s: __metadata__ is not a string map: %v", name, err)
			}
			out.Metadata = md
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: bad header entry: %v", name, k, err)
		}
		if e.Shape == nil {
			return nil, fmt.Errorf("%s: tensor %q: header entry has no shape", name, k)
		}
		es := dtypeSize(e.DType)
		if es == 0 {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", name, k, e.DType)
		}
		if len(e.DataOffsets) != 2 {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets has %d entries, want 2", name, k, len(e.DataOffsets))
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || d > math.MaxInt || (d > 0 && numel > math.MaxInt64/8/d) {
				return nil, fmt.Errorf("%s: tensor %q: bad shape %v", name, k, e.Shape)
			}
			numel *= d
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > dataLen {
			return nil, fmt.Errorf("%s: tensor %q: data_offsets [%d,%d] outside the %d data bytes (truncated or corrupt file)", name, k, begin, end, dataLen)
		}
		if end-begin != numel*int64(es) {
			return nil, fmt.Errorf("%s: tensor %q: %d bytes for shape %v of %s, want %d", name, k, end-begin, e.Shape, e.DType, numel*int64(es))
		}
		entries[k] = e
		if end > begin {
			spans = append(spans, span{k, begin, end})
		}
	}
	// Tensors may not share bytes (the format forbids it; overlap means a
	// corrupt header).
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return nil, fmt.Errorf("%s: tensors %q [%d,%d] and %q [%d,%d] overlap (corrupt header)", name,
				spans[i-1].name, spans[i-1].begin, spans[i-1].end, spans[i].name, spans[i].begin, spans[i].end)
		}
	}
	for _, k := range names {
		e, ok := entries[k]
		if !ok {
			continue
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			shape[i] = int(d)
		}
		t := &Tensor{Name: k, DType: e.DType, Shape: shape}
		if e.DType == "F32" && littleEndianHost {
			// Read the bytes straight into the float32 values: no second
			// copy per tensor for the collector to find later (it set the
			// peak memory of loading a model).
			t.F32 = make([]float32, (end-begin)/4)
			if _, err := r.ReadAt(floatBytes(t.F32), dataStart+begin); err != nil {
				return nil, fmt.Errorf("%s: tensor %q: reading data: %w", name, k, err)
			}
			out.Tensors[k] = t
			continue
		}
		buf := make([]byte, end-begin)
		if _, err := r.ReadAt(buf, dataStart+begin); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: reading data: %w", name, k, err)
		}
		if err := decodeLE(t, buf); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %v", name, k, err)
		}
		out.Tensors[k] = t
	}
	return out, nil
}

// headerEntries parses the header object, keeping its keys sorted and
// refusing duplicate keys and anything after the object but the space
// padding writers add.
func headerEntries(hdr []byte) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("not a JSON object (starts with %v)", tok)
	}
	raw := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("not a JSON object: %v", err)
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("not a JSON object: key %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("entry %q: %v", k, err)
		}
		if _, dup := raw[k]; dup {
			return nil, nil, fmt.Errorf("key %q appears twice", k)
		}
		raw[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if rest := bytes.TrimRight(hdr[dec.InputOffset():], " \t\r\n\x00"); len(rest) > 0 {
		return nil, nil, fmt.Errorf("%d stray bytes after the JSON object", len(rest))
	}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, raw, nil
}

// decodeLE converts little-endian raw bytes of t.DType into t.F32 or t.Ints.
func decodeLE(t *Tensor, buf []byte) error {
	n := len(buf) / dtypeSize(t.DType)
	switch t.DType {
	case "F32":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case "F64":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:])))
		}
	case "F16":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = Float16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	case "BF16":
		t.F32 = make([]float32, n)
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(buf[2*i:])) << 16)
		}
	case "I64", "U64":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
		}
	case "I32":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(int32(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	case "U32":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case "I16":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(int16(binary.LittleEndian.Uint16(buf[2*i:])))
		}
	case "U16":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	case "I8":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(int8(buf[i]))
		}
	case "U8", "BOOL":
		t.Ints = make([]int64, n)
		for i := range t.Ints {
			t.Ints[i] = int64(buf[i])
		}
	default:
		return fmt.Errorf("unknown dtype %q", t.DType)
	}
	return nil
}

// Float16ToFloat32 converts an IEEE 754 half-precision value exactly.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// WriteSafetensors writes float32 tensors (F32) and int64 tensors (I64) in
// the safetensors format, in sorted name order, to w.
func WriteSafetensors(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	sorted := append([]*Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range sorted {
		if _, dup := header[t.Name]; dup || t.Name == "" {
			return fmt.Errorf("safetensors: empty or duplicate tensor name %q", t.Name)
		}
		var dt string
		var nbytes int64
		switch {
		case t.F32 != nil:
			dt, nbytes = "F32", int64(len(t.F32))*4
		case t.Ints != nil:
			dt, nbytes = "I64", int64(len(t.Ints))*8
		default:
			return fmt.Errorf("safetensors: tensor %q has no data", t.Name)
		}
		if int64(t.Numel())*int64(dtypeSize(dt)) != nbytes {
			return fmt.Errorf("safetensors: tensor %q: shape %v does not match %d values", t.Name, t.Shape, nbytes/int64(dtypeSize(dt)))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": dt, "shape": shape, "data_offsets": []int64{off, off + nbytes}}
		off += nbytes
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 { // align the data section, as the reference writer does
		hj = append(hj, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	flush := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	for _, t := range sorted {
		if t.F32 != nil {
			for _, v := range t.F32 {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) >= 1<<16-8 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		} else {
			for _, v := range t.Ints {
				buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
				if len(buf) >= 1<<16-8 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	return flush()
}
