package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	defaultTextOnce sync.Once
	defaultText     string
)

// gunzipDefault returns the embedded vocabulary file's text.
func gunzipDefault(t *testing.T) string {
	t.Helper()
	defaultTextOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(defaultVocab))
		if err != nil {
			panic(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(zr); err != nil {
			panic(err)
		}
		defaultText = b.String()
	})
	return defaultText
}

func writeGz(t *testing.T, path, text string) {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	zw.Write([]byte(text))
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hfFiles writes vocab.json and merges.txt equivalent to the default
// vocabulary (so these tests need no golden folder), letting edit change
// them first.
func hfFiles(t *testing.T, dir string, editVocab func(map[string]int), editMerges func([]string) []string) (string, string) {
	t.Helper()
	tk := Default()
	enc := make(map[string]int, len(tk.encoder))
	for k, v := range tk.encoder {
		enc[k] = v
	}
	if editVocab != nil {
		editVocab(enc)
	}
	vj, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(gunzipDefault(t), "\n")[1 : numMerges+1]
	if editMerges != nil {
		lines = editMerges(lines)
	}
	v, m := filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	os.WriteFile(v, vj, 0o644)
	os.WriteFile(m, []byte("#version: 0.2\n"+strings.Join(lines, "\n")+"\n"), 0o644)
	return v, m
}

func TestLoadHFRoundTrip(t *testing.T) {
	dir := t.TempDir()
	v, m := hfFiles(t, dir, nil, nil)
	hf, err := LoadHF(v, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specVectors {
		got, _ := hf.Tokenize(s.text, ContextLength, false)
		want, _ := Default().Tokenize(s.text, ContextLength, false)
		if !equalInts(got, want) {
			t.Errorf("%q: HF %v, OpenAI %v", s.text, got, want)
		}
	}
	// LoadDir prefers the Hugging Face pair.
	writeGz(t, filepath.Join(dir, openAIFile), "garbage")
	if _, err := LoadDir(dir); err != nil {
		t.Errorf("LoadDir with vocab.json+merges.txt: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	full := gunzipDefault(t)

	cases := []struct {
		name string
		load func() error
		want []string
	}{
		{"empty dir", func() error { _, err := LoadDir(dir); return err },
			[]string{dir + ": no tokenizer vocabulary: want vocab.json and merges.txt, or bpe_simple_vocab_16e6.txt.gz"}},
		{"missing file", func() error { _, err := LoadOpenAI(filepath.Join(dir, "nope.gz")); return err },
			[]string{"nope.gz"}},
		{"not gzip", func() error {
			p := filepath.Join(dir, "plain.gz")
			os.WriteFile(p, []byte(full[:1000]), 0o644)
			_, err := LoadOpenAI(p)
			return err
		}, []string{"plain.gz", "not a gzip file"}},
		{"truncated gzip", func() error {
			p := filepath.Join(dir, "trunc.gz")
			os.WriteFile(p, defaultVocab[:len(defaultVocab)/2], 0o644)
			_, err := LoadOpenAI(p)
			return err
		}, []string{"trunc.gz", "unexpected EOF"}},
		{"too few lines", func() error {
			p := filepath.Join(dir, "short.gz")
			writeGz(t, p, strings.Join(strings.Split(full, "\n")[:1000], "\n"))
			_, err := LoadOpenAI(p)
			return err
		}, []string{"short.gz", "1000 lines"}},
		{"malformed merge", func() error {
			p := filepath.Join(dir, "bad.gz")
			l := strings.Split(full, "\n")
			l[5] = "abc"
			writeGz(t, p, strings.Join(l, "\n"))
			_, err := LoadOpenAI(p)
			return err
		}, []string{"bad.gz:6", "malformed merge line \"abc\""}},
		{"bad JSON", func() error {
			v, m := hfFiles(t, dir, nil, nil)
			os.WriteFile(v, []byte("{\"a\": 1,"), 0o644)
			_, err := LoadHF(v, m)
			return err
		}, []string{"vocab.json", "bad JSON"}},
		{"wrong EOT id", func() error {
			v, m := hfFiles(t, dir, func(e map[string]int) {
				e[endToken], e["!"] = e["!"], e[endToken]
			}, nil)
			_, err := LoadHF(v, m)
			return err
		}, []string{"vocab.json", "<|endoftext|> has id 0, want 49407"}},
		{"no SOT", func() error {
			v, m := hfFiles(t, dir, func(e map[string]int) {
				e["<|sot|>"] = e[startToken]
				delete(e, startToken)
			}, nil)
			_, err := LoadHF(v, m)
			return err
		}, []string{"vocab.json", "no <|startoftext|> token"}},
		{"sparse ids", func() error {
			v, m := hfFiles(t, dir, func(e map[string]int) { e["!"] = 60000 }, nil)
			_, err := LoadHF(v, m)
			return err
		}, []string{"vocab.json", "id 60000"}},
		{"malformed HF merge", func() error {
			v, m := hfFiles(t, dir, nil, func(l []string) []string { l[2] = "a  b"; return l })
			_, err := LoadHF(v, m)
			return err
		}, []string{"merges.txt:4", "malformed merge line"}},
		{"merge result missing", func() error {
			v, m := hfFiles(t, dir, func(e map[string]int) {
				// Give "in" (merge 0's result) to a token that is never used.
				e["ĀĀĀĀĀĀĀ"] = e["in"]
				delete(e, "in")
			}, nil)
			_, err := LoadHF(v, m)
			return err
		}, []string{"merges.txt:2", "\"in\" is not in the vocabulary"}},
	}
	for _, c := range cases {
		err := c.load()
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
	}
}

func TestLoadDirOpenAI(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, openAIFile), defaultVocab, 0o644)
	// Only one of the two Hugging Face files: falls back to OpenAI's.
	os.WriteFile(filepath.Join(dir, "vocab.json"), []byte("not json"), 0o644)
	tk, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := tk.Tokenize("a photo of a cat.", ContextLength, false)
	if !equalInts(got, specVectors[0].ids) {
		t.Errorf("got %v", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestEmbeddedVocabularyIntact reads the whole embedded file, which Default
// skips for speed: it must be a complete gzip stream of 262145 lines (each
// ending in a newline), the first being the version header.
func TestEmbeddedVocabularyIntact(t *testing.T) {
	text := gunzipDefault(t)
	lines := strings.Split(text, "\n")
	if len(lines) != 262146 || lines[262145] != "" || !strings.Contains(lines[0], "bpe_simple_vocab_16e6.txt#version") {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	if _, err := parseOpenAI("embedded", bytes.NewReader(defaultVocab), true); err != nil {
		t.Fatal(err)
	}
}
