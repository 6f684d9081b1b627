package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Hub response headers (huggingface_hub constants.py): on the resolve
// endpoint, X-Linked-Etag is the sha256 of an LFS file (quoted, like an
// ETag) and X-Linked-Size its size; both are on the hub's own response,
// the redirect to the CDN, not on the CDN's. X-Repo-Commit is the commit the
// revision resolved to. Errors carry X-Error-Code (RepoNotFound,
// RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message.
const (
	hLinkedEtag = "X-Linked-Etag"
	hLinkedSize = "X-Linked-Size"
	hRepoCommit = "X-Repo-Commit"
	hErrorCode  = "X-Error-Code"
	hErrorMsg   = "X-Error-Message"
)

const userAgent = "freeseg-hub/1 (Go)"

var (
	stallTimeout = 60 * time.Second       // default of Options.StallTimeout
	retryBackoff = 500 * time.Millisecond // doubled at each retry
	maxRedirects = 10
)

// stallMinBytes is the progress that resets the stall timer: a trickle of
// a few bytes per interval keeps a connection open without moving the
// download forward, and must not hold it forever.
const stallMinBytes = 1 << 10

var errStalled = errors.New("stalled")

// Caps on downloads (docs/model-files.md). Every file but the checkpoint
// is a configuration or vocabulary file: CLIP's largest, vocab.json, is
// about 1 MB, so 16 MiB is refused whatever size is declared. A
// checkpoint is held to the size the hub declares (listing, X-Linked-Size,
// Content-Length or Content-Range); only with none of them is it held to
// maxUndeclaredWeights, above the largest CLIP checkpoint (ViT-bigG/14 in
// float32, about 10 GB).
const (
	maxSmallFile         = 16 << 20
	maxUndeclaredWeights = 32 << 30
)

// isWeights reports whether name is one of the checkpoint files pulled.
func isWeights(name string) bool {
	return slices.Contains(weightOrder, name) || slices.Contains(openCLIPWeightOrder, name)
}

// capText writes a cap in binary units ("16 MiB").
func capText(n int64) string {
	if n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

func (c *client) stallTimeout() time.Duration {
	if c.opt.StallTimeout > 0 {
		return c.opt.StallTimeout
	}
	return stallTimeout
}

// checkDeclared refuses a small file whose declared size is over the cap,
// before any byte of it is read.
func checkDeclared(f *fileSpec) error {
	if !isWeights(f.Name) && f.Size > maxSmallFile {
		return fmt.Errorf("%s: the server declares %s, more than the %s a configuration or vocabulary file may have: refusing to download it",
			f.Name, formatBytes(f.Size), capText(maxSmallFile))
	}
	return nil
}

// fileSpec is one file to download and what the hub says about it.
type fileSpec struct {
	Name   string
	Size   int64  // -1 when unknown
	SHA256 string // lowercase hex; "" when unknown
	LFS    bool
}

// listing is what the models API says about a revision.
type listing struct {
	Commit string
	Files  map[string]*fileSpec // nil: the API is not available, probe instead
}

// client does the hub's HTTP requests.
type client struct {
	opt      Options
	hc       http.Client
	endpoint *url.URL
}

var defaultTransport = func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	return t
}()

func newClient(opt Options) (*client, error) {
	ep, err := url.Parse(opt.endpoint())
	if err != nil || (ep.Scheme != "http" && ep.Scheme != "https") || ep.Host == "" {
		return nil, fmt.Errorf("bad hub endpoint %q (HF_ENDPOINT): want an http(s) URL such as %s", opt.endpoint(), DefaultEndpoint)
	}
	c := &client{opt: opt, endpoint: ep}
	if opt.Client != nil {
		c.hc = *opt.Client
	} else {
		c.hc = http.Client{Transport: defaultTransport}
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// hubMeta collects the hub's headers along the redirects of one request.
type hubMeta struct {
	linkedEtag, linkedSize, commit string
}

func (m *hubMeta) collect(h http.Header) {
	if m.linkedEtag == "" {
		m.linkedEtag = h.Get(hLinkedEtag)
	}
	if m.linkedSize == "" {
		m.linkedSize = h.Get(hLinkedSize)
	}
	if m.commit == "" {
		m.commit = h.Get(hRepoCommit)
	}
}

// get sends a GET and follows redirects itself: the token goes only to the
// endpoint's scheme and host (never to the CDN an LFS file redirects to),
// and the hub's headers are read from the redirect response.
func (c *client) get(ctx context.Context, rawURL string, hdr http.Header) (*http.Response, hubMeta, error) {
	var m hubMeta
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, m, err
	}
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, m, err
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", userAgent)
		hubHost := sameOrigin(u, c.endpoint)
		if hubHost && c.opt.Token != "" {
			req.Header.Set("Authorization", "Bearer "+c.opt.Token)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, m, context.Cause(ctx)
			}
			return nil, m, unreachable(u, err)
		}
		if hubHost {
			m.collect(resp.Header)
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc := resp.Header.Get("Location")
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if loc == "" {
				return nil, m, fmt.Errorf("%s: redirect (%s) without a Location", u.Redacted(), resp.Status)
			}
			if hop >= maxRedirects {
				return nil, m, fmt.Errorf("%s: more than %d redirects", rawURL, maxRedirects)
			}
			next, err := u.Parse(loc)
			if err != nil {
				return nil, m, fmt.Errorf("%s: bad redirect %q: %w", u.Redacted(), loc, err)
			}
			u = next
			continue
		}
		return resp, m, nil
	}
}

// unreachable words a failed connection.
func unreachable(u *url.URL, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &netError{host: origin(u), err: err}
}

type netError struct {
	host string
	err  error
}

func (e *netError) Error() string {
	return fmt.Sprintf("cannot reach %s: %v; use --offline (or FREESEG_OFFLINE=1) with a cached model, or set HF_ENDPOINT", e.host, e.err)
}
func (e *netError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// HTTPError is an error status from the hub or its CDN.
type HTTPError struct {
	URL       string
	Status    int
	Code      string // X-Error-Code
	Message   string // X-Error-Message
	Repo      string
	Revision  string
	File      string // "" for the models API
	TokenSent bool
	Endpoint  string
}

func (e *HTTPError) Error() string {
	status := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		status += ", " + e.Code
	}
	if e.Message != "" {
		status += ": " + strings.TrimSuffix(e.Message, ".")
	}
	detail := " (" + e.URL + ": " + status + ")"
	switch e.Status {
	case http.StatusUnauthorized:
		if e.TokenSent {
			return fmt.Sprintf("the hub refused the token in HF_TOKEN: check that it is valid and can read %s%s", e.Repo, detail)
		}
		return fmt.Sprintf("the model %s does not exist, or it is private or gated and needs a token: set HF_TOKEN to a Hugging Face access token%s", e.Repo, detail)
	case http.StatusForbidden:
		if e.Code == "GatedRepo" {
			return fmt.Sprintf("%s is a gated model: accept its conditions on %s/%s and set HF_TOKEN to a token of that account%s", e.Repo, e.Endpoint, e.Repo, detail)
		}
		return fmt.Sprintf("no access to %s (check HF_TOKEN)%s", e.Repo, detail)
	case http.StatusNotFound:
		what := e.URL
		switch e.Code {
		case "RepoNotFound":
			what = fmt.Sprintf("%s has no model %s (private models also need HF_TOKEN)", e.Endpoint, e.Repo)
		case "RevisionNotFound":
			what = fmt.Sprintf("%s has no revision %q", e.Repo, e.Revision)
		case "EntryNotFound":
			what = fmt.Sprintf("%s@%s has no file %s", e.Repo, e.Revision, e.File)
		}
		return "no such model or file: " + what + detail
	case http.StatusTooManyRequests:
		return "the hub is rate limiting: try again later (a token in HF_TOKEN raises the limit)" + detail
	}
	return e.URL + ": " + status
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrAccess) work.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrAccess:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	}
	return false
}

func (c *client) httpErr(resp *http.Response, repo, rev, file string) *HTTPError {
	u := resp.Request.URL
	shown := *u
	if !sameOrigin(u, c.endpoint) {
		shown.RawQuery = "" // CDN URLs carry signatures
	}
	return &HTTPError{
		URL: shown.Redacted(), Status: resp.StatusCode,
		Code: resp.Header.Get(hErrorCode), Message: resp.Header.Get(hErrorMsg),
		Repo: repo, Revision: rev, File: file,
		TokenSent: c.opt.Token != "" && sameOrigin(u, c.endpoint),
		Endpoint:  origin(c.endpoint) + strings.TrimRight(c.endpoint.Path, "/"),
	}
}

func (c *client) base() string { return strings.TrimRight(c.endpoint.String(), "/") }

func (c *client) fileURL(repo, rev, name string) string {
	return c.base() + "/" + repo + "/resolve/" + url.PathEscape(rev) + "/" + url.PathEscape(name)
}

// list asks the models API for the revision's commit and files (with
// ?blobs=true the siblings carry sizes and, for LFS files, the sha256:
// huggingface_hub hf_api.model_info with files_metadata). A server without
// the API gives a listing with nil Files.
func (c *client) list(ctx context.Context, repo, rev string) (*listing, error) {
	u := c.base() + "/api/models/" + repo + "/revision/" + url.PathEscape(rev) + "?blobs=true"
	// The listing is bounded like the downloads: 64 MiB, and the stall
	// timeout.
	stall := c.stallTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer timer.Stop()
	resp, _, err := c.get(ctx, u, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		herr := c.httpErr(resp, repo, rev, "")
		switch {
		case resp.StatusCode == http.StatusNotFound && herr.Code == "",
			resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusMethodNotAllowed,
			resp.StatusCode == http.StatusNotImplemented:
			return &listing{}, nil // a mirror without the API: probe the files
		}
		return nil, herr
	}
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			Name string `json:"rfilename"`
			Size *int64 `json:"size"`
			LFS  *struct {
				SHA256 string `json:"sha256"`
				Size   int64  `json:"size"`
			} `json:"lfs"`
		} `json:"siblings"`
	}
	body := &stallReader{r: resp.Body, t: timer, d: stall}
	if err := json.NewDecoder(io.LimitReader(body, 64<<20)).Decode(&info); err != nil || info.Siblings == nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return nil, fmt.Errorf("%s@%s: the file listing %w: less than 1 KiB received in %v; run the command again",
				repo, rev, errStalled, stall)
		}
		return &listing{}, nil
	}
	l := &listing{Files: map[string]*fileSpec{}}
	if isCommit(strings.ToLower(info.SHA)) {
		l.Commit = strings.ToLower(info.SHA)
	}
	for _, s := range info.Siblings {
		f := &fileSpec{Name: s.Name, Size: -1}
		if s.Size != nil {
			f.Size = *s.Size
		}
		if s.LFS != nil {
			f.LFS = true
			f.Size = s.LFS.Size
			if sha := strings.ToLower(s.LFS.SHA256); isSHA256(sha) {
				f.SHA256 = sha
			}
		}
		l.Files[s.Name] = f
	}
	return l, nil
}

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func isSHA256(s string) bool { return sha256RE.MatchString(s) }

// Checkpoint names in order of preference. An open_clip hub repository
// (it has open_clip_config.json) may also hold timm's image-only
// model.safetensors and pytorch_model.bin, which are not CLIP checkpoints,
// so there the open_clip files come first.
var (
	weightOrder         = []string{"model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"}
	openCLIPWeightOrder = []string{"open_clip_model.safetensors", "open_clip_pytorch_model.bin", "model.safetensors", "pytorch_model.bin"}
)

// choose picks the files freeseg needs from an API listing.
func choose(l *listing, repo, rev string) ([]*fileSpec, error) {
	var out []*fileSpec
	openCLIP := l.Files["open_clip_config.json"] != nil
	for _, n := range []string{"config.json", "open_clip_config.json"} {
		if f := l.Files[n]; f != nil {
			out = append(out, f)
		}
	}
	order := weightOrder
	if openCLIP {
		order = openCLIPWeightOrder
	}
	var weights *fileSpec
	for _, n := range order {
		if f := l.Files[n]; f != nil {
			weights = f
			break
		}
	}
	if weights == nil {
		names := make([]string, 0, len(l.Files))
		for n := range l.Files {
			names = append(names, n)
		}
		return nil, fmt.Errorf("%w: %s@%s has no CLIP checkpoint freeseg reads (looked for %s; it holds %s)",
			ErrNotFound, repo, rev, strings.Join(weightOrder, ", "), strings.Join(sortedStrings(names), ", "))
	}
	out = append(out, weights)
	if v, m := l.Files["vocab.json"], l.Files["merges.txt"]; v != nil && m != nil {
		out = append(out, v, m)
	}
	return out, nil
}

func sortedStrings(s []string) []string {
	sort.Strings(s)
	return s
}

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
