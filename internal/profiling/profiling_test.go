package profiling

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartCPU checks that a profile is written (a gzip-compressed
// protocol buffer, as runtime/pprof writes), that stop is idempotent, that
// an existing file is refused and left as it was, and that a second
// profile cannot start while one runs.
func TestStartCPU(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cpu.pprof")
	stop, err := StartCPU(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StartCPU(filepath.Join(dir, "second.pprof")); err == nil {
		t.Error("a second profile started while one runs")
	}
	if _, err := os.Stat(filepath.Join(dir, "second.pprof")); !os.IsNotExist(err) {
		t.Errorf("the refused second profile left a file: %v", err)
	}
	x := 0
	for i := range 20_000_000 {
		x += i % 7
	}
	_ = x
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("profile is not gzip data: %v", err)
	}
	if raw, err := io.ReadAll(zr); err != nil || len(raw) == 0 {
		t.Fatalf("profile: %d bytes, %v", len(raw), err)
	}

	// An existing file is refused and kept.
	old := filepath.Join(dir, "mine.txt")
	os.WriteFile(old, []byte("keep me"), 0o644)
	if _, err := StartCPU(old); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("existing file: err = %v", err)
	}
	if b, _ := os.ReadFile(old); string(b) != "keep me" {
		t.Errorf("existing file changed to %q", b)
	}
	if _, err := StartCPU(""); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := StartCPU(filepath.Join(dir, "no", "such", "dir.pprof")); err == nil {
		t.Error("a path in a missing folder accepted")
	}
}
