package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// scanner splits cleaned text into pre-tokens the way re.findall does with
// CLIP's pattern (docs/model.md#tokenizer), compiled by the regex module with
// IGNORECASE:
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// At each position the alternatives are tried in order and the first that
// matches wins (no longest-match); a position where none matches (white
// space) is skipped. Written out by hand because it is simpler to make
// exact than Go's regexp (whose \s is ASCII-only) and several times faster.
//
// IGNORECASE matters only in two places once the text is lower-cased:
// literal letters also match their case-fold variants (so "'ſ" is the
// contraction 's, and "<|ſtartoftext|>" is matched as one token, although
// not the special one), and U+0345 COMBINING GREEK YPOGEGRAMMENI, whose case
// variants are letters, matches neither [\p{L}] nor the negated class, so it
// is skipped like white space. Both were checked against the regex module
// over all code points.
type scanner struct {
	s string
	i int
}

// next returns the next pre-token, or false at the end.
func (sc *scanner) next() (string, bool) {
	s := sc.s
	for sc.i < len(s) {
		i := sc.i
		c := s[i]
		if c == '<' {
			if n := matchFold(s[i:], startToken); n > 0 {
				sc.i += n
				return s[i : i+n], true
			}
			if n := matchFold(s[i:], endToken); n > 0 {
				sc.i += n
				return s[i : i+n], true
			}
		}
		if c == '\'' {
			if n := contraction(s[i:]); n > 0 {
				sc.i += n
				return s[i : i+n], true
			}
		}
		r, w := rune(c), 1
		if c >= utf8.RuneSelf {
			r, w = utf8.DecodeRuneInString(s[i:])
		}
		switch {
		case isLetter(r):
			j := i + w
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if !isLetter(r) {
					break
				}
				j += w
			}
			sc.i = j
			return s[i:j], true
		case isNumber(r):
			sc.i = i + w
			return s[i : i+w], true
		case isOther(r):
			j := i + w
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if !isOther(r) {
					break
				}
				j += w
			}
			sc.i = j
			return s[i:j], true
		}
		sc.i = i + w // white space, or U+0345
	}
	return "", false
}

// isLetter is [\p{L}] (General_Category L).
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

// isNumber is [\p{N}] (Nd, Nl, No).
func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

// isOther is [^\s\p{L}\p{N}] under IGNORECASE (see scanner for U+0345).
func isOther(r rune) bool {
	return !reIsSpace(r) && !isLetter(r) && !isNumber(r) && r != 0x345
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at the start of s (which
// starts with an apostrophe) and returns its length in bytes, or 0.
func contraction(s string) int {
	for _, c := range [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
		if n := matchFold(s, c); n > 0 {
			return n
		}
	}
	return 0
}

// matchFold reports the byte length of the prefix of s that equals the
// ASCII pattern p under simple case folding, or 0 if there is none.
func matchFold(s, p string) int {
	j := 0
	for k := 0; k < len(p); k++ {
		if j >= len(s) {
			return 0
		}
		if s[j] == p[k] {
			j++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[j:])
		if !foldEq(r, rune(p[k])) {
			return 0
		}
		j += w
	}
	return j
}

// foldEq reports whether r and p are in the same simple case-folding orbit.
func foldEq(r, p rune) bool {
	for f := unicode.SimpleFold(p); f != p; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return r == p
}
