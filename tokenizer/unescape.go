package tokenizer

import (
	"html"
	"strings"
	"unicode/utf8"
)

// pyUnescape is Python's html.unescape, which basic_clean applies twice
// (docs/model.md#tokenizer). Go's html.UnescapeString agrees with it on named
// references (both use the HTML5 table and the same longest-prefix rule for
// the legacy names without ';'), so those are delegated to it, except for
// two names Go's table lacks. Numeric
// references differ and are done here: Python drops the code points the
// HTML5 spec calls invalid (U+0001..U+0008, U+000B, U+000E..U+001F,
// U+007F..U+009F not remapped, U+FDD0..U+FDEF, U+xFFFE/U+xFFFF) and turns
// any number too large for Unicode into U+FFFD, where Go keeps the former
// and wraps the latter around.
func pyUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:] // s[0] == '&'
		if n := numericRef(&b, s); n > 0 {
			s = s[n:]
			continue
		}
		// Named: '&', then what Go scans (letters and digits, optional ';').
		// Python scans [^\t\n\f <&#;]{1,32};? but can only ever match the
		// alphanumeric prefix, since every HTML5 name is alphanumeric; the
		// characters after it are kept verbatim either way.
		j := 1
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if j < len(s) && s[j] == ';' && j > 1 {
			j++
		}
		if j == 1 {
			b.WriteByte('&')
			s = s[1:]
			continue
		}
		if r, ok := missingInGo[s[:j]]; ok {
			b.WriteString(r)
		} else {
			b.WriteString(html.UnescapeString(s[:j]))
		}
		s = s[j:]
	}
}

// missingInGo are the HTML5 names that Go's html package lacks (checked
// against Python's html.entities.html5, all 2231 names).
var missingInGo = map[string]string{
	"&nGt;": "\u226B\u20D2",
	"&nLt;": "\u226A\u20D2",
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// numericRef handles "&#123;" / "&#x1F;" (';' optional) at the start of s,
// writing its replacement; it returns the bytes consumed, 0 if s does not
// start with a numeric reference.
func numericRef(b *strings.Builder, s string) int {
	if len(s) < 3 || s[1] != '#' {
		return 0
	}
	hex := s[2] == 'x' || s[2] == 'X'
	j := 2
	if hex {
		j = 3
	}
	start := j
	var num uint64
	big := false
	for j < len(s) {
		c := s[j]
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case hex && 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case hex && 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			goto done
		}
		if !big {
			if hex {
				num = num*16 + d
			} else {
				num = num*10 + d
			}
			if num > 0x10FFFF {
				big = true // Python's int is unbounded; all it matters is > 0x10FFFF
			}
		}
		j++
	}
done:
	if j == start {
		return 0
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	if big {
		b.WriteRune(utf8.RuneError)
		return j
	}
	c := rune(num)
	switch {
	case c == 0:
		b.WriteRune(utf8.RuneError)
	case c == 0x0D:
		b.WriteByte('\r')
	case 0x80 <= c && c <= 0x9F:
		// Windows-1252 remapping of the C1 range (html._invalid_charrefs);
		// the five undefined bytes stay as the C1 controls.
		b.WriteRune(c1Remap[c-0x80])
	case 0xD800 <= c && c <= 0xDFFF:
		b.WriteRune(utf8.RuneError)
	case invalidCodepoint(c):
		// dropped
	default:
		b.WriteRune(c)
	}
	return j
}

var c1Remap = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

// invalidCodepoint is html._invalid_codepoints (the C1 range is remapped
// before this is asked).
func invalidCodepoint(c rune) bool {
	switch {
	case 0x01 <= c && c <= 0x08, c == 0x0B, 0x0E <= c && c <= 0x1F, 0x7F <= c && c <= 0x9F:
		return true
	case 0xFDD0 <= c && c <= 0xFDEF:
		return true
	case c&0xFFFE == 0xFFFE: // U+xFFFE and U+xFFFF in every plane
		return true
	}
	return false
}
