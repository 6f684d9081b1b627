package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freeseg bench refuses bad flags with the usage exit code before it
// builds a model, and never overwrites a file named by --cpuprofile.
func TestBenchFlags(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if err := os.WriteFile(prof, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cpuprofile", prof}, "the file exists"},
		{[]string{"--format", "yaml"}, `--format "yaml"`},
		{[]string{"--repeat", "0"}, "repeat"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		code, out, errs := run(t, append([]string{"bench"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("bench %q: code %d, stderr %q, stdout %q; want 2 and %q", c.args, code, errs, out, c.want)
		}
	}
	if b, err := os.ReadFile(prof); err != nil || string(b) != "mine" {
		t.Errorf("--cpuprofile changed the user's file: %q, %v", b, err)
	}
}
