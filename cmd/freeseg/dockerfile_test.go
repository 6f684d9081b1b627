package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shellWords splits a simple shell command line: words separated by
// spaces, with '...' and "..." quoting (no expansions; enough for the
// build lines compared here).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// buildLine finds the one line of text running "go build" and returns
// its environment assignments and its arguments after "go build", with
// the value of -o taken out (it names a different place in each file).
func buildLine(t *testing.T, name, text string) (env, args []string, out string) {
	t.Helper()
	var found []string
	for _, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "#") || !strings.Contains(l, "go build") {
			continue
		}
		found = append(found, strings.TrimSpace(strings.TrimPrefix(l, "RUN ")))
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d lines run go build, want 1: %q", name, len(found), found)
	}
	w := shellWords(found[0])
	i := 0
	for ; i < len(w) && strings.Contains(w[i], "=") && !strings.HasPrefix(w[i], "-"); i++ {
		env = append(env, w[i])
	}
	if i+1 >= len(w) || w[i] != "go" || w[i+1] != "build" {
		t.Fatalf("%s: %q is not VAR=... go build ...", name, found[0])
	}
	for j := i + 2; j < len(w); j++ {
		if w[j] == "-o" && j+1 < len(w) {
			out = w[j+1]
			j++
			continue
		}
		args = append(args, w[j])
	}
	return env, args, out
}

// The Dockerfile builds the binary with the command CI runs, and that
// command gives a static binary: no ELF interpreter, no shared library.
func TestDockerfileBuildIsStatic(t *testing.T) {
	root := filepath.Join("..", "..")
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	env, args, out := buildLine(t, "Dockerfile", string(df))
	cienv, ciargs, _ := buildLine(t, ".ci/run", string(ci))
	if !slices.Equal(env, cienv) || !slices.Equal(args, ciargs) {
		t.Fatalf("Dockerfile builds with %q go build %q, .ci/run with %q go build %q", env, args, cienv, ciargs)
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Fatalf("the build line %q does not set CGO_ENABLED=0", env)
	}
	// The final stage copies what the build wrote and serves on :8080.
	for _, want := range []string{"COPY --from=build " + out + " ", `ENTRYPOINT ["/usr/local/bin/freeseg", "serve", "--addr", ":8080"]`, "VOLUME /cache", "ENV FREESEG_CACHE=/cache"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if testing.Short() {
		t.Skip("-short: not building the binary")
	}
	bin := filepath.Join(t.TempDir(), "freeseg")
	cmd := exec.Command("go", append([]string{"build", "-o", bin}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
}

func TestShellWords(t *testing.T) {
	got := shellWords(`CGO_ENABLED=0 go build -ldflags="-s -w" -o "$D/x y" ./cmd/freeseg`)
	want := []string{"CGO_ENABLED=0", "go", "build", "-ldflags=-s -w", "-o", "$D/x y", "./cmd/freeseg"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}
