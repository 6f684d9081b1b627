package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pull downloads repo@rev into the cache (see the package comment).
func pull(ctx context.Context, repo, rev string, opt Options) (string, error) {
	base, err := opt.cacheBase()
	if err != nil {
		return "", err
	}
	c, err := newClient(opt)
	if err != nil {
		return "", err
	}
	rc := newRepoCache(base, repo)
	l, err := c.list(ctx, repo, rev)
	if err != nil {
		if dir, ok := rc.lookup(rev); ok && errors.Is(err, ErrUnreachable) {
			return "", fmt.Errorf("%w (a cached copy of %s is in %s)", err, repo, dir)
		}
		return "", err
	}
	name := l.Commit
	if name == "" {
		name = snapName(rev)
		if isCommit(rev) {
			name = rev
		}
	}
	urlRev := rev
	if l.Commit != "" {
		urlRev = l.Commit // every file from the same commit
	}
	final := rc.snapshot(name)
	if isDir(final) {
		rc.writeRef(rev, name)
		opt.notef("%s@%s is up to date in %s", repo, rev, final)
		return final, nil
	}
	var files []*fileSpec
	if l.Files != nil {
		if files, err = choose(l, repo, rev); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(rc.dir, 0o755); err != nil {
		return "", fmt.Errorf("model cache: %w", err)
	}

	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lock, err := acquireLock(dctx, rc.lockPath(name), func(holder string) {
		opt.notef("waiting for another download of %s to finish (lock %s held by %s)", repo, rc.lockPath(name), holder)
	}, func() { cancel(errLockLost) })
	if err != nil {
		return "", err
	}
	defer lock.release()
	if isDir(final) { // another process finished it while we waited
		rc.writeRef(rev, name)
		return final, nil
	}
	stage := rc.staging(name)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return "", fmt.Errorf("model cache: %w", err)
	}
	what := repo + "@" + rev
	if l.Commit != "" && l.Commit != rev {
		what += " (commit " + l.Commit[:12] + ")"
	}
	if files != nil {
		var total int64
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
			if f.Size > 0 {
				total += f.Size
			}
		}
		opt.notef("downloading %s from %s: %s, %s", what, origin(c.endpoint), strings.Join(names, ", "), formatBytes(total))
		for _, f := range files {
			if _, err = c.download(dctx, repo, urlRev, f, stage, false); err != nil {
				break
			}
		}
	} else {
		opt.notef("downloading %s from %s (no file list from the hub API; trying the usual file names)", what, origin(c.endpoint))
		err = c.probe(dctx, repo, urlRev, stage)
	}
	if err != nil {
		if dctx.Err() != nil {
			return "", fmt.Errorf("downloading %s stopped: %w; what was downloaded is kept in %s, run again to resume", what, err, stage)
		}
		return "", err
	}
	if err := os.Rename(stage, final); err != nil {
		if isDir(final) {
			os.RemoveAll(stage)
		} else {
			return "", fmt.Errorf("model cache: %w", err)
		}
	}
	rc.writeRef(rev, name)
	opt.notef("%s is in %s", what, final)
	return final, nil
}

// probe downloads the files freeseg needs without a file list: 404 means
// the file is absent.
func (c *client) probe(ctx context.Context, repo, rev, stage string) error {
	get := func(name string) (bool, error) {
		return c.download(ctx, repo, rev, &fileSpec{Name: name, Size: -1}, stage, true)
	}
	if _, err := get("config.json"); err != nil {
		return err
	}
	ocfg, err := get("open_clip_config.json")
	if err != nil {
		return err
	}
	order := weightOrder
	if ocfg {
		order = openCLIPWeightOrder
	}
	found := false
	for _, n := range order {
		ok, err := get(n)
		if err != nil {
			return err
		}
		if ok {
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("%w: %s@%s has none of %s", ErrNotFound, repo, rev, strings.Join(order, ", "))
	}
	v, err := get("vocab.json")
	if err != nil {
		return err
	}
	m, err := get("merges.txt")
	if err != nil {
		return err
	}
	if v != m { // one without the other is useless (and would break the tokenizer)
		os.Remove(filepath.Join(stage, "vocab.json"))
		os.Remove(filepath.Join(stage, "merges.txt"))
	}
	return nil
}

// transferError is a broken transfer, which a retry resumes.
type transferError struct{ err error }

func (e *transferError) Error() string { return e.err.Error() }

func (e *transferError) Unwrap() error { return e.err }

// errAbsent marks a 404 of a file (which probing skips).
var errAbsent = errors.New("absent")

type absentError struct{ *HTTPError }

func (e absentError) Is(target error) bool { return target == errAbsent || e.HTTPError.Is(target) }

// download fetches one file into stage (resuming <name>.partial) and
// verifies it. With optional, a 404 reports false instead of an error.
func (c *client) download(ctx context.Context, repo, rev string, f *fileSpec, stage string, optional bool) (bool, error) {
	if strings.ContainsAny(f.Name, `/\`) || f.Name == "" || strings.HasPrefix(f.Name, ".") {
		return false, fmt.Errorf("refusing file name %q", f.Name)
	}
	final := filepath.Join(stage, f.Name)
	if st, err := os.Stat(final); err == nil && st.Mode().IsRegular() && (f.Size < 0 || st.Size() == f.Size) {
		return true, nil // verified by an earlier, interrupted pull
	}
	for attempt := 0; ; attempt++ {
		err := c.fetch(ctx, repo, rev, f, stage)
		if err == nil {
			return true, nil
		}
		if optional && errors.Is(err, errAbsent) {
			return false, nil
		}
		var te *transferError
		if !errors.As(err, &te) || ctx.Err() != nil {
			return false, err
		}
		if attempt >= c.opt.Retries {
			return false, fmt.Errorf("%w; run the command again to resume", err)
		}
		c.opt.notef("%v; resuming (retry %d of %d)", err, attempt+1, c.opt.Retries)
		t := time.NewTimer(retryBackoff << attempt)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, context.Cause(ctx)
		case <-t.C:
		}
	}
}

var contentRangeRE = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+|\*)$`)

// fetch makes one attempt at a file.
func (c *client) fetch(ctx context.Context, repo, rev string, f *fileSpec, stage string) error {
	part := filepath.Join(stage, f.Name+".partial")
	final := filepath.Join(stage, f.Name)
	var off int64
	if st, err := os.Stat(part); err == nil {
		off = st.Size()
	}
	if f.Size >= 0 && off > f.Size {
		off = 0
	}
	if off > 0 && f.Size == off && (f.SHA256 != "" || !f.LFS) {
		// Complete but not yet checked (an earlier run stopped there).
		if err := finishPartial(part, final, f, nil, off); err == nil {
			return nil
		}
		off = 0
	}
	if err := checkDeclared(f); err != nil {
		return err
	}
	hdr := http.Header{"Accept-Encoding": {"identity"}}
	if off > 0 {
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, m, err := c.get(rctx, c.fileURL(repo, rev, f.Name), hdr)
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return &transferError{fmt.Errorf("%s: %w", f.Name, err)}
	}
	defer resp.Body.Close()
	if err := applyMeta(f, m); err != nil {
		return err
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable && !sameOrigin(resp.Request.URL, c.endpoint) {
		// An error of the CDN (an expired signed URL, a hiccup): a retry
		// asks the hub again.
		return &transferError{fmt.Errorf("%s: the download server %s answered %s", f.Name, origin(resp.Request.URL), resp.Status)}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		off = 0 // a fresh start, or a server that ignores Range
	case http.StatusPartialContent:
		cr := contentRangeRE.FindStringSubmatch(resp.Header.Get("Content-Range"))
		if cr == nil || cr[1] != strconv.FormatInt(off, 10) {
			os.Remove(part)
			return &transferError{fmt.Errorf("%s: the server answered a resume from byte %d with Content-Range %q; starting again", f.Name, off, resp.Header.Get("Content-Range"))}
		}
		if total, err := strconv.ParseInt(cr[3], 10, 64); err == nil && f.Size < 0 {
			f.Size = total
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if f.Size >= 0 && off == f.Size {
			if err := finishPartial(part, final, f, nil, off); err == nil {
				return nil
			}
		}
		os.Remove(part)
		return &transferError{fmt.Errorf("%s: the server refused to resume from byte %d; starting again", f.Name, off)}
	case http.StatusNotFound:
		herr := c.httpErr(resp, repo, rev, f.Name)
		if herr.Code == "" || herr.Code == "EntryNotFound" {
			return absentError{herr}
		}
		return herr
	default:
		herr := c.httpErr(resp, repo, rev, f.Name)
		if resp.StatusCode >= 500 {
			return &transferError{herr}
		}
		return herr
	}
	if f.Size < 0 && resp.ContentLength >= 0 {
		f.Size = off + resp.ContentLength
	}
	if err := checkDeclared(f); err != nil {
		return err
	}

	file, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("model cache: %w", err)
	}
	h := sha256.New()
	if off > 0 {
		if _, err := io.CopyN(h, file, off); err != nil {
			file.Close()
			os.Remove(part)
			return &transferError{fmt.Errorf("%s: reading the partial download: %w", f.Name, err)}
		}
	} else if err := file.Truncate(0); err != nil {
		file.Close()
		return fmt.Errorf("model cache: %w", err)
	}
	if _, err := file.Seek(off, io.SeekStart); err != nil {
		file.Close()
		return fmt.Errorf("model cache: %w", err)
	}

	b := newBar(c.opt.Progress, f.Name, f.Size, off)
	stall := c.stallTimeout()
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer timer.Stop()
	var src io.Reader = &stallReader{r: resp.Body, t: timer, d: stall}
	limit := f.Size // what may arrive, in all
	if limit < 0 {
		limit = maxSmallFile
		if isWeights(f.Name) {
			limit = maxUndeclaredWeights
		}
	}
	src = io.LimitReader(src, limit-off+1) // one byte more reveals an oversized file
	n, cerr := io.Copy(io.MultiWriter(file, h, b), src)
	got := off + n
	if cerr == nil && f.Size < 0 && got > limit {
		file.Close()
		b.abort()
		os.Remove(part)
		return fmt.Errorf("%s: more than %s arrived with no size declared, more than such a file may have: refusing it (the partial download was deleted)",
			f.Name, capText(limit))
	}
	if cerr != nil {
		file.Close()
		b.abort()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if errors.Is(context.Cause(rctx), errStalled) {
			cerr = fmt.Errorf("%w: less than 1 KiB received in %v", errStalled, stall)
		}
		return &transferError{fmt.Errorf("%s: download interrupted after %s of %s: %w", f.Name, formatBytes(got), sizeText(f.Size), cerr)}
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return fmt.Errorf("model cache: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("model cache: %w", err)
	}
	if err := finishPartial(part, final, f, h.Sum(nil), got); err != nil {
		b.abort()
		return err
	}
	b.finish()
	if f.LFS && f.SHA256 == "" {
		c.opt.notef("warning: %s: the hub stated no sha256 for this LFS file; only its size was checked", f.Name)
	}
	return nil
}

func sizeText(n int64) string {
	if n < 0 {
		return "unknown size"
	}
	return formatBytes(n)
}

// applyMeta takes the size and sha256 from the hub's X-Linked-* headers,
// which take precedence over the API listing.
func applyMeta(f *fileSpec, m hubMeta) error {
	if m.linkedEtag != "" {
		f.LFS = true
		e := strings.ToLower(strings.Trim(strings.TrimPrefix(strings.TrimSpace(m.linkedEtag), "W/"), `"`))
		if isSHA256(e) {
			f.SHA256 = e
		}
	}
	if m.linkedSize != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(m.linkedSize), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%s: bad %s header %q", f.Name, hLinkedSize, m.linkedSize)
		}
		f.Size = n
	}
	return nil
}

// finishPartial checks a complete partial file (sum is its sha256, or nil
// to compute it) and renames it to final; a mismatch deletes it.
func finishPartial(part, final string, f *fileSpec, sum []byte, size int64) error {
	if f.Size >= 0 && size != f.Size {
		os.Remove(part)
		return fmt.Errorf("%w: %s: size mismatch: received %d bytes, the hub says %d; the download was deleted, try again", ErrIntegrity, f.Name, size, f.Size)
	}
	if f.SHA256 != "" {
		if sum == nil {
			r, err := os.Open(part)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return err
			}
			sum = h.Sum(nil)
		}
		if got := hex.EncodeToString(sum); got != f.SHA256 {
			os.Remove(part)
			return fmt.Errorf("%w: %s: sha256 mismatch: got %s, the hub says %s; the download was deleted, try again", ErrIntegrity, f.Name, got, f.SHA256)
		}
	}
	if err := os.Rename(part, final); err != nil {
		return fmt.Errorf("model cache: %w", err)
	}
	return nil
}

// stallReader restarts the stall timer t (of duration d) each time
// stallMinBytes more have arrived.
type stallReader struct {
	r       io.Reader
	t       *time.Timer
	d       time.Duration
	pending int
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.pending += n
	if s.pending >= stallMinBytes {
		s.t.Reset(s.d)
		s.pending = 0
	}
	return n, err
}
