package freeseg_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/hub/hubtest"
	"github.com/freeseg/freeseg/internal/golden"
)

// LoadModel takes a hub id that is not a local path from the hub, saying
// so on first use, and a local folder whose relative path looks like a hub
// id from the disk, without asking the hub or printing the note.
func TestLoadModelHubOrLocal(t *testing.T) {
	tiny := golden.Path(t, "tiny-clip")
	s := hubtest.New(t, hubtest.DirRepo(t, "org/tiny", tiny))
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("FREESEG_CACHE", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("FREESEG_OFFLINE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	var log bytes.Buffer
	m, err := freeseg.LoadModel(context.Background(), "org/tiny", &log)
	if err != nil || m == nil || len(s.Requests()) == 0 || !strings.Contains(log.String(), "freeseg: downloading org/tiny into ") {
		t.Fatalf("hub id: %v, %d requests, log %q", err, len(s.Requests()), log.String())
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tiny, filepath.Join(dir, "local", "tiny")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	n := len(s.Requests())
	log.Reset()
	if m, err := freeseg.LoadModel(context.Background(), "local/tiny", &log); err != nil || m == nil || len(s.Requests()) != n || strings.Contains(log.String(), "downloading") {
		t.Errorf("local folder local/tiny: %v, %d more hub requests", err, len(s.Requests())-n)
	}
}

// WriteTestModel writes into an existing empty folder, refuses one that
// holds anything, and names the path when it is not a folder.
func TestWriteTestModelFolders(t *testing.T) {
	dir := t.TempDir()
	if err := freeseg.WriteTestModel(dir, 1); err != nil {
		t.Errorf("empty folder: %v", err)
	}
	if err := freeseg.WriteTestModel(dir, 1); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("full folder: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := freeseg.WriteTestModel(file, 1); err == nil || !strings.HasPrefix(err.Error(), file+": ") {
		t.Errorf("a file: %v", err)
	}
}
