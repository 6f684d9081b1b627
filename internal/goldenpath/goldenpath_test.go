package goldenpath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeModule makes root/go.mod, root/a/b (a package folder) and
// root/../gold/cases/golden.safetensors, and returns root.
func fakeModule(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	for _, d := range []string{filepath.Join(root, "a", "b"), filepath.Join(base, "gold", "cases")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(root, "go.mod"), filepath.Join(base, "gold", Marker)} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveRelativeFromModuleRoot(t *testing.T) {
	root := fakeModule(t)
	want := filepath.Join(filepath.Dir(root), "gold")
	// The same relative value works from the root and from a package two
	// levels down.
	for _, wd := range []string{root, filepath.Join(root, "a"), filepath.Join(root, "a", "b")} {
		got, err := resolve("../gold", false, wd)
		if err != nil || got != want {
			t.Fatalf("from %s: got %q, %v; want %q", wd, got, err, want)
		}
	}
	// An absolute value is used as it is.
	if got, err := resolve(want, true, filepath.Join(root, "a")); err != nil || got != want {
		t.Fatalf("absolute: %q, %v", got, err)
	}
}

func TestResolveMissing(t *testing.T) {
	root := fakeModule(t)
	wd := filepath.Join(root, "a", "b")
	// Unset: skip locally, fail when required.
	if _, err := resolve("", false, wd); !errors.Is(err, ErrUnset) {
		t.Fatalf("unset, not required: %v, want ErrUnset", err)
	}
	if _, err := resolve("", true, wd); err == nil || errors.Is(err, ErrUnset) || !strings.Contains(err.Error(), Env) {
		t.Fatalf("unset, required: %v, want an error naming %s", err, Env)
	}
	// Set to a folder without the data: an error either way, naming it.
	for _, req := range []bool{false, true} {
		_, err := resolve("../nowhere", req, wd)
		if err == nil || errors.Is(err, ErrUnset) || !strings.Contains(err.Error(), "../nowhere") || !strings.Contains(err.Error(), "golden.safetensors") {
			t.Fatalf("required=%v: %v", req, err)
		}
	}
	// No module root for a relative path.
	if _, err := resolve("../gold", false, t.TempDir()); err == nil || !strings.Contains(err.Error(), "module root") {
		t.Fatalf("outside a module: %v", err)
	}
}

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		req, ci string
		want    bool
	}{{"", "", false}, {"1", "", true}, {"", "true", true}, {"0", "false", false}, {"", "1", true}, {"no", "", false}} {
		t.Setenv(RequireEnv, c.req)
		t.Setenv("CI", c.ci)
		if got := Required(); got != c.want {
			t.Errorf("%s=%q CI=%q: Required() = %v", RequireEnv, c.req, c.ci, got)
		}
	}
}
