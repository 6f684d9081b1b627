// Package tokenizer is a port of OpenAI CLIP's byte-level BPE tokenizer
// (clip/simple_tokenizer.py and clip.tokenize; docs/model.md#tokenizer). It gives the same
// token ids as the reference, which the tests check against ids produced by
// the original code.
//
// Encoding is: Clean (ftfy-like repairs, NFC, HTML unescaping, whitespace
// collapse, lower case), pre-tokenisation with CLIP's regular expression,
// then byte-level BPE of each pre-token. The vocabulary comes from a model
// folder (LoadDir, LoadHF, LoadOpenAI) or is the one embedded in the package
// (Default).
//
// Known differences from the reference, all outside what CLIP prompts use:
// ftfy is only partly reproduced (see FixText), and the Unicode tables are
// those of the Go release, so characters assigned in recent Unicode versions
// may be classified differently from the Python build that made the
// reference.
package tokenizer

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CLIP's special tokens and context length (docs/model.md#tokenizer).
const (
	SOT           = 49406 // <|startoftext|>
	EOT           = 49407 // <|endoftext|>
	ContextLength = 77
)

// ErrTooLong is wrapped by Tokenize's error for a text with more tokens than
// the context length when truncation is off.
var ErrTooLong = errors.New("text is too long for the context length")

// Tokenizer encodes text to CLIP token ids. It is safe for concurrent use.
type Tokenizer struct {
	vocab   []string       // id → token, spelt in the byte alphabet
	encoder map[string]int // token → id
	raw     []string       // id → the bytes the token stands for
	nMerges int

	byteID    [256]int32 // byte → id of its symbol
	byteEndID [256]int32 // byte → id of its symbol + "</w>"
	merges    map[uint64]mergeRule

	cache *wordCache
}

// VocabSize is the number of token ids (49408 for CLIP).
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Encode returns the token ids of text, without the start and end tokens
// (simple_tokenizer.encode).
func (t *Tokenizer) Encode(text string) []int {
	s := clean(text, true)
	return t.appendEncoded(make([]int, 0, len(s)/3+4), s, -1)
}

// appendEncoded appends the ids of already-cleaned text s to dst. With
// limit >= 0 it may stop once len(dst) >= limit, since pre-tokens are
// encoded independently and later ones cannot change earlier ids.
func (t *Tokenizer) appendEncoded(dst []int, s string, limit int) []int {
	var sc scanner
	sc.s = s
	var scratch bpeScratch
	for {
		tok, ok := sc.next()
		if !ok {
			return dst
		}
		// The reference's BPE cache starts with the two special tokens
		// mapped to themselves, so they become single ids (docs/model.md#tokenizer).
		switch tok {
		case startToken:
			dst = append(dst, SOT)
		case endToken:
			dst = append(dst, EOT)
		default:
			dst = t.appendWord(dst, tok, &scratch)
		}
		if limit >= 0 && len(dst) >= limit {
			return dst
		}
	}
}

// Tokenize returns [SOT] + Encode(text) + [EOT] without padding
// (clip.tokenize without its zero padding). When that is longer than
// contextLength it returns an error wrapping ErrTooLong, or, with truncate,
// the first contextLength ids with the last one set to EOT.
func (t *Tokenizer) Tokenize(text string, contextLength int, truncate bool) ([]int, error) {
	if contextLength < 1 {
		return nil, fmt.Errorf("tokenizer: context length %d, want at least 1", contextLength)
	}
	s := clean(text, true)
	ids := make([]int, 1, min(len(s)/3+4, contextLength+1))
	ids[0] = SOT
	limit := -1
	if truncate {
		limit = contextLength
	}
	ids = t.appendEncoded(ids, s, limit)
	ids = append(ids, EOT)
	if len(ids) <= contextLength {
		return ids, nil
	}
	if !truncate {
		return nil, fmt.Errorf("%w: %s has %d tokens, more than %d", ErrTooLong, shorten(text, 60), len(ids), contextLength)
	}
	ids = ids[:contextLength]
	ids[contextLength-1] = EOT
	return ids, nil
}

// shorten quotes s, cut to at most n characters.
func shorten(s string, n int) string {
	s = validUTF8(s)
	if utf8.RuneCountInString(s) <= n {
		return fmt.Sprintf("%q", s)
	}
	i := 0
	for k := 0; k < n; k++ {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return fmt.Sprintf("%q…", s[:i])
}

// Decode turns ids back into text as simple_tokenizer.decode does: the
// tokens' bytes are joined and decoded as UTF-8 (bad sequences become
// U+FFFD), and every "</w>" becomes a space, so a decoded text ends with a
// space and the special tokens appear as their names. Ids outside the
// vocabulary are skipped (the reference raises KeyError).
func (t *Tokenizer) Decode(ids []int) string {
	var raw strings.Builder
	for _, id := range ids {
		if id >= 0 && id < len(t.raw) {
			raw.WriteString(t.raw[id])
		}
	}
	out := appendPyUTF8(nil, raw.String())
	return strings.ReplaceAll(string(out), "</w>", " ")
}
