package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
)

// flaky fails the first n calls of each operation with a transient
// error, then behaves as memfs.
type flaky struct {
	filesystem.Interface
	n     int
	calls map[string]int
}

func (f *flaky) fail(op string) error {
	f.calls[op]++
	if f.calls[op] <= f.n {
		return fmt.Errorf("%s: connection reset by peer (call %d)", op, f.calls[op])
	}
	return nil
}

func (f *flaky) OpenRead(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := f.fail("read"); err != nil {
		return nil, err
	}
	return f.Interface.OpenRead(ctx, p)
}

func (f *flaky) OpenWrite(ctx context.Context, p string) (io.WriteCloser, error) {
	if err := f.fail("write"); err != nil {
		return nil, err
	}
	return f.Interface.OpenWrite(ctx, p)
}

var fast = Retry{Attempts: 4, Base: time.Millisecond, Max: 4 * time.Millisecond}

func TestRetryTransient(t *testing.T) {
	ctx := context.Background()
	f := &flaky{Interface: memfs.New(ctx), n: 3, calls: map[string]int{}}
	s := &Store{FS: f, Retry: fast}
	if err := s.Write(ctx, "memfs://a/b.png", []byte("data")); err != nil {
		t.Fatalf("3 failures then success with 4 attempts: %v", err)
	}
	if f.calls["write"] != 4 {
		t.Errorf("%d write calls, want 4", f.calls["write"])
	}
	b, err := s.Read(ctx, "memfs://a/b.png")
	if err != nil || string(b) != "data" {
		t.Fatalf("read back %q %v", b, err)
	}

	// One failure more than the attempts: the error says so.
	f2 := &flaky{Interface: memfs.New(ctx), n: 4, calls: map[string]int{}}
	s2 := &Store{FS: f2, Retry: fast}
	err = s2.Write(ctx, "memfs://a/c.png", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "after 4 attempts") || !strings.Contains(err.Error(), "memfs://a/c.png") {
		t.Errorf("exhausted retries: %v", err)
	}
	if f2.calls["write"] != 4 {
		t.Errorf("%d write calls, want exactly 4", f2.calls["write"])
	}
}

func TestRetryPermanentNotRetried(t *testing.T) {
	calls := 0
	err := fast.Do(context.Background(), "reading x", func() error {
		calls++
		return fmt.Errorf("open x: %w", fs.ErrNotExist)
	})
	if calls != 1 || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "reading x") {
		t.Errorf("missing file: %d calls, %v", calls, err)
	}
	calls = 0
	err = fast.Do(context.Background(), "reading y", func() error {
		calls++
		return errors.New("api error NoSuchKey: The specified key does not exist.")
	})
	if calls != 1 || !IsNotExist(err) {
		t.Errorf("missing object: %d calls, %v", calls, err)
	}
}

func TestWriteLocalAtomic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sub", "x.json")
	for i := 0; i < 2; i++ { // a retried bundle writes the same bytes again
		if err := s.Write(ctx, p, []byte("{}\n")); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 || ents[0].Name() != "x.json" {
		t.Errorf("folder holds %v, want only x.json", ents)
	}
	if ok, err := s.Exists(ctx, p); !ok || err != nil {
		t.Errorf("Exists(%s) = %v %v", p, ok, err)
	}
	if ok, err := s.Exists(ctx, p+".no"); ok || err != nil {
		t.Errorf("Exists(missing) = %v %v", ok, err)
	}
	// A write into a path under a file fails at once (not retried for
	// seconds) and names the path.
	bad := filepath.Join(p, "y")
	s.Retry = Retry{Attempts: 3, Base: time.Hour}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Write(tctx, bad, nil); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "deadline") {
		t.Errorf("write under a file: %v", err)
	}
}

func TestExpand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, n := range []string{"b.png", "a.png", "c.jpg"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("# images\n"+filepath.Join(dir, "c.jpg")+"\n\n"+filepath.Join(dir, "*.png")+"\n"), 0o644)
	got, err := Expand(ctx, []string{"@" + list})
	want := []string{filepath.Join(dir, "c.jpg"), filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")}
	if err != nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Expand(@list) = %v %v, want %v", got, err, want)
	}
	for _, c := range []struct{ in, want string }{
		{filepath.Join(dir, "*.gif"), "matches no file"},
		{filepath.Join(dir, "none.png"), "no such file"},
		{dir, "is a folder"},
		{"@" + filepath.Join(dir, "nolist"), "input list"},
	} {
		if _, err := Expand(ctx, []string{c.in}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Expand(%s): %v, want %q", c.in, err, c.want)
		}
	}
}

func FuzzParseList(f *testing.F) {
	f.Add([]byte("# photos\na.png\n\n s3://b/*.jpg \r\n"))
	f.Add([]byte("@other.txt\n"))
	f.Add([]byte{0xff, '\n', '#'})
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := ParseList(b, "list.txt")
		if err != nil {
			if !strings.Contains(err.Error(), "list.txt") {
				t.Errorf("error does not name the list: %v", err)
			}
			return
		}
		if len(lines) == 0 {
			t.Fatal("no lines and no error")
		}
		for _, l := range lines {
			if l == "" || l != strings.TrimSpace(l) || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "@") || strings.Contains(l, "\n") {
				t.Errorf("line %q", l)
			}
		}
	})
}
