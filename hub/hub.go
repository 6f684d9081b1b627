// Package hub downloads CLIP models from the Hugging Face Hub into a local
// cache, so that a hub id such as "openai/clip-vit-base-patch16" works
// wherever a model folder does.
//
// Files come from {endpoint}/{org}/{name}/resolve/{commit}/{file}; the file
// list and the commit come from {endpoint}/api/models/{org}/{name}/revision/{rev}
// (or, where a mirror lacks that API, from probing the file names freeseg
// reads). Only what freeseg needs is downloaded: config.json, one checkpoint
// and vocab.json + merges.txt when the repository has them. Every LFS file
// is checked against the size and sha256 the hub states (X-Linked-Size,
// X-Linked-Etag, or the API's lfs fields).
//
// The cache (Options.CacheDir, by default $FREESEG_CACHE or the user cache
// folder + /freeseg) holds, under models/<org>--<name>/:
//
//	<commit>/                  a complete model folder (named after the revision where the commit is unknown)
//	.refs/<revision>           the folder a branch or tag resolved to at the last pull
//	.incomplete-<commit>/      a download in progress: finished files and <file>.partial
//	.lock-<commit>             held by the process that downloads
//
// A model folder only ever appears complete: files are downloaded and
// verified in the staging folder, which is then renamed into place.
// Interrupted downloads resume with a Range request. Concurrent pulls of the
// same model (goroutines or processes) wait for each other's lock; a lock
// whose owner died, or that has not been refreshed for a while, is broken.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// DefaultModel is the model used when none is named.
const DefaultModel = "openai/clip-vit-base-patch16"

// DefaultRevision is the branch pulled when none is named.
const DefaultRevision = "main"

// Model is a hub repository that freeseg is known to read.
type Model struct {
	ID          string
	Description string
}

// Known lists the supported models (any ViT CLIP repository in the Hugging
// Face or open_clip layout works; these are the tested ones). Sizes are of
// the float32 checkpoint.
var Known = []Model{
	{"openai/clip-vit-base-patch16", "OpenAI CLIP ViT-B/16, 224 px, ~600 MB (the default)"},
	{"openai/clip-vit-base-patch32", "OpenAI CLIP ViT-B/32, 224 px, ~605 MB"},
	{"openai/clip-vit-large-patch14", "OpenAI CLIP ViT-L/14, 224 px, ~1.7 GB"},
	{"openai/clip-vit-large-patch14-336", "OpenAI CLIP ViT-L/14@336, 336 px, ~1.7 GB"},
	{"timm/vit_base_patch16_clip_224.openai", "OpenAI ViT-B/16 in open_clip's format (open_clip_model.safetensors), ~600 MB"},
	{"timm/vit_base_patch32_clip_224.openai", "OpenAI ViT-B/32 in open_clip's format, ~605 MB"},
	{"timm/vit_large_patch14_clip_224.openai", "OpenAI ViT-L/14 in open_clip's format, ~1.7 GB"},
	{"timm/vit_large_patch14_clip_336.openai", "OpenAI ViT-L/14@336 in open_clip's format, ~1.7 GB"},
	{"laion/CLIP-ViT-B-16-laion2B-s34B-b88K", "open_clip ViT-B/16 trained on LAION-2B (exact GELU), ~600 MB"},
	{"laion/CLIP-ViT-H-14-laion2B-s32B-b79K", "open_clip ViT-H/14 trained on LAION-2B (exact GELU, 16 heads of 80), ~3.9 GB"},
	{"facebook/dino-vitb8", "DINO ViT-B/8, the vision foundation model of --method proxyclip (--vfm default), ~350 MB"},
	{"facebook/dino-vitb16", "DINO ViT-B/16, a faster --vfm for proxyclip, ~350 MB"},
}

func known(repo string) bool {
	for _, m := range Known {
		if m.ID == repo {
			return true
		}
	}
	return false
}

// Options configure where models come from and where they are kept.
type Options struct {
	// Endpoint is the hub's base URL (default DefaultEndpoint; HF_ENDPOINT).
	Endpoint string
	// Token is sent as "Authorization: Bearer" to the endpoint's host only,
	// never to the CDN it redirects to (HF_TOKEN).
	Token string
	// CacheDir is the cache base; models go under CacheDir/models
	// ($FREESEG_CACHE, else the user cache folder + /freeseg).
	CacheDir string
	// Revision is the branch, tag or commit (default "main"); an id's
	// "@revision" suffix overrides it.
	Revision string
	// Offline uses the cache only (FREESEG_OFFLINE=1 or HF_HUB_OFFLINE=1).
	Offline bool
	// Progress receives progress bars and notes; nil for silence.
	Progress io.Writer
	// Client does the HTTP requests (nil: proxy settings from the
	// environment). Its redirect policy is not used: redirects are followed
	// here, so that the token is not sent to other hosts.
	Client *http.Client
	// Retries is how many times a broken transfer is resumed within one pull
	// (DefaultOptions: 3).
	Retries int
	// StallTimeout aborts a transfer attempt (which a retry then resumes
	// from the partial file) when less than 1 KiB arrived in that long: a
	// server trickling a byte every few seconds counts as stalled
	// (0: 60 seconds).
	StallTimeout time.Duration
}

// DefaultOptions reads the environment: HF_ENDPOINT, HF_TOKEN,
// FREESEG_CACHE, FREESEG_OFFLINE and HF_HUB_OFFLINE. Progress goes to
// stderr.
func DefaultOptions() Options {
	return Options{
		Endpoint: os.Getenv("HF_ENDPOINT"),
		Token:    strings.TrimSpace(os.Getenv("HF_TOKEN")),
		CacheDir: defaultCacheDir(),
		Offline:  envTrue("FREESEG_OFFLINE") || envTrue("HF_HUB_OFFLINE"),
		Progress: os.Stderr,
		Retries:  3,
	}
}

// defaultCacheDir is $FREESEG_CACHE, else the user cache folder + /freeseg
// (the base that freeseg.DefaultCacheDir also uses).
func defaultCacheDir() string {
	if d := os.Getenv("FREESEG_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "freeseg")
	}
	return ""
}

func envTrue(name string) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(name))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func (o Options) endpoint() string {
	e := strings.TrimRight(strings.TrimSpace(o.Endpoint), "/")
	if e == "" {
		return DefaultEndpoint
	}
	return e
}

func (o Options) cacheBase() (string, error) {
	if o.CacheDir == "" {
		return "", errors.New("no cache folder: the user cache folder is unknown; set FREESEG_CACHE")
	}
	return o.CacheDir, nil
}

func (o Options) notef(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// Errors that the errors returned here match with errors.Is.
var (
	// ErrNotFound: the hub has no such model, revision or file (404).
	ErrNotFound = errors.New("no such model or file")
	// ErrAccess: the hub refused access (401 or 403).
	ErrAccess = errors.New("access denied")
	// ErrNotCached: offline, and the model is not in the cache.
	ErrNotCached = errors.New("model not in the cache")
	// ErrUnreachable: the hub (or its CDN) could not be reached.
	ErrUnreachable = errors.New("cannot reach the hub")
	// ErrIntegrity: a downloaded file does not match the hub's size or sha256.
	ErrIntegrity = errors.New("download does not match the hub's checksum")
)

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$`)
	revChars = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._/+-]*$`)
	pathExts = []string{".safetensors", ".bin", ".pt", ".pth", ".gz", ".json"}
)

// ParseID splits "org/name" or "org/name@revision" and validates both
// parts with the hub's naming rules. The revision is "" when not given.
func ParseID(s string) (repo, revision string, err error) {
	repo = s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		repo, revision = s[:i], s[i+1:]
		if err := checkRevision(revision); err != nil {
			return "", "", fmt.Errorf("hub id %q: %w", s, err)
		}
	}
	org, name, ok := strings.Cut(repo, "/")
	if !ok || !repoPart.MatchString(org) || !repoPart.MatchString(name) ||
		strings.Contains(repo, "--") || strings.Contains(repo, "..") {
		return "", "", fmt.Errorf("%q is not a hub id: want ORG/NAME or ORG/NAME@REVISION (letters, digits, '-', '_', '.'), e.g. %s", s, DefaultModel)
	}
	for _, ext := range pathExts {
		if strings.HasSuffix(strings.ToLower(name), ext) {
			return "", "", fmt.Errorf("%q looks like a file path, not a hub id", s)
		}
	}
	return repo, revision, nil
}

// IsID reports whether s is a well-formed hub id (see ParseID).
func IsID(s string) bool {
	_, _, err := ParseID(s)
	return err == nil
}

func checkRevision(rev string) error {
	if !revChars.MatchString(rev) || strings.Contains(rev, "..") || strings.HasSuffix(rev, "/") ||
		strings.Contains(rev, "//") || len(rev) > 255 {
		return fmt.Errorf("bad revision %q: want a branch, tag or commit", rev)
	}
	return nil
}

// revisionOf picks the revision of an id: its @suffix, else opt.Revision,
// else main.
func revisionOf(idRev string, opt Options) (string, error) {
	rev := idRev
	if rev == "" {
		rev = opt.Revision
	} else if opt.Revision != "" && opt.Revision != rev {
		return "", fmt.Errorf("two revisions given: @%s and %s", idRev, opt.Revision)
	}
	if rev == "" {
		rev = DefaultRevision
	}
	return rev, checkRevision(rev)
}

// Resolve turns a model argument into a local path. An existing file or
// folder is returned unchanged. A hub id ("org/name", "org/name@revision")
// gives its cached folder, pulled first if it is not in the cache (unless
// offline); a cached model is used without contacting the hub (Pull
// updates it). An empty idOrPath means DefaultModel.
func Resolve(ctx context.Context, idOrPath string, opt Options) (string, error) {
	if idOrPath == "" {
		idOrPath = DefaultModel
	}
	if _, err := os.Stat(idOrPath); err == nil {
		return idOrPath, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("model %s: %w", idOrPath, err)
	}
	repo, idRev, err := ParseID(idOrPath)
	if err != nil {
		return "", fmt.Errorf("model %s: no such file or folder, and not a hub id (like %s)", idOrPath, DefaultModel)
	}
	rev, err := revisionOf(idRev, opt)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", idOrPath, err)
	}
	base, err := opt.cacheBase()
	if err != nil {
		return "", err
	}
	c := newRepoCache(base, repo)
	if dir, ok := c.lookup(rev); ok {
		return dir, nil
	}
	if opt.Offline {
		return "", notCachedError(repo, rev, c.dir)
	}
	dir, err := pull(ctx, repo, rev, opt)
	if err != nil {
		if known(repo) || strings.Contains(idOrPath, "@") {
			return "", fmt.Errorf("model %s: %w", idOrPath, err)
		}
		// It could have been meant as a relative path.
		return "", fmt.Errorf("model %s: not a local file or folder, and as a hub id: %w", idOrPath, err)
	}
	return dir, nil
}

// Pull downloads a model (a hub id, "org/name" or "org/name@revision") into
// the cache unless the cache already holds its current commit, and returns
// the model folder. Offline, it returns the cached folder or ErrNotCached.
func Pull(ctx context.Context, id string, opt Options) (string, error) {
	repo, idRev, err := ParseID(id)
	if err != nil {
		return "", err
	}
	rev, err := revisionOf(idRev, opt)
	if err != nil {
		return "", fmt.Errorf("%s: %w", id, err)
	}
	base, err := opt.cacheBase()
	if err != nil {
		return "", err
	}
	if opt.Offline {
		if dir, ok := newRepoCache(base, repo).lookup(rev); ok {
			return dir, nil
		}
		return "", notCachedError(repo, rev, newRepoCache(base, repo).dir)
	}
	return pull(ctx, repo, rev, opt)
}

// Cached returns the cached folder of a hub id without contacting the hub.
func Cached(id string, opt Options) (string, bool) {
	repo, idRev, err := ParseID(id)
	if err != nil {
		return "", false
	}
	rev, err := revisionOf(idRev, opt)
	if err != nil {
		return "", false
	}
	base, err := opt.cacheBase()
	if err != nil {
		return "", false
	}
	return newRepoCache(base, repo).lookup(rev)
}

func notCachedError(repo, rev, dir string) error {
	return fmt.Errorf("%w: %s@%s is not in %s and offline mode is on (--offline, FREESEG_OFFLINE or HF_HUB_OFFLINE); run 'freeseg pull %s' with network access first",
		ErrNotCached, repo, rev, dir, repo)
}
