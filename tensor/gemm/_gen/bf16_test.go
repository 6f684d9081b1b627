package main

import (
	"bytes"
	"testing"
)

// The expected bytes are GNU as 2.44's encodings of the same instructions
// (objdump -d of `vdpbf16ps %zmm30,%zmm28,%zmm0` etc., AT&T operand order:
// sources first, destination last).
func TestEncodings(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"vdpbf16ps %zmm30,%zmm28,%zmm0", vdpbf16ps(0, 28, 30), []byte{0x62, 0x92, 0x1e, 0x40, 0x52, 0xc6}},
		{"vdpbf16ps %zmm31,%zmm29,%zmm27", vdpbf16ps(27, 29, 31), []byte{0x62, 0x02, 0x16, 0x40, 0x52, 0xdf}},
		{"vdpbf16ps %zmm1,%zmm2,%zmm3", vdpbf16ps(3, 2, 1), []byte{0x62, 0xf2, 0x6e, 0x48, 0x52, 0xd9}},
		{"vdpbf16ps %zmm9,%zmm17,%zmm12", vdpbf16ps(12, 17, 9), []byte{0x62, 0x52, 0x76, 0x40, 0x52, 0xe1}},
		{"vcvtneps2bf16 %zmm0,%ymm1", vcvtneps2bf16(1, 0), []byte{0x62, 0xf2, 0x7e, 0x48, 0x72, 0xc8}},
		{"vcvtneps2bf16 %zmm17,%ymm9", vcvtneps2bf16(9, 17), []byte{0x62, 0x32, 0x7e, 0x48, 0x72, 0xc9}},
	}
	for _, c := range cases {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s: got % x, want % x", c.name, c.got, c.want)
		}
	}
}
