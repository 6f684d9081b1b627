package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func isCommit(s string) bool { return commitRE.MatchString(s) }

// repoCache is the cache folder of one repository.
type repoCache struct{ dir string }

func newRepoCache(base, repo string) repoCache {
	return repoCache{dir: filepath.Join(base, "models", strings.ReplaceAll(repo, "/", "--"))}
}

// snapName is the folder name of a snapshot: the commit, or the escaped
// revision where the commit is unknown. Revisions are validated by
// checkRevision, so the name never starts with a dot.
func snapName(rev string) string { return url.PathEscape(rev) }

func (c repoCache) snapshot(name string) string { return filepath.Join(c.dir, name) }
func (c repoCache) staging(name string) string  { return filepath.Join(c.dir, ".incomplete-"+name) }
func (c repoCache) lockPath(name string) string { return filepath.Join(c.dir, ".lock-"+name) }
func (c repoCache) refPath(rev string) string {
	return filepath.Join(c.dir, ".refs", url.PathEscape(rev))
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// lookup finds the cached folder of a revision: a commit's folder, the
// folder a branch or tag pointed to at the last pull, or a folder named
// after the revision.
func (c repoCache) lookup(rev string) (string, bool) {
	if isCommit(rev) && isDir(c.snapshot(rev)) {
		return c.snapshot(rev), true
	}
	if b, err := os.ReadFile(c.refPath(rev)); err == nil {
		name := strings.TrimSpace(string(b))
		if name != "" && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".") && isDir(c.snapshot(name)) {
			return c.snapshot(name), true
		}
	}
	if p := c.snapshot(snapName(rev)); isDir(p) {
		return p, true
	}
	return "", false
}

// writeRef records that rev resolved to the snapshot name (atomically).
func (c repoCache) writeRef(rev, name string) error {
	if rev == name {
		return nil
	}
	p := c.refPath(rev)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d-%s", p, os.Getpid(), randHex(4))
	if err := os.WriteFile(tmp, []byte(name+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Lock timing; variables so that tests can shorten them.
var (
	lockPoll  = 200 * time.Millisecond // how often a waiter looks again
	lockBeat  = 5 * time.Second        // how often the holder refreshes the lock
	lockStale = 30 * time.Second       // a lock left unchanged this long is abandoned
)

var errLockLost = errors.New("another process took over the download lock (this one was too slow to refresh it); run the command again")

// fileLock is a lock file created with O_EXCL. Its content names the
// holder ("pid host nonce"); the holder refreshes its mtime every lockBeat.
// A waiter breaks it when the holder is a dead process on this host, or
// when it has seen the lock unchanged for lockStale.
type fileLock struct {
	path, token string
	stop        chan struct{}
	done        chan struct{}
	once        sync.Once
}

var hostName = sync.OnceValue(func() string {
	h, err := os.Hostname()
	if err != nil || h == "" || strings.ContainsAny(h, " \n") {
		return "unknown-host"
	}
	return h
})

// acquireLock takes the lock at path, waiting while another live holder
// has it. wait is called once when it has to wait; onLost is called if the
// lock is later taken away.
func acquireLock(ctx context.Context, path string, wait func(holder string), onLost func()) (*fileLock, error) {
	token := fmt.Sprintf("%d %s %s", os.Getpid(), hostName(), randHex(8))
	var seen string
	var seenMod, seenAt time.Time
	waited := false
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.WriteString(token + "\n")
			cerr := f.Close()
			if werr != nil || cerr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("writing lock %s: %w", path, errors.Join(werr, cerr))
			}
			l := &fileLock{path: path, token: token, stop: make(chan struct{}), done: make(chan struct{})}
			go l.heartbeat(onLost)
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("creating lock %s: %w", path, err)
		}
		b, rerr := os.ReadFile(path)
		st, serr := os.Stat(path)
		if rerr != nil || serr != nil {
			if errors.Is(rerr, fs.ErrNotExist) || errors.Is(serr, fs.ErrNotExist) {
				continue // released meanwhile
			}
			return nil, fmt.Errorf("reading lock %s: %w", path, errors.Join(rerr, serr))
		}
		content := strings.TrimSpace(string(b))
		if content != seen || !st.ModTime().Equal(seenMod) || seenAt.IsZero() {
			seen, seenMod, seenAt = content, st.ModTime(), time.Now()
		}
		if holderDead(content) || time.Since(seenAt) > lockStale {
			// Break it, unless it changed hands since we read it.
			if b2, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b2)) == content {
				os.Remove(path)
			}
			seenAt = time.Time{}
			continue
		}
		if !waited && wait != nil {
			wait(content)
			waited = true
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// holderDead reports whether the lock's holder is a process of this host
// that no longer runs.
func holderDead(content string) bool {
	f := strings.Fields(content)
	if len(f) < 2 || f[1] != hostName() {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return !processAlive(pid)
}

func (l *fileLock) heartbeat(onLost func()) {
	defer close(l.done)
	t := time.NewTicker(lockBeat)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if !l.held() {
				if onLost != nil {
					onLost()
				}
				return
			}
			now := time.Now()
			os.Chtimes(l.path, now, now)
		}
	}
}

func (l *fileLock) held() bool {
	b, err := os.ReadFile(l.path)
	return err == nil && strings.TrimSpace(string(b)) == l.token
}

// release stops the heartbeat and removes the lock if it is still ours.
func (l *fileLock) release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		if l.held() {
			os.Remove(l.path)
		}
	})
}
