package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/internal/hostile"
)

// Hostile vocabularies, built at test time (internal/hostile): each is
// refused with an error naming the file and the limit, at a memory cost far
// below what it decompresses to.

func loadGzMeasured(t *testing.T, gz []byte) (*Tokenizer, hostile.Cost, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), openAIFile)
	if err := os.WriteFile(p, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	var tk *Tokenizer
	var err error
	c := hostile.Measure(func() { tk, err = LoadOpenAI(p) })
	t.Logf("%d-byte gz: %v", len(gz), c)
	return tk, c, err
}

func wantErrParts(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func TestHostileVocabularyGz(t *testing.T) {
	mib := bytes.Repeat([]byte("a"), 1<<20)
	t.Run("one 1 GiB line", func(t *testing.T) {
		_, c, err := loadGzMeasured(t, hostile.Gzip(hostile.Part{Data: []byte("#version: 0.2\n")}, hostile.Part{Data: mib, Repeat: 1024}))
		wantErrParts(t, err, openAIFile+":2:", "longer than 4096 bytes")
		if c.Allocated > 8<<20 {
			t.Errorf("allocated %d bytes", c.Allocated)
		}
	})
	t.Run("CLIP's file then 1 GiB of short lines", func(t *testing.T) {
		lines := bytes.Repeat([]byte("a b\n"), 1<<18)
		_, c, err := loadGzMeasured(t, hostile.Gzip(hostile.Part{Data: []byte(gunzipDefault(t))}, hostile.Part{Data: lines, Repeat: 1024}))
		wantErrParts(t, err, openAIFile, "decompresses to more than 33554432 bytes")
		// The 48,894 merge lines kept cost ~1.5 MB; the rest of the stream
		// goes through a fixed buffer.
		if c.Allocated > 8<<20 {
			t.Errorf("allocated %d bytes", c.Allocated)
		}
	})
	t.Run("CLIP's file itself loads", func(t *testing.T) {
		tk, _, err := loadGzMeasured(t, hostile.Gzip(hostile.Part{Data: []byte(gunzipDefault(t))}))
		if err != nil || tk.VocabSize() != EOT+1 {
			t.Fatalf("%v, %v", tk, err)
		}
	})
}

func TestHostileHFFiles(t *testing.T) {
	dir := t.TempDir()
	v, m := hfFiles(t, dir, nil, nil)
	// A merges.txt over the limit is refused from its size, before reading:
	// a sparse 1 GiB file costs no disk.
	big := filepath.Join(dir, "big.txt")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(1 << 30)
	f.Close()
	c := hostile.Measure(func() { _, err = LoadHF(v, big) })
	wantErrParts(t, err, big, "more than 33554432 bytes")
	if c.Allocated > 40<<20 { // vocab.json itself is parsed first
		t.Errorf("allocated %d bytes", c.Allocated)
	}
	_, err = LoadHF(big, m)
	wantErrParts(t, err, big, "more than 33554432 bytes")

	long := strings.Repeat("x", 5000)
	v2, _ := hfFiles(t, t.TempDir(), func(enc map[string]int) { enc[long] = len(enc) }, nil)
	_, err = LoadHF(v2, m)
	wantErrParts(t, err, v2, "5000 bytes, longer than 4096")
	_, m3 := hfFiles(t, t.TempDir(), nil, func(l []string) []string { l[7] = long + " y"; return l })
	_, err = LoadHF(v, m3)
	wantErrParts(t, err, m3+":9:", "longer than 4096 bytes")
}
