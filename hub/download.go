package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
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
