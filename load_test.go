package freeseg

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/clip"
)

// A folder holding only weights loads with the built-in vocabulary, and
// says so on the log.
func TestLoadModelFolder(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := clip.WriteRandom(f, clip.TinyConfig, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var log bytes.Buffer
	m, err := LoadModel(context.Background(), dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != clip.TinyConfig || !m.BuiltinVocabulary {
		t.Fatalf("config %+v, built-in vocabulary %v", m.Config, m.BuiltinVocabulary)
	}
	if !strings.Contains(log.String(), dir+" has no vocab.json/merges.txt") {
		t.Fatalf("log %q", log.String())
	}
	if _, err := LoadModel(context.Background(), filepath.Join(dir, "missing"), &log); err == nil {
		t.Fatal("a missing folder loaded")
	}
}
