package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/freeseg/freeseg/internal/golden"
)

// docs/model.md#tokenizer test vectors (made with the original simple_tokenizer.py).
var specVectors = []struct {
	text string
	ids  []int
}{
	{"a photo of a cat.", []int{49406, 320, 1125, 539, 320, 2368, 269, 49407}},
	{"a bad photo of a tv monitor.", []int{49406, 320, 2103, 1125, 539, 320, 1583, 10198, 269, 49407}},
	{"there is a potted plant in the scene.", []int{49406, 997, 533, 320, 48581, 3912, 530, 518, 3562, 269, 49407}},
	{"", []int{49406, 49407}},
	{"A Photo Of  The   DOG!!", []int{49406, 320, 1125, 539, 518, 1929, 748, 49407}},
	{"itap of my person in jeans.", []int{49406, 529, 2728, 539, 607, 2533, 530, 10157, 269, 49407}},
	{"don't stop-sign 123", []int{49406, 847, 713, 1691, 268, 2292, 272, 273, 274, 49407}},
	{"café", []int{49406, 15304, 49407}},
}

func TestSpecVectors(t *testing.T) {
	tk := Default()
	for _, v := range specVectors {
		got, err := tk.Tokenize(v.text, ContextLength, false)
		if err != nil {
			t.Errorf("Tokenize(%q): %v", v.text, err)
			continue
		}
		if !reflect.DeepEqual(got, v.ids) {
			t.Errorf("Tokenize(%q) = %v, want %v", v.text, got, v.ids)
		}
		if enc := tk.Encode(v.text); !reflect.DeepEqual(enc, v.ids[1:len(v.ids)-1]) && len(v.ids) > 2 {
			t.Errorf("Encode(%q) = %v, want %v", v.text, enc, v.ids[1:len(v.ids)-1])
		}
	}
}

func TestVocabulary(t *testing.T) {
	tk := Default()
	if n := tk.VocabSize(); n != 49408 {
		t.Fatalf("VocabSize = %d, want 49408", n)
	}
	if tk.nMerges != 48894 {
		t.Errorf("%d merges, want 48894", tk.nMerges)
	}
	// First and last merges (docs/model.md#tokenizer).
	for _, m := range []struct {
		a, b string
		rank int32
	}{{"i", "n", 0}, {"t", "h", 1}, {"a", "n", 2}, {"jeky", "ll</w>", 48893}} {
		r, ok := tk.rule(int32(tk.encoder[m.a]), int32(tk.encoder[m.b]))
		if !ok || r.rank != m.rank || tk.vocab[r.id] != m.a+m.b {
			t.Errorf("merge (%q,%q) = %+v %v, want rank %d → %q", m.a, m.b, r, ok, m.rank, m.a+m.b)
		}
		if ok && int(r.id) != 512+int(m.rank) {
			t.Errorf("merge (%q,%q) gives id %d, want 512+rank", m.a, m.b, r.id)
		}
	}
	for tok, id := range map[string]int{"!": 0, "Ā": 188, "Ġ": 220, "!</w>": 256, startToken: SOT, endToken: EOT} {
		if got := tk.encoder[tok]; got != id {
			t.Errorf("id of %q = %d, want %d", tok, got, id)
		}
	}
	// bytes_to_unicode examples of docs/model.md#tokenizer.
	for b, r := range map[byte]rune{32: 'Ġ', 0: 'Ā', 173: 'Ń', 'a': 'a', 0xFF: 'ÿ'} {
		if byteOf[b] != r {
			t.Errorf("byte %d → %q, want %q", b, byteOf[b], r)
		}
	}
}

type goldenCase struct {
	Text         string `json:"text"`
	IDs          []int  `json:"ids"`
	TooLong      bool   `json:"too_long"`
	IDsTruncated []int  `json:"ids_truncated"`
}

func readCases(t *testing.T, path string) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cs []goldenCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(cs) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return cs
}

// checkCases runs the golden tokenizer cases (clip.tokenize without padding).
func checkCases(t *testing.T, tk *Tokenizer, cs []goldenCase) int {
	t.Helper()
	n := 0
	for _, c := range cs {
		got, err := tk.Tokenize(c.Text, ContextLength, false)
		if c.TooLong {
			if !errors.Is(err, ErrTooLong) {
				t.Errorf("Tokenize(%q) without truncation: err %v, want ErrTooLong", c.Text, err)
			}
			got, err = tk.Tokenize(c.Text, ContextLength, true)
			if err != nil || !reflect.DeepEqual(got, c.IDsTruncated) {
				t.Errorf("Tokenize(%q, truncate) = %v, %v; want %v", c.Text, got, err, c.IDsTruncated)
				continue
			}
			n++
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.IDs) {
			t.Errorf("Tokenize(%q) = %v, %v; want %v", c.Text, got, err, c.IDs)
			continue
		}
		n++
	}
	return n
}

// TestCasesDefault runs the golden tokenizer cases (a copy kept in
// testdata, so this runs without FREESEG_GOLDEN) on the embedded vocabulary.
func TestCasesDefault(t *testing.T) {
	cs := readCases(t, filepath.Join("testdata", "tokenizer_cases.json"))
	n := checkCases(t, Default(), cs)
	t.Logf("%d/%d cases match", n, len(cs))
}

// TestGoldenCases runs the cases from the golden folder with every loader.
func TestGoldenCases(t *testing.T) {
	cs := readCases(t, golden.Path(t, "cases", "tokenizer_cases.json"))
	dir := golden.Path(t, "tiny-clip")
	hf, err := LoadHF(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	oa, err := LoadOpenAI(filepath.Join(dir, "bpe_simple_vocab_16e6.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	ld, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, tk := range map[string]*Tokenizer{"Default": Default(), "LoadHF": hf, "LoadOpenAI": oa, "LoadDir": ld} {
		t.Run(name, func(t *testing.T) {
			n := checkCases(t, tk, cs)
			t.Logf("%d/%d golden cases match", n, len(cs))
		})
	}
}

// TestLoadersAgree checks that the Hugging Face files give the same
// vocabulary and merges as the OpenAI file (they are the same data).
func TestLoadersAgree(t *testing.T) {
	dir := golden.Path(t, "tiny-clip")
	hf, err := LoadHF(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	oa := Default()
	if !reflect.DeepEqual(hf.vocab, oa.vocab) {
		t.Fatal("vocab.json differs from the vocabulary built from bpe_simple_vocab_16e6.txt.gz")
	}
	if !reflect.DeepEqual(hf.merges, oa.merges) {
		t.Fatal("merges.txt differs from bpe_simple_vocab_16e6.txt.gz")
	}
	if !reflect.DeepEqual(hf.byteID, oa.byteID) || !reflect.DeepEqual(hf.byteEndID, oa.byteEndID) {
		t.Fatal("byte symbol ids differ")
	}
}

// pyCases are testdata/pycases.json, made by testdata/gen_pycases.py with
// CPython and the regex module: edge cases of whitespace, case mapping,
// IGNORECASE, HTML unescaping and long words. FixText is off because that
// script stubs ftfy out.
func TestPythonDifferential(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "pycases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Python, Regex, Unicode string
		Cases                  []goldenCase
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	tk := Default()
	fails := 0
	for _, c := range f.Cases {
		got := tk.appendEncoded(nil, clean(c.Text, false), -1)
		if len(got) == 0 && len(c.IDs) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.IDs) {
			fails++
			if fails <= 20 {
				t.Errorf("%q: got %v, want %v (clean %q)", c.Text, got, c.IDs, clean(c.Text, false))
			}
		}
	}
	t.Logf("%d cases from Python %s, regex %s, Unicode %s; %d differ", len(f.Cases), f.Python, f.Regex, f.Unicode, fails)
}

func TestTokenizeTruncate(t *testing.T) {
	tk := Default()
	long := strings.Repeat("cat ", 100)
	_, err := tk.Tokenize(long, ContextLength, false)
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "102 tokens") || !strings.Contains(msg, "…") || len(msg) > 200 {
		t.Errorf("error message %q should give the token count and a shortened text", msg)
	}
	ids, err := tk.Tokenize(long, ContextLength, true)
	if err != nil || len(ids) != ContextLength || ids[0] != SOT || ids[76] != EOT || ids[75] != 2368 {
		t.Errorf("truncated = %v, %v", ids, err)
	}
	// Exactly 77 fits.
	ids, err = tk.Tokenize(strings.Repeat("cat ", 75), ContextLength, false)
	if err != nil || len(ids) != 77 {
		t.Errorf("75 words: %d ids, %v", len(ids), err)
	}
	if _, err := tk.Tokenize(strings.Repeat("cat ", 76), ContextLength, false); !errors.Is(err, ErrTooLong) {
		t.Errorf("76 words: err %v, want ErrTooLong", err)
	}
	ids, err = tk.Tokenize("a photo of a cat", 3, true)
	if err != nil || !reflect.DeepEqual(ids, []int{SOT, 320, EOT}) {
		t.Errorf("context 3: %v %v", ids, err)
	}
	if _, err := tk.Tokenize("x", 0, true); err == nil {
		t.Error("context 0: no error")
	}
}

func TestDecode(t *testing.T) {
	tk := Default()
	for in, want := range map[string]string{
		"a photo of a cat.":   "a photo of a cat . ",
		"don't stop-sign 123": "don 't stop - sign 1 2 3 ",
		"中文 text 🙂":           "中文 text 🙂 ",
		"naïve résumé":        "naïve résumé ",
		"<|endoftext|>":       "<|endoftext|>",
	} {
		if got := tk.Decode(tk.Encode(in)); got != want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", in, got, want)
		}
	}
	if got := tk.Decode([]int{SOT, 2368, EOT}); got != "<|startoftext|>cat <|endoftext|>" {
		t.Errorf("with specials: %q", got)
	}
	// Bytes of a character split over ids that are decoded alone:
	// "🙂" is f0 9f 99 82; the first three bytes alone are one U+FFFD in
	// Python (maximal subpart), not three.
	id := func(b byte) int { return int(tk.byteID[b]) }
	if got := tk.Decode([]int{id(0xF0), id(0x9F), id(0x99), id('a')}); got != "\uFFFDa" {
		t.Errorf("truncated sequence: %q, want one U+FFFD then a", got)
	}
	if got := tk.Decode([]int{id(0xFF), id(0x80)}); got != "\uFFFD\uFFFD" {
		t.Errorf("two bad bytes: %q", got)
	}
	if got := tk.Decode([]int{-1, 1 << 30, 2368}); got != "cat " {
		t.Errorf("out-of-range ids should be skipped: %q", got)
	}
}

func TestBPEHeapMatchesDirect(t *testing.T) {
	tk := Default()
	words := []string{
		"a", "aa", "aaa", "aaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
		strings.Repeat("ab", 100), strings.Repeat("in", 77), strings.Repeat("the", 50),
		strings.Repeat("!", 200), "中文字日本語한국어", strings.Repeat("🙂", 40), "mississippi",
	}
	var sc bpeScratch
	for _, w := range words {
		sym := make([]int32, len(w))
		for i := 0; i < len(w); i++ {
			sym[i] = tk.byteID[w[i]]
		}
		sym[len(sym)-1] = tk.byteEndID[w[len(w)-1]]
		want := tk.bpeDirect(append([]int32(nil), sym...))
		got := tk.bpeHeap(append([]int32(nil), sym...), &sc)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: heap %v, direct %v", w, got, want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	tk := Default()
	want := make([][]int, len(specVectors))
	for i, v := range specVectors {
		want[i] = v.ids
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				i := (g + k) % len(specVectors)
				got, err := tk.Tokenize(specVectors[i].text, ContextLength, false)
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					t.Errorf("goroutine %d: %q = %v %v", g, specVectors[i].text, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestWordCacheBounded(t *testing.T) {
	c := newWordCache(4)
	for i := 0; i < 20; i++ {
		c.put(string(rune('a'+i)), []int32{int32(i)})
	}
	if n := c.len(); n > 8 {
		t.Fatalf("cache grew past its bound: %d entries", n)
	}
	if v, ok := c.get("t"); !ok || v[0] != 19 {
		t.Errorf("latest entry lost: %v %v", v, ok)
	}
	// Many distinct words through a real tokenizer must give the same ids
	// as a fresh one (evictions do not corrupt entries).
	tk := Default()
	var b strings.Builder
	for i := 0; i < 3*cacheEntries/2; i++ {
		b.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%7))
		b.WriteString(string(rune('a' + i/26%26)))
		b.WriteString(string(rune('a' + i/676%26)))
		b.WriteByte(' ')
	}
	text := b.String()
	first := tk.Encode(text)
	second := tk.Encode(text)
	if !reflect.DeepEqual(first, second) {
		t.Fatal("ids changed after cache evictions")
	}
	if n := tk.cache.len(); n > 2*cacheEntries+16 {
		t.Errorf("cache holds %d entries, bound %d", n, 2*cacheEntries)
	}
}
