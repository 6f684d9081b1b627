package weights

import (
	"encoding/binary"
	"unsafe"
)

// littleEndianHost says whether float32 values in memory have the byte
// order of the checkpoints (little-endian), so that F32 data can be read
// into them, or used where it lies, without decoding.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// floatBytes is the memory of f as bytes.
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f))
}

// bytesAsFloats views b (little-endian F32 data, len a multiple of 4) as
// float32 values without copying, when b is 4-byte aligned and the host is
// little-endian; ok is false otherwise. The values share b's memory.
func bytesAsFloats(b []byte) (f []float32, ok bool) {
	if !littleEndianHost || len(b)%4 != 0 || len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4), true
}
