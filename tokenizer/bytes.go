package tokenizer

import "unicode/utf8"

// CLIP's BPE works on bytes spelt as printable characters
// (bytes_to_unicode, docs/model.md#tokenizer): the 188 bytes in '!'..'~', '¡'..'¬'
// and '®'..'ÿ' stand for themselves, and the other 68, in increasing order,
// become U+0100, U+0101, ... (space → 'Ġ', byte 0 → 'Ā').
var (
	// byteRunes lists the characters in the reference's bs order, which is
	// also the order of the first 256 vocabulary entries.
	byteRunes [256]rune
	// byteOf maps a byte to its character.
	byteOf [256]rune
	// runeByte maps a character back to its byte (index rune; -1 = none).
	runeByte [256 + 68]int16
)

func init() {
	n := 0
	printable := func(b int) bool {
		return '!' <= b && b <= '~' || 0xA1 <= b && b <= 0xAC || 0xAE <= b && b <= 0xFF
	}
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteRunes[n] = rune(b)
			byteOf[b] = rune(b)
			n++
		}
	}
	extra := 0
	for b := 0; b < 256; b++ {
		if !printable(b) {
			r := rune(256 + extra)
			extra++
			byteRunes[n] = r
			byteOf[b] = r
			n++
		}
	}
	for i := range runeByte {
		runeByte[i] = -1
	}
	for b, r := range byteOf {
		runeByte[r] = int16(b)
	}
}

// byteFromRune inverts byteOf.
func byteFromRune(r rune) (byte, bool) {
	if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
		return 0, false
	}
	return byte(runeByte[r]), true
}

// appendPyUTF8 appends b decoded as Python's bytes.decode("utf-8",
// errors="replace") would: each maximal ill-formed subpart (a valid prefix
// of a sequence that breaks off, or a lone bad byte) becomes one U+FFFD.
// Go's own conversions would give one U+FFFD per byte for a truncated
// sequence, which differs from the reference's decode.
func appendPyUTF8(dst []byte, b string) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(b[i:])
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, b[i:i+n]...)
			i += n
			continue
		}
		dst = utf8.AppendRune(dst, utf8.RuneError)
		i += illFormedLen(b[i:])
	}
	return dst
}

// illFormedLen is the length of the maximal ill-formed subpart at the start
// of b, which starts with an invalid sequence (Unicode §3.9, "U+FFFD
// substitution of maximal subparts", as CPython implements it).
func illFormedLen(b string) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the second byte
	switch {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case c == 0xF4:
		need, hi = 3, 0x8F
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 && (x < lo || x > hi) || k > 0 && (x < 0x80 || x > 0xBF) {
			break
		}
		n++
	}
	return n
}

// validUTF8 returns s with invalid UTF-8 replaced as Python's
// decode(errors="replace") would. Python text cannot hold invalid UTF-8, so
// this is how a Go string that does maps onto the reference.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendPyUTF8(make([]byte, 0, len(s)+8), s))
}
