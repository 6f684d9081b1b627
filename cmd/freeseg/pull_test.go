package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/hub"
	"github.com/freeseg/freeseg/hub/hubtest"
	"github.com/freeseg/freeseg/internal/golden"
)

// hubEnv points the hub environment variables at a fake hub and a fresh
// cache, and captures loadModel's download notes.
func hubEnv(t *testing.T, s *hubtest.Server) (cache string, log *bytes.Buffer) {
	t.Helper()
	cache = t.TempDir()
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("FREESEG_CACHE", cache)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("FREESEG_OFFLINE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	log = &bytes.Buffer{}
	old := modelLog
	modelLog = log
	t.Cleanup(func() { modelLog = old })
	return cache, log
}

func fakeRepo(id string) hubtest.Repo {
	w := bytes.Repeat([]byte("weights!"), 10_000)
	return hubtest.Repo{ID: id, Files: []hubtest.File{
		{Name: "config.json", Data: []byte(`{}`)},
		{Name: "model.safetensors", Data: w, LFS: true},
		{Name: "flax_model.msgpack", Data: w, LFS: true},
		{Name: "vocab.json", Data: []byte(`{}`)},
		{Name: "merges.txt", Data: []byte("#version: 0.2\n")},
	}}
}

func TestPullCommand(t *testing.T) {
	s := hubtest.New(t, fakeRepo("org/fake"))
	cache, _ := hubEnv(t, s)

	code, out, errs := run(t, "pull", "org/fake")
	if code != 0 {
		t.Fatalf("pull: code %d, stderr %q", code, errs)
	}
	dir := strings.TrimSpace(out)
	if !strings.HasPrefix(dir, filepath.Join(cache, "models", "org--fake")+string(filepath.Separator)) {
		t.Fatalf("pull printed %q, want a folder under %s", out, cache)
	}
	for _, n := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "flax_model.msgpack")); err == nil {
		t.Error("downloaded a file freeseg does not need")
	}
	if !strings.Contains(errs, "downloading org/fake@main") || !strings.Contains(errs, "model.safetensors  80.0 kB") {
		t.Errorf("stderr %q: no download note or progress", errs)
	}

	// Offline: the cached model, or a clear error.
	if code, out2, errs := run(t, "pull", "--offline", "org/fake"); code != 0 || out2 != out {
		t.Errorf("pull --offline: code %d, out %q, stderr %q", code, out2, errs)
	}
	code, _, errs = run(t, "pull", "--offline", "org/other")
	if code != 1 || !strings.Contains(errs, "not in") || !strings.Contains(errs, "offline") {
		t.Errorf("pull --offline of an uncached model: code %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "pull", "org/missing")
	if code != 1 || !strings.Contains(errs, "no such model or file") {
		t.Errorf("pull of a missing model: code %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "pull", "not-an-id")
	if code != 2 || !strings.Contains(errs, "not a hub id") {
		t.Errorf("pull not-an-id: code %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "pull", "--revision", "v2", "org/fake@v1")
	if code != 1 || !strings.Contains(errs, "two revisions") {
		t.Errorf("two revisions: code %d, stderr %q", code, errs)
	}

	// --list marks the cached models.
	s.AddRepo(fakeRepo(hub.Known[1].ID))
	if code, _, errs := run(t, "pull", hub.Known[1].ID); code != 0 {
		t.Fatalf("pull %s: %s", hub.Known[1].ID, errs)
	}
	code, out, _ = run(t, "pull", "--list")
	if code != 0 {
		t.Fatalf("pull --list: code %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(hub.Known) {
		t.Fatalf("pull --list printed %d lines, want %d:\n%s", len(lines), len(hub.Known), out)
	}
	for i, m := range hub.Known {
		f := strings.Fields(lines[i])
		if f[0] != m.ID || (f[1] == "cached") != (i == 1) || !strings.HasSuffix(lines[i], m.Description) {
			t.Errorf("--list line %q", lines[i])
		}
	}
	if code, out, _ := run(t, "pull", "--help"); code != 0 || !strings.Contains(out, "--revision") {
		t.Errorf("pull --help: %d %q", code, out)
	}
}

func TestModelFlagTakesHubID(t *testing.T) {
	tiny := golden.Path(t, "tiny-clip")
	s := hubtest.New(t, hubtest.DirRepo(t, hub.DefaultModel, tiny), hubtest.DirRepo(t, "org/tiny", tiny))
	_, log := hubEnv(t, s)
	text := []string{"--text", "a photo of a cat.", "--text", "a dog"}

	code, want, errs := run(t, append([]string{"embed", "--model", tiny}, text...)...)
	if code != 0 {
		t.Fatalf("embed with the folder: %s", errs)
	}
	// No --model: the default model, downloaded with a note.
	code, out, errs := run(t, append([]string{"embed"}, text...)...)
	if code != 0 || out != want {
		t.Fatalf("embed without --model: code %d, out %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(log.String(), "no --model given: downloading the default model "+hub.DefaultModel) {
		t.Errorf("no first-use note in %q", log)
	}
	// A hub id; the second use is from the cache, without a note or request.
	for i := range 2 {
		log.Reset()
		n := len(s.Requests())
		code, out, errs = run(t, append([]string{"embed", "--model", "org/tiny"}, text...)...)
		if code != 0 || out != want {
			t.Fatalf("embed --model org/tiny: code %d, stderr %q", code, errs)
		}
		if got := strings.Contains(log.String(), "downloading org/tiny"); got != (i == 0) {
			t.Errorf("run %d: download note %v in %q", i, got, log)
		}
		if i == 1 && len(s.Requests()) != n {
			t.Errorf("a cached model contacted the hub")
		}
	}
	// Offline without the model in the cache.
	t.Setenv("FREESEG_OFFLINE", "1")
	code, _, errs = run(t, append([]string{"embed", "--model", "org/elsewhere"}, text...)...)
	if code != 1 || !strings.Contains(errs, "offline") {
		t.Errorf("offline: code %d, stderr %q", code, errs)
	}
}
