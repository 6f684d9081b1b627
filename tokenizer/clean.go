package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean is the text clean-up that CLIP applies before pre-tokenisation
// (docs/model.md#tokenizer; simple_tokenizer.py basic_clean, whitespace_clean and the
// lower() in encode):
//
//  1. invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart, as
//     Python's decode(errors="replace") gives (Python text cannot hold it);
//  2. FixText, the part of ftfy.fix_text this package reproduces, then NFC
//     (which ftfy also applies);
//  3. HTML unescaping twice, with Python's html.unescape rules;
//  4. strip, collapse every run of whitespace to one space, strip again;
//  5. lower case with Python's str.lower.
//
// Two whitespace notions meet here and the difference is kept: str.strip
// removes what str.isspace accepts, which includes U+001C..U+001F, while
// the collapse uses the regex module's \s, Unicode White_Space, which does
// not. So "a\x1cb" keeps its U+001C (it is then a punctuation token).
func Clean(text string) string {
	return clean(text, true)
}

// clean is Clean; fix=false skips FixText, for comparisons with a
// reference that stubs ftfy out.
func clean(text string, fix bool) string {
	s := validUTF8(text)
	if !isASCII(s) { // FixText and NFC leave ASCII alone
		if fix {
			s = FixText(s)
		}
		s = norm.NFC.String(s)
	}
	s = pyUnescape(pyUnescape(s))
	s = pyStrip(s)
	s = collapseSpace(s)
	s = pyStrip(s)
	return pyLower(s)
}

// FixText applies the common repairs of ftfy.fix_text that change CLIP
// tokens in practice:
//
//   - mojibake: UTF-8 that was decoded as Windows-1252 or Latin-1
//     ("cafÃ©" → "café", "donâ€™t" → "don’t" → "don't");
//   - curly quotes: ‘ ’ ‚ ‛ → ' and “ ” „ ‟ → " (ftfy's uncurl_quotes).
//
// It is deliberately conservative and does not reproduce ftfy as a whole:
// no badness heuristics, no other encodings, no ligature, character-width,
// line-break, control-character or terminal-escape fixes. A mojibake
// sequence is only replaced when the characters map back to the bytes of
// one well-formed UTF-8 sequence and the result is a plausible character
// (see fixMojibake). On clean text it is the identity.
func FixText(s string) string {
	return uncurlQuotes(fixMojibake(s))
}

// uncurlQuotes replaces typographic quotes by ASCII ones, as ftfy does by
// default; "don’t" then tokenises like "don't" ('t is a contraction token).
func uncurlQuotes(s string) string {
	if !strings.ContainsAny(s, "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case 0x2018 <= r && r <= 0x201B:
			return '\''
		case 0x201C <= r && r <= 0x201F:
			return '"'
		}
		return r
	}, s)
}

// cp1252 maps the Windows-1252 characters of bytes 0x80..0x9F back to their
// bytes. Bytes that Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90,
// 0x9D) decode to U+0081.. in the "sloppy" codec ftfy uses; those, and the
// Latin-1 reading of 0x80..0xFF, are handled by the identity in mojibakeByte.
var cp1252 = map[rune]byte{
	'€': 0x80, '‚': 0x82, 'ƒ': 0x83, '„': 0x84, '…': 0x85, '†': 0x86, '‡': 0x87,
	'ˆ': 0x88, '‰': 0x89, 'Š': 0x8A, '‹': 0x8B, 'Œ': 0x8C, 'Ž': 0x8E,
	'‘': 0x91, '’': 0x92, '“': 0x93, '”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97,
	'˜': 0x98, '™': 0x99, 'š': 0x9A, '›': 0x9B, 'œ': 0x9C, 'ž': 0x9E, 'Ÿ': 0x9F,
}

// mojibakeByte is the byte that r came from if a Windows-1252 or Latin-1
// decoder produced it.
func mojibakeByte(r rune) (byte, bool) {
	if r < 0x100 {
		return byte(r), true
	}
	b, ok := cp1252[r]
	return b, ok
}

// fixMojibake re-decodes sequences of characters that are the Windows-1252
// (or Latin-1) reading of a multi-byte UTF-8 character. At each character
// whose byte is a UTF-8 lead byte, the following characters' bytes must
// complete one well-formed sequence; two-byte sequences must also decode to
// U+00A0..U+04FF (Latin, IPA, Greek, Cyrillic), because pairs such as "ß»"
// (DF BB, an NKo letter) occur in real Latin-1 text while three- and
// four-byte patterns practically never do by accident.
func fixMojibake(s string) string {
	// Fast path: mojibake needs a lead character in Â..ô.
	has := false
	for _, r := range s {
		if 0xC2 <= r && r <= 0xF4 {
			has = true
			break
		}
	}
	if !has {
		return s
	}
	var out strings.Builder
	done := 0 // s[:done] is copied to out
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r < 0xC2 || r > 0xF4 {
			i += n
			continue
		}
		var need int
		switch {
		case r <= 0xDF:
			need = 1
		case r <= 0xEF:
			need = 2
		default:
			need = 3
		}
		var buf [4]byte
		buf[0] = byte(r)
		j := i + n
		k := 1
		for ; k <= need && j < len(s); k++ {
			c, m := utf8.DecodeRuneInString(s[j:])
			b, ok := mojibakeByte(c)
			if !ok || b < 0x80 || b > 0xBF {
				break
			}
			buf[k] = b
			j += m
		}
		if k != need+1 {
			i += n
			continue
		}
		dec, size := utf8.DecodeRune(buf[:k])
		if dec == utf8.RuneError || size != k || need == 1 && (dec < 0xA0 || dec > 0x4FF) {
			i += n
			continue
		}
		out.WriteString(s[done:i])
		out.WriteRune(dec)
		i, done = j, j
	}
	if done == 0 {
		return s
	}
	out.WriteString(s[done:])
	return out.String()
}

// pyIsSpace is Python's str.isspace for one character: Unicode White_Space
// (which is what unicode.IsSpace tests) plus U+001C..U+001F, which Python
// counts because of their bidirectional class.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || 0x1C <= r && r <= 0x1F
}

// reIsSpace is \s of the regex module (which simple_tokenizer.py imports as
// re) on str patterns: Unicode White_Space, without U+001C..U+001F.
func reIsSpace(r rune) bool {
	return unicode.IsSpace(r)
}

// pyStrip is Python's str.strip() with no argument.
func pyStrip(s string) string {
	return strings.TrimFunc(s, pyIsSpace)
}

// collapseSpace is re.sub(r'\s+', ' ', s) with the regex module's \s.
func collapseSpace(s string) string {
	// Fast path: ASCII with single spaces only is already collapsed.
	ok := true
	for i := 0; i < len(s) && ok; i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, '\t' <= c && c <= '\r':
			ok = false
		case c == ' ' && i+1 < len(s) && s[i+1] == ' ':
			ok = false
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	inSpace := false
	for _, r := range s {
		if reIsSpace(r) {
			if !inSpace {
				b.WriteByte(' ')
				inSpace = true
			}
			continue
		}
		inSpace = false
		b.WriteRune(r)
	}
	return b.String()
}

// pyLower is Python's str.lower(): the simple lower-case mapping except
// where the full mapping differs, which for lower case is U+0130 (İ → i +
// combining dot above) and the context-dependent final sigma (Σ → ς at the
// end of a word, σ elsewhere).
func pyLower(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3A3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3C2)
			} else {
				b.WriteRune(0x3C3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma tests the Final_Sigma condition of the Unicode standard as
// CPython implements it: a cased letter before (skipping case-ignorable
// characters) and no cased letter after (skipping them too).
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is the derived property Cased: Lowercase, Uppercase or Lt.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is the derived property Case_Ignorable: Mn, Me, Cf, Lm,
// Sk, or Word_Break MidLetter, MidNumLet or Single_Quote (listed, since Go
// has no Word_Break table).
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
