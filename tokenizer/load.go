package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Vocabulary file names, as OpenAI and Hugging Face ship them.
const (
	openAIFile = "bpe_simple_vocab_16e6.txt.gz"
	hfVocab    = "vocab.json"
	hfMerges   = "merges.txt"
)

// numMerges is how many merge lines CLIP uses: lines[1 : 49152-256-2+1] of
// the OpenAI file (docs/model.md#tokenizer). The file holds many more; the rest are
// ignored by the reference too.
const numMerges = 49152 - 256 - 2

// Limits on vocabulary files, from what CLIP's need (docs/model-files.md):
// OpenAI's bpe_simple_vocab_16e6.txt.gz decompresses to 3.2 MB with lines
// of at most 129 bytes, vocab.json is 0.96 MB with tokens of at most 64
// bytes, merges.txt 0.52 MB. About 10x and 30x margins: a file past them
// is refused before it costs memory.
const (
	maxVocabBytes = 32 << 20 // a decompressed or plain vocabulary file
	maxVocabLine  = 4 << 10  // a line of a merges file, or a token of vocab.json
)

// readVocabFile reads a plain vocabulary file, refusing one over
// maxVocabBytes before reading it (and while reading it, should it grow).
func readVocabFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	tooBig := fmt.Errorf("%s: more than %d bytes (CLIP's vocab.json is 0.96 MB, merges.txt 0.52 MB): not a CLIP vocabulary", path, maxVocabBytes)
	if st.Size() > maxVocabBytes {
		return nil, tooBig
	}
	b, err := io.ReadAll(io.LimitReader(f, maxVocabBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxVocabBytes {
		return nil, tooBig
	}
	return b, nil
}

// startToken and endToken are the special tokens' strings. They are written
// in the byte alphabet already (all ASCII printable, which maps to itself).
const (
	startToken = "<|startoftext|>"
	endToken   = "<|endoftext|>"
)

//go:embed bpe_simple_vocab_16e6.txt.gz
var defaultVocab []byte

var (
	defaultOnce sync.Once
	defaultTok  *Tokenizer
)

// Default returns CLIP's tokenizer built from the OpenAI vocabulary embedded
// in this package (bpe_simple_vocab_16e6.txt.gz from openai/CLIP, MIT
// licence), so text can be tokenised without a model folder. It is built
// once and shared; a Tokenizer is safe for concurrent use.
func Default() *Tokenizer {
	defaultOnce.Do(func() {
		t, err := parseOpenAIEmbedded()
		if err != nil {
			// The data is compiled in and covered by the tests.
			panic("tokenizer: embedded vocabulary: " + err.Error())
		}
		defaultTok = t
	})
	return defaultTok
}

func parseOpenAIEmbedded() (*Tokenizer, error) {
	return parseOpenAI(openAIFile+" (embedded)", bytes.NewReader(defaultVocab), false)
}

// LoadDir loads the tokenizer of a model folder: vocab.json and merges.txt
// (Hugging Face layout) when both are present, else
// bpe_simple_vocab_16e6.txt.gz (OpenAI layout).
func LoadDir(dir string) (*Tokenizer, error) {
	v, m := filepath.Join(dir, hfVocab), filepath.Join(dir, hfMerges)
	if isFile(v) && isFile(m) {
		return LoadHF(v, m)
	}
	if g := filepath.Join(dir, openAIFile); isFile(g) {
		return LoadOpenAI(g)
	}
	return nil, fmt.Errorf("%s: no tokenizer vocabulary: want %s and %s, or %s", dir, hfVocab, hfMerges, openAIFile)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// LoadOpenAI builds the tokenizer from OpenAI's bpe_simple_vocab_16e6.txt.gz
// exactly as simple_tokenizer.py does (docs/model.md#tokenizer): the vocabulary is
// not stored in the file but derived from the byte alphabet and the first
// 48894 merges.
func LoadOpenAI(bpeGz string) (*Tokenizer, error) {
	f, err := os.Open(bpeGz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseOpenAI(bpeGz, f, true)
}

// parseOpenAI reads the OpenAI file from r. With verify it reads the
// gzip stream to its end, as the reference does, so that a truncated or
// corrupt file fails instead of silently losing merges; the embedded copy
// skips that (it is covered by the tests) and stops after the merges used.
func parseOpenAI(name string, r io.Reader, verify bool) (*Tokenizer, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip file: %w", name, err)
	}
	// The decompressed size is enforced on the bytes read, whatever the
	// gzip trailer says; a line longer than the limit is refused before it
	// is buffered.
	lr := &io.LimitedReader{R: zr, N: maxVocabBytes + 1}
	br := bufio.NewReaderSize(lr, maxVocabLine+1)
	tooBig := func() error {
		return fmt.Errorf("%s: decompresses to more than %d bytes (CLIP's is 3.2 MB): not a CLIP vocabulary", name, maxVocabBytes)
	}
	lines := make([]string, 0, numMerges+1)
	for len(lines) < numMerges+1 {
		l, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if lr.N <= 0 {
				return nil, tooBig()
			}
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes (CLIP's longest is 129): not a CLIP vocabulary", name, len(lines)+1, maxVocabLine)
		}
		if err == io.EOF {
			if lr.N <= 0 {
				return nil, tooBig()
			}
			if len(l) > 0 {
				lines = append(lines, string(l))
			}
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading gzip data: %w", name, err)
		}
		lines = append(lines, string(l[:len(l)-1]))
	}
	if len(lines) < numMerges+1 {
		return nil, fmt.Errorf("%s: %d lines, want at least %d (a version line and %d merges)", name, len(lines), numMerges+1, numMerges)
	}
	if verify {
		if _, err := io.Copy(io.Discard, br); err != nil {
			return nil, fmt.Errorf("%s: reading gzip data: %w", name, err)
		}
		if lr.N <= 0 {
			return nil, tooBig()
		}
	}
	merges, err := parseMergeLines(name, lines[1:numMerges+1], 2)
	if err != nil {
		return nil, err
	}

	// vocab = byte chars, the same with "</w>", the joined merges, then the
	// two special tokens (docs/model.md#tokenizer).
	vocab := make([]string, 0, 2*256+len(merges)+2)
	for _, r := range byteRunes {
		vocab = append(vocab, string(r))
	}
	for _, r := range byteRunes {
		vocab = append(vocab, string(r)+"</w>")
	}
	for _, m := range merges {
		vocab = append(vocab, m[0]+m[1])
	}
	vocab = append(vocab, startToken, endToken)
	encoder := make(map[string]int, len(vocab))
	for id, s := range vocab {
		if prev, dup := encoder[s]; dup {
			// Python's dict(zip(vocab, range)) would let the later id win
			// and leave the earlier one undecodable; CLIP's file has no
			// such case, so treat it as a broken file.
			return nil, fmt.Errorf("%s: merge %q gives the token %q twice (ids %d and %d)", name, s, s, prev, id)
		}
		encoder[s] = id
	}
	return build(name, name, 2, vocab, encoder, merges)
}

// parseMergeLines parses "a b" lines; firstLine is the 1-based line number
// of lines[0] in the file, for error messages.
func parseMergeLines(name string, lines []string, firstLine int) ([][2]string, error) {
	merges := make([][2]string, 0, len(lines))
	for i, l := range lines {
		if len(l) > maxVocabLine {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes (CLIP's longest is 129): not a CLIP vocabulary", name, firstLine+i, maxVocabLine)
		}
		l = strings.TrimSuffix(l, "\r")
		a, b, ok := strings.Cut(l, " ")
		if !ok || a == "" || b == "" || strings.ContainsAny(b, " \t") || strings.ContainsAny(a, "\t") {
			return nil, fmt.Errorf("%s:%d: malformed merge line %q: want two tokens separated by one space", name, firstLine+i, l)
		}
		merges = append(merges, [2]string{a, b})
	}
	return merges, nil
}

// LoadHF builds the tokenizer from the Hugging Face files: vocab.json
// (token → id) and merges.txt (a "#version" line, then one merge per line).
// Like transformers' CLIPTokenizer it uses the first 48894 merges. The files
// are checked against what CLIP needs: the start and end tokens at ids
// 49406 and 49407, every byte symbol and every merge result present.
func LoadHF(vocabJSON, mergesTXT string) (*Tokenizer, error) {
	vb, err := readVocabFile(vocabJSON)
	if err != nil {
		return nil, err
	}
	var encoder map[string]int
	if err := json.Unmarshal(vb, &encoder); err != nil {
		return nil, fmt.Errorf("%s: bad JSON (want an object of token → id): %w", vocabJSON, err)
	}
	vocab := make([]string, len(encoder))
	seen := make([]bool, len(encoder))
	for s, id := range encoder {
		if len(s) > maxVocabLine {
			return nil, fmt.Errorf("%s: token %q... of %d bytes, longer than %d (CLIP's longest is 64)", vocabJSON, s[:32], len(s), maxVocabLine)
		}
		if id < 0 || id >= len(vocab) {
			return nil, fmt.Errorf("%s: token %q has id %d, outside 0..%d (ids must be dense)", vocabJSON, s, id, len(vocab)-1)
		}
		if seen[id] {
			return nil, fmt.Errorf("%s: id %d is given to both %q and %q", vocabJSON, id, vocab[id], s)
		}
		seen[id] = true
		vocab[id] = s
	}
	for _, sp := range []struct {
		tok string
		id  int
	}{{startToken, SOT}, {endToken, EOT}} {
		id, ok := encoder[sp.tok]
		if !ok {
			return nil, fmt.Errorf("%s: no %s token (want id %d)", vocabJSON, sp.tok, sp.id)
		}
		if id != sp.id {
			return nil, fmt.Errorf("%s: %s has id %d, want %d as in CLIP", vocabJSON, sp.tok, id, sp.id)
		}
	}

	mb, err := readVocabFile(mergesTXT)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(mb), "\r\n"), "\n")
	first := 1
	if len(lines) > 0 && strings.HasPrefix(lines[0], "#version") {
		lines, first = lines[1:], 2
	}
	if len(lines) > numMerges {
		lines = lines[:numMerges]
	}
	merges, err := parseMergeLines(mergesTXT, lines, first)
	if err != nil {
		return nil, err
	}
	return build(vocabJSON, mergesTXT, first, vocab, encoder, merges)
}

// build checks the vocabulary and makes the id-level tables that encoding
// and decoding use. vocabName and mergeName name the files for errors;
// firstLine is the line number of the first merge in its file.
func build(vocabName, mergeName string, firstLine int, vocab []string, encoder map[string]int, merges [][2]string) (*Tokenizer, error) {
	if len(vocab) <= EOT {
		return nil, fmt.Errorf("%s: %d tokens, want %d (CLIP's vocabulary)", vocabName, len(vocab), EOT+1)
	}
	t := &Tokenizer{
		vocab:   vocab,
		encoder: encoder,
		merges:  make(map[uint64]mergeRule, len(merges)),
		raw:     make([]string, len(vocab)),
		cache:   newWordCache(cacheEntries),
	}
	// Every byte must have a symbol, alone and word-final, or some text
	// could not be encoded.
	for b, r := range byteOf {
		id, ok := encoder[string(r)]
		if !ok {
			return nil, fmt.Errorf("%s: no token for byte %#02x (%q)", vocabName, b, string(r))
		}
		t.byteID[b] = int32(id)
		if id, ok = encoder[string(r)+"</w>"]; !ok {
			return nil, fmt.Errorf("%s: no token for byte %#02x at a word end (%q)", vocabName, b, string(r)+"</w>")
		}
		t.byteEndID[b] = int32(id)
	}
	// Raw bytes of each token, for Decode. Tokens are spelt in the byte
	// alphabet; anything else could never be produced nor decoded.
	for id, s := range vocab {
		var buf []byte
		for _, r := range s {
			b, ok := byteFromRune(r)
			if !ok {
				return nil, fmt.Errorf("%s: token %q (id %d) has the character %q, outside CLIP's byte alphabet", vocabName, s, id, r)
			}
			buf = append(buf, b)
		}
		t.raw[id] = string(buf)
	}
	for rank, m := range merges {
		line := firstLine + rank
		a, ok := encoder[m[0]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: merge %q %q: %q is not in the vocabulary", mergeName, line, m[0], m[1], m[0])
		}
		b, ok := encoder[m[1]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: merge %q %q: %q is not in the vocabulary", mergeName, line, m[0], m[1], m[1])
		}
		ab, ok := encoder[m[0]+m[1]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: merge %q %q: the result %q is not in the vocabulary", mergeName, line, m[0], m[1], m[0]+m[1])
		}
		// A repeated pair keeps its last rank, as dict(zip(merges, ...)) does.
		t.merges[pairKey(int32(a), int32(b))] = mergeRule{rank: int32(rank), id: int32(ab)}
	}
	t.nMerges = len(merges)
	if len(merges) == 0 {
		return nil, errors.New(mergeName + ": no merges")
	}
	return t, nil
}
