// Package storage reads and writes the files of freeseg's pipelines through
// Beam's filesystems (local paths, s3://, gs://, ...), with the two
// guarantees a distributed runner needs (docs/beam.md, "Faults"):
//
//   - transient errors are retried inside the worker with bounded,
//     exponential backoff, because Prism fails the whole job on the first
//     error of a bundle;
//   - a write is all or nothing: a reader (and a rerun) sees either the
//     old state or the complete new file, never a partial one, and writing
//     the same bytes twice gives the same result.
package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // local paths, always available
	"github.com/freeseg/freeseg/imageio"
)

// MaxFileBytes bounds what Read loads into memory (an image, a label map,
// a model file is read by the model loader, not here).
const MaxFileBytes = 1 << 30

// Retry is the backoff policy of the operations: Attempts tries in all,
// the wait starting at Base and doubling up to Max.
type Retry struct {
	Attempts  int
	Base, Max time.Duration
}

// DefaultRetry gives a flaky object store about 10 seconds.
var DefaultRetry = Retry{Attempts: 5, Base: 200 * time.Millisecond, Max: 5 * time.Second}

// permanent marks errors no retry can fix: a missing file, a bad name.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// isPermanent reports whether retrying err is pointless. Object stores
// report a missing key in their own words; those are matched by text
// because Beam's filesystems do not wrap fs.ErrNotExist.
func isPermanent(err error) bool {
	var p permanent
	if errors.As(err, &p) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, context.Canceled) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "NoSuchKey") || strings.Contains(s, "NotFound") || strings.Contains(s, "StatusCode: 404") ||
		strings.Contains(s, "NoSuchBucket")
}

// Do runs op until it succeeds, fails permanently, or the attempts are
// spent; the error names what and says how many attempts were made.
func (r Retry) Do(ctx context.Context, what string, op func() error) error {
	n := max(r.Attempts, 1)
	wait := r.Base
	var err error
	for i := 0; i < n; i++ {
		if err = op(); err == nil {
			return nil
		}
		if isPermanent(err) || i == n-1 {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (then %v)", what, err, ctx.Err())
		}
		wait = min(2*wait, r.Max)
	}
	if isPermanent(err) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w (after %d attempts)", what, err, n)
}

// localErr marks an error of the local filesystem permanent unless it is
// one a second attempt can cure (an interrupted or busy call, an I/O
// error of a network mount): a bad path or a full disk stays bad.
func localErr(err error) error {
	if err == nil || errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EIO) {
		return err
	}
	return permanent{err}
}

// IsNotExist reports whether err says a file or object is missing.
func IsNotExist(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "NoSuchKey") || strings.Contains(s, "NotFound") || strings.Contains(s, "StatusCode: 404")
}

// IsLocal reports whether path is on the local filesystem (no scheme).
func IsLocal(path string) bool {
	i := strings.Index(path, "://")
	return i < 0 || path[:i] == "file" || path[:i] == "default"
}

// Join appends name to a prefix of any filesystem with '/' (object
// stores) or the OS separator (local paths).
func Join(prefix, name string) string {
	if IsLocal(prefix) {
		return filepath.Join(prefix, name)
	}
	return strings.TrimSuffix(prefix, "/") + "/" + name
}

// Base is the last element of a path of any filesystem.
func Base(p string) string {
	if IsLocal(p) {
		return filepath.Base(p)
	}
	return p[strings.LastIndex(p, "/")+1:]
}

// Store is one filesystem with a retry policy.
type Store struct {
	FS    filesystem.Interface
	Retry Retry
}

// Open returns the store for path's scheme. Unknown schemes are an error
// naming the path (Beam's own lookup would panic later).
func Open(ctx context.Context, path string) (*Store, error) {
	f, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Store{FS: f, Retry: DefaultRetry}, nil
}

// Close releases the filesystem.
func (s *Store) Close() error { return s.FS.Close() }

// Read returns the whole file, retrying transient errors; files larger
// than MaxFileBytes are refused before they are read.
func (s *Store) Read(ctx context.Context, path string) ([]byte, error) {
	var data []byte
	err := s.Retry.Do(ctx, "reading "+path, func() error {
		r, err := s.FS.OpenRead(ctx, path)
		if err != nil {
			if IsLocal(path) {
				return localErr(err)
			}
			return err
		}
		defer r.Close()
		data, err = io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
		if err != nil {
			return err
		}
		if len(data) > MaxFileBytes {
			return permanent{fmt.Errorf("larger than %d bytes", MaxFileBytes)}
		}
		return nil
	})
	return data, err
}

// Exists reports whether path is there (a missing file is not an error).
func (s *Store) Exists(ctx context.Context, path string) (bool, error) {
	if IsLocal(path) {
		_, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	found := false
	err := s.Retry.Do(ctx, "checking "+path, func() error {
		_, err := s.FS.Size(ctx, path)
		if IsNotExist(err) {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}

// Write stores data at path all or nothing, retrying transient errors:
// on a local disk through a temporary file in the same folder renamed
// over path (imageio.WriteFileAtomic); on an object store with one PUT,
// which the store publishes only once it is complete. Writing the same
// bytes again leaves the same file, so a retried bundle is harmless.
func (s *Store) Write(ctx context.Context, path string, data []byte) error {
	return s.Retry.Do(ctx, "writing "+path, func() error {
		if IsLocal(path) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return localErr(err)
			}
			return localErr(imageio.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err }))
		}
		w, err := s.FS.OpenWrite(ctx, path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	})
}

// Remove deletes path; a missing file is not an error.
func (s *Store) Remove(ctx context.Context, path string) error {
	rm, ok := s.FS.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("removing %s: the filesystem cannot remove files", path)
	}
	return s.Retry.Do(ctx, "removing "+path, func() error {
		if err := rm.Remove(ctx, path); err != nil && !IsNotExist(err) {
			return err
		}
		return nil
	})
}

// ParseList reads an input list: one path or glob per line, blank lines
// and # comments skipped. A nested list (@...) or a list naming nothing
// is an error naming the list.
func ParseList(b []byte, name string) ([]string, error) {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "@") {
				return nil, fmt.Errorf("input list %s: nested list %q", name, l)
			}
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("input list %s names no images", name)
	}
	return lines, nil
}

// Expand turns the --input values into a list of files: a glob (any
// filesystem; its matches sorted, at least one required), a list file
// ("@list.txt": one path or glob per line, # comments) or a plain path.
// The order is the order given, each glob's matches sorted, as freeseg
// segment orders a folder's files.
func Expand(ctx context.Context, inputs []string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		in = strings.TrimSpace(in)
		if in == "" {
			continue
		}
		if list, ok := strings.CutPrefix(in, "@"); ok {
			st, err := Open(ctx, list)
			if err != nil {
				return nil, err
			}
			b, err := st.Read(ctx, list)
			if err != nil {
				return nil, fmt.Errorf("input list %s: %w", list, err)
			}
			lines, err := ParseList(b, list)
			if err != nil {
				return nil, err
			}
			sub, err := Expand(ctx, lines)
			if err != nil {
				return nil, fmt.Errorf("input list %s: %w", list, err)
			}
			out = append(out, sub...)
			continue
		}
		st, err := Open(ctx, in)
		if err != nil {
			return nil, err
		}
		if !strings.ContainsAny(in, "*?[") {
			ok, err := st.Exists(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("input %s: %w", in, err)
			}
			if !ok {
				return nil, fmt.Errorf("input %s: no such file", in)
			}
			if IsLocal(in) {
				if fi, err := os.Stat(in); err == nil && fi.IsDir() {
					return nil, fmt.Errorf("input %s is a folder: give a glob such as %s", in, filepath.Join(in, "*.jpg"))
				}
			}
			out = append(out, in)
			continue
		}
		var found []string
		err = st.Retry.Do(ctx, "listing "+in, func() error {
			var err error
			found, err = st.FS.List(ctx, in)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("input %s matches no file", in)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}
