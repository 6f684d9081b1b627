package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/freeseg/freeseg/internal/hostile"
)

// FuzzTokenize checks properties that must hold for any input: no panic,
// ids inside the vocabulary, a truncated Tokenize of at most 77 ids framed
// by SOT and EOT, deterministic Encode (also through the cache), the heap
// BPE agreeing with the direct one, and Decode inverting Encode for clean
// lower-case ASCII words.
func FuzzTokenize(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "tokenizer_cases.json")); err == nil {
		var cs []goldenCase
		if json.Unmarshal(b, &cs) == nil {
			for _, c := range cs {
				f.Add(c.Text)
			}
		}
	}
	for _, s := range []string{
		"", " ", "a", "<|startoftext|>", "<|endoftext|>x<|endoftext|>", "!<|endoftext|>",
		"it'ſ", "a\u0345b", "İΣ ΟΔΟΣ", "a\x1cb\x1f", "\xff\xfe", "\xe2\x82", "caf\xc3", "\xed\xa0\x80",
		"&amp;amp; &#0; &#x110000; &#99999999999999999999; &nGt; &ampx &#128;",
		"cafÃ© donâ€™t ðŸ™‚", "“quoted” ‘single’", "e\u0301\u0301", "👨\u200d👩\u200d👧 🇫🇷",
		strings.Repeat("a", 1000), strings.Repeat("ab ", 100), strings.Repeat("!?", 300),
		"１２３ ＡＢＣ ﬁ", "\u0000\u0001\t\n\r\u2028", "ǅ ǈ ß ẞ", "١٢٣ ½ Ⅻ",
	} {
		f.Add(s)
	}
	tk := Default()
	f.Fuzz(func(t *testing.T, s string) {
		ids := tk.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= tk.VocabSize() {
				t.Fatalf("%q: id %d outside the vocabulary", s, id)
			}
		}
		if again := tk.Encode(s); !reflect.DeepEqual(ids, again) {
			t.Fatalf("%q: Encode not deterministic: %v then %v", s, ids, again)
		}
		tr, err := tk.Tokenize(s, ContextLength, true)
		if err != nil {
			t.Fatalf("%q: Tokenize(truncate): %v", s, err)
		}
		if len(tr) < 2 || len(tr) > ContextLength || tr[0] != SOT || tr[len(tr)-1] != EOT {
			t.Fatalf("%q: truncated ids %v", s, tr)
		}
		full := append(append([]int{SOT}, ids...), EOT)
		if len(full) <= ContextLength {
			if !reflect.DeepEqual(tr, full) {
				t.Fatalf("%q: Tokenize %v, want SOT+Encode+EOT %v", s, tr, full)
			}
		} else if !reflect.DeepEqual(tr[:ContextLength-1], full[:ContextLength-1]) {
			t.Fatalf("%q: truncated ids are not a prefix of the full ones", s)
		}
		if _, err := tk.Tokenize(s, ContextLength, false); (err != nil) != (len(full) > ContextLength) {
			t.Fatalf("%q: %d ids, Tokenize error %v", s, len(full), err)
		}
		if d := tk.Decode(ids); !utf8.ValidString(d) {
			t.Fatalf("%q: Decode gave invalid UTF-8 %q", s, d)
		}
		// Both BPE forms on the raw bytes of the input as one word.
		if w := s; len(w) > 0 && len(w) < 4096 {
			sym := make([]int32, len(w))
			for i := 0; i < len(w); i++ {
				sym[i] = tk.byteID[w[i]]
			}
			sym[len(sym)-1] = tk.byteEndID[w[len(w)-1]]
			var sc bpeScratch
			a := tk.bpeDirect(append([]int32(nil), sym...))
			b := tk.bpeHeap(append([]int32(nil), sym...), &sc)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: heap BPE %v, direct %v", s, b, a)
			}
		}
		// Clean lower-case ASCII words round-trip: Decode gives each word
		// followed by a space.
		words := strings.Fields(s)
		clean := len(words) > 0
		for _, w := range words {
			for i := 0; i < len(w); i++ {
				if w[i] < 'a' || w[i] > 'z' {
					clean = false
				}
			}
		}
		if clean {
			want := strings.Join(words, " ") + " "
			if got := tk.Decode(ids); got != want {
				t.Fatalf("%q: Decode(Encode) = %q, want %q", s, got, want)
			}
		}
	})
}

// FuzzParseOpenAIGz feeds arbitrary bytes to the gzip vocabulary reader:
// no panic, every error names the file, and whatever loads is a complete
// CLIP vocabulary. Seeds are gzip streams of small and truncated files, of
// over-long lines and of CLIP's own file.
func FuzzParseOpenAIGz(f *testing.F) {
	f.Add(defaultVocab)
	f.Add(defaultVocab[:len(defaultVocab)/2])
	f.Add(hostile.Gzip(hostile.Part{Data: []byte("#version: 0.2\na b\nab c\n")}))
	f.Add(hostile.Gzip(hostile.Part{Data: []byte("#version: 0.2\n")}, hostile.Part{Data: bytes.Repeat([]byte("x"), 5000)}))
	f.Add(hostile.Gzip(hostile.Part{Data: bytes.Repeat([]byte("a b\n"), 4096), Repeat: 4}))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := parseOpenAI("fuzz.gz", bytes.NewReader(data), true)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.gz") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if tk.VocabSize() != EOT+1 {
			t.Fatalf("loaded a vocabulary of %d tokens", tk.VocabSize())
		}
	})
}
