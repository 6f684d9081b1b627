package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/hub/hubtest"
	"github.com/freeseg/freeseg/internal/golden"
)

func init() {
	retryBackoff = time.Millisecond
	lockPoll = 10 * time.Millisecond
}

// fakeModel is a small repository in the layout of openai/clip-vit-*: the
// weights are random bytes (pulling does not parse them), and files
// freeseg does not need are there too.
func fakeModel(id string, weightSize int) hubtest.Repo {
	rng := rand.New(rand.NewSource(int64(len(id)) + int64(weightSize)))
	w := make([]byte, weightSize)
	rng.Read(w)
	return hubtest.Repo{ID: id, Files: []hubtest.File{
		{Name: ".gitattributes", Data: []byte("*.bin filter=lfs\n")},
		{Name: "README.md", Data: []byte("# fake\n")},
		{Name: "config.json", Data: []byte(`{"model_type": "clip"}`)},
		{Name: "model.safetensors", Data: w, LFS: true},
		{Name: "pytorch_model.bin", Data: []byte("not wanted: model.safetensors is there"), LFS: true},
		{Name: "tf_model.h5", Data: []byte("not wanted"), LFS: true},
		{Name: "vocab.json", Data: []byte(`{"a": 0}`)},
		{Name: "merges.txt", Data: []byte("#version: 0.2\n")},
		{Name: "tokenizer.json", Data: []byte(`{}`)},
	}}
}

func fileData(r hubtest.Repo, name string) []byte {
	for _, f := range r.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

func testOptions(t *testing.T, s *hubtest.Server) (Options, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	return Options{Endpoint: s.URL, CacheDir: t.TempDir(), Progress: &syncWriter{w: &log}}, &log
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func checkFiles(t *testing.T, dir string, r hubtest.Repo, names ...string) {
	t.Helper()
	got := listDir(t, dir)
	want := append([]string(nil), names...)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%s holds %v, want %v", dir, got, want)
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, fileData(r, n)) {
			t.Errorf("%s: content differs from the hub's", n)
		}
	}
}

// noStaging checks that no staging folder or lock is left behind.
func noStaging(t *testing.T, cache, repo string) {
	t.Helper()
	d := newRepoCache(cache, repo).dir
	ents, _ := os.ReadDir(d)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".incomplete-") || strings.HasPrefix(e.Name(), ".lock-") {
			t.Errorf("left behind: %s", filepath.Join(d, e.Name()))
		}
	}
}

func TestPullFakeModel(t *testing.T) {
	r := fakeModel("openai/fake-clip", 300_000)
	s := hubtest.New(t, r)
	s.Token = "secret"
	opt, log := testOptions(t, s)
	opt.Token = "secret"
	dir, err := Pull(context.Background(), "openai/fake-clip", opt)
	if err != nil {
		t.Fatal(err)
	}
	commit := s.Requests()[0] // the API call
	if commit.Path != "/api/models/openai/fake-clip/revision/main" || commit.Query != "blobs=true" {
		t.Errorf("first request %+v, want the models API with blobs=true", commit)
	}
	want := filepath.Join(opt.CacheDir, "models", "openai--fake-clip")
	if filepath.Dir(dir) != want || !isCommit(filepath.Base(dir)) {
		t.Errorf("model folder %s, want %s/<commit>", dir, want)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	noStaging(t, opt.CacheDir, "openai/fake-clip")
	// Files come from the resolved commit; the token goes to the hub only.
	for _, q := range s.Requests() {
		if q.Server == "hub" && q.Auth != "Bearer secret" {
			t.Errorf("hub request %s without the token", q.Path)
		}
		if q.Server == "cdn" && q.Auth != "" {
			t.Errorf("the token was sent to the CDN: %s %q", q.Path, q.Auth)
		}
		if strings.Contains(q.Path, "/resolve/") && !strings.Contains(q.Path, "/resolve/"+filepath.Base(dir)+"/") {
			t.Errorf("%s: not at the commit", q.Path)
		}
		if !strings.HasPrefix(q.Agent, "freeseg") {
			t.Errorf("User-Agent %q", q.Agent)
		}
	}
	if n := s.Count("cdn", "/blobs/"); n != 1 {
		t.Errorf("%d CDN downloads, want 1 (model.safetensors)", n)
	}
	if !strings.Contains(log.String(), "model.safetensors  300.0 kB") {
		t.Errorf("no progress summary for model.safetensors in:\n%s", log)
	}
	// The ref main points at the commit; offline and Resolve find it
	// without the network.
	n := len(s.Requests())
	opt.Offline = true
	for _, id := range []string{"openai/fake-clip", "openai/fake-clip@main", "openai/fake-clip@" + filepath.Base(dir)} {
		if d, err := Resolve(context.Background(), id, opt); err != nil || d != dir {
			t.Errorf("offline Resolve(%s) = %q, %v; want %s", id, d, err, dir)
		}
	}
	opt.Offline = false
	if d, err := Resolve(context.Background(), "openai/fake-clip", opt); err != nil || d != dir {
		t.Errorf("Resolve = %q, %v", d, err)
	}
	if len(s.Requests()) != n {
		t.Errorf("Resolve of a cached model contacted the hub")
	}
	// Pull again: the API says the commit is cached; nothing is downloaded.
	if d, err := Pull(context.Background(), "openai/fake-clip", opt); err != nil || d != dir {
		t.Errorf("second Pull = %q, %v", d, err)
	}
	if got := s.Count("", "/resolve/"); got != 4 {
		t.Errorf("%d resolve requests after two pulls, want 4", got)
	}
}

func TestPullGoldenThenLoad(t *testing.T) {
	tiny := golden.Path(t, "tiny-clip")
	r := hubtest.DirRepo(t, "openai/tiny-clip", tiny)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	dir, err := Resolve(context.Background(), "openai/tiny-clip", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	m, err := clip.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := clip.Load(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config != ref.Config {
		t.Errorf("config %+v, want %+v", m.Config, ref.Config)
	}
	a, err := m.EncodeText([]string{"a photo of a cat."})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ref.EncodeText([]string{"a photo of a cat."})
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("text embedding differs at %d: %v vs %v", i, a[i], b[i])
		}
	}
}

func TestOpenCLIPRepoPrefersOpenCLIPWeights(t *testing.T) {
	r := hubtest.Repo{ID: "timm/vit_fake_clip.openai", Files: []hubtest.File{
		{Name: "config.json", Data: []byte(`{"architecture": "vit_fake"}`)},
		{Name: "open_clip_config.json", Data: []byte(`{"model_cfg": {}}`)},
		{Name: "model.safetensors", Data: []byte("timm image tower only"), LFS: true},
		{Name: "open_clip_model.safetensors", Data: []byte("the CLIP checkpoint"), LFS: true},
		{Name: "open_clip_pytorch_model.bin", Data: []byte("the same as torch"), LFS: true},
	}}
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	dir, err := Pull(context.Background(), r.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "open_clip_config.json", "open_clip_model.safetensors")
}

func TestPullWithoutAPIProbes(t *testing.T) {
	r := fakeModel("org/mirrored", 5000)
	s := hubtest.New(t, r)
	s.NoAPI = true
	opt, _ := testOptions(t, s)
	dir, err := Pull(context.Background(), "org/mirrored", opt)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "main" {
		t.Errorf("folder %s, want it named after the revision", dir)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	opt.Offline = true
	if d, err := Resolve(context.Background(), "org/mirrored", opt); err != nil || d != dir {
		t.Errorf("offline Resolve = %q, %v", d, err)
	}
}

func TestResumeAfterCut(t *testing.T) {
	r := fakeModel("org/cut", 200_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{CutAfter: 100_000, Times: 1})
	opt, _ := testOptions(t, s)
	opt.Retries = 0
	_, err := Pull(context.Background(), "org/cut", opt)
	if err == nil || !strings.Contains(err.Error(), "interrupted") || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("err = %v, want an interrupted download to resume", err)
	}
	rc := newRepoCache(opt.CacheDir, "org/cut")
	ents := listDir(t, rc.dir)
	for _, e := range ents {
		if isCommit(e) {
			t.Fatalf("a model folder %s exists after a failed pull", e)
		}
	}
	var partial string
	for _, e := range ents {
		if strings.HasPrefix(e, ".incomplete-") {
			partial = filepath.Join(rc.dir, e, "model.safetensors.partial")
		}
	}
	st, err := os.Stat(partial)
	if err != nil {
		t.Fatalf("no partial download: %v", err)
	}
	if st.Size() != 100_000 {
		t.Errorf("partial holds %d bytes, want 100000", st.Size())
	}
	if _, err := os.Stat(rc.lockPath(strings.TrimPrefix(filepath.Base(filepath.Dir(partial)), ".incomplete-"))); err == nil {
		t.Errorf("the lock was not released")
	}
	dir, err := Pull(context.Background(), "org/cut", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	var ranges []string
	for _, q := range s.Requests() {
		if q.Server == "cdn" {
			ranges = append(ranges, q.Range)
		}
	}
	if len(ranges) != 2 || ranges[0] != "" || ranges[1] != "bytes=100000-" {
		t.Errorf("CDN Range headers %q, want a full download then bytes=100000-", ranges)
	}
	noStaging(t, opt.CacheDir, "org/cut")
}

func TestResumeWithinOnePull(t *testing.T) {
	r := fakeModel("org/flaky", 150_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{CutAfter: 60_000, Times: 2})
	opt, log := testOptions(t, s)
	opt.Retries = 3
	dir, err := Pull(context.Background(), "org/flaky", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	var ranges []string
	for _, q := range s.Requests() {
		if q.Server == "cdn" {
			ranges = append(ranges, q.Range)
		}
	}
	if strings.Join(ranges, ",") != ",bytes=60000-,bytes=120000-" {
		t.Errorf("CDN Range headers %q", ranges)
	}
	if !strings.Contains(log.String(), "resuming (retry 1 of 3)") {
		t.Errorf("no retry note in:\n%s", log)
	}
}

func TestResumeWhenServerIgnoresRange(t *testing.T) {
	r := fakeModel("org/norange", 80_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{CutAfter: 30_000, Times: 1})
	opt, _ := testOptions(t, s)
	opt.Retries = 0
	if _, err := Pull(context.Background(), "org/norange", opt); err == nil {
		t.Fatal("no error from a cut download")
	}
	s.SetFault("model.safetensors", hubtest.Fault{IgnoreRange: true})
	dir, err := Pull(context.Background(), "org/norange", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
}

func TestCorruptDownload(t *testing.T) {
	r := fakeModel("org/corrupt", 50_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{Corrupt: true})
	opt, _ := testOptions(t, s)
	_, err := Pull(context.Background(), "org/corrupt", opt)
	if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("err = %v, want a sha256 mismatch", err)
	}
	rc := newRepoCache(opt.CacheDir, "org/corrupt")
	for _, e := range listDir(t, rc.dir) {
		if isCommit(e) {
			t.Errorf("model folder %s left after a corrupt download", e)
		}
		if strings.HasPrefix(e, ".incomplete-") {
			if _, err := os.Stat(filepath.Join(rc.dir, e, "model.safetensors.partial")); err == nil {
				t.Errorf("the corrupt partial file was kept")
			}
		}
		if strings.HasPrefix(e, ".lock-") {
			t.Errorf("lock left: %s", e)
		}
	}
	if _, ok := Cached("org/corrupt", opt); ok {
		t.Error("Cached reports a corrupt model")
	}
	s.SetFault("model.safetensors", hubtest.Fault{})
	dir, err := Pull(context.Background(), "org/corrupt", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
}

func TestSizeMismatch(t *testing.T) {
	r := fakeModel("org/size", 40_000)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	for _, adv := range []int64{39_000, 41_000} {
		s.SetFault("model.safetensors", hubtest.Fault{AdvertiseSize: adv})
		_, err := Pull(context.Background(), "org/size", opt)
		if !errors.Is(err, ErrIntegrity) || !strings.Contains(err.Error(), "size mismatch") {
			t.Errorf("advertised %d: err = %v, want a size mismatch", adv, err)
		}
		if _, ok := Cached("org/size", opt); ok {
			t.Errorf("advertised %d: a model folder exists", adv)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	s := hubtest.New(t,
		hubtest.Repo{ID: "org/private", Private: true, Files: fakeModel("x/y", 10).Files},
		hubtest.Repo{ID: "org/gated", Gated: true, Files: fakeModel("x/y", 10).Files},
		fakeModel("org/flaky", 1000),
	)
	s.Token = "good"
	ctx := context.Background()
	for _, tc := range []struct {
		id, token string
		is        error
		want      []string
	}{
		{"org/nothing", "", ErrNotFound, []string{"no such model or file", "has no model org/nothing"}},
		{"org/private@v9", "good", ErrNotFound, []string{"no such model or file", `no revision "v9"`}},
		{"org/private", "", ErrAccess, []string{"401", "HF_TOKEN", "private or gated"}},
		{"org/private", "bad", ErrAccess, []string{"401", "refused the token in HF_TOKEN"}},
		{"org/gated", "good", ErrAccess, []string{"403", "gated model", "HF_TOKEN"}},
	} {
		opt, _ := testOptions(t, s)
		opt.Token = tc.token
		_, err := Pull(ctx, tc.id, opt)
		if !errors.Is(err, tc.is) {
			t.Errorf("%s (token %q): err = %v, want %v", tc.id, tc.token, err, tc.is)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.id, err, w)
			}
		}
	}
	opt, _ := testOptions(t, s)
	// Resolve of an id that is neither a path nor on the hub says both.
	_, err := Resolve(ctx, "org/nothing", opt)
	if err == nil || !strings.Contains(err.Error(), "not a local file or folder") || !strings.Contains(err.Error(), "no such model or file") {
		t.Errorf("Resolve: %v", err)
	}
	// A file the listing names but resolve answers 404 for, and a 500 that
	// persists past the retries.
	s.SetFault("vocab.json", hubtest.Fault{Status: 404})
	if _, err := Pull(ctx, "org/flaky", opt); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no such model or file") {
		t.Errorf("404 file: %v", err)
	}
	s.SetFault("vocab.json", hubtest.Fault{Status: 503})
	opt.Retries = 1
	if _, err := Pull(ctx, "org/flaky", opt); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503: %v", err)
	}
	s.SetFault("vocab.json", hubtest.Fault{Status: 503, Times: 1})
	if _, err := Pull(ctx, "org/flaky", opt); err != nil {
		t.Errorf("a single 503 is retried: %v", err)
	}
	// An error of the CDN is retried through the hub.
	opt.CacheDir = t.TempDir()
	s.SetFault("model.safetensors", hubtest.Fault{CDNStatus: 403})
	if _, err := Pull(ctx, "org/flaky", opt); err == nil || !strings.Contains(err.Error(), "the download server http://localhost") {
		t.Errorf("CDN 403: %v", err)
	}
	s.SetFault("model.safetensors", hubtest.Fault{CDNStatus: 403, Times: 1})
	if _, err := Pull(ctx, "org/flaky", opt); err != nil {
		t.Errorf("a single CDN 403 is retried: %v", err)
	}
}

func TestTokenAndEndpointFromEnvironment(t *testing.T) {
	r := fakeModel("org/private", 20_000)
	r.Private = true
	s := hubtest.New(t, r)
	s.Token = "hf_env"
	cache := t.TempDir()
	t.Setenv("HF_ENDPOINT", s.URL+"/")
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("FREESEG_CACHE", cache)
	t.Setenv("FREESEG_OFFLINE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	opt := DefaultOptions()
	opt.Progress = nil
	if opt.endpoint() != s.URL || opt.Token != "hf_env" || opt.CacheDir != cache || opt.Offline || opt.Retries != 3 {
		t.Fatalf("DefaultOptions = %+v", opt)
	}
	dir, err := Resolve(context.Background(), "org/private", opt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, filepath.Join(cache, "models", "org--private")) {
		t.Errorf("folder %s is not under FREESEG_CACHE/models", dir)
	}
	for _, q := range s.Requests() {
		if (q.Server == "hub") != (q.Auth == "Bearer hf_env") {
			t.Errorf("%s %s: Authorization %q", q.Server, q.Path, q.Auth)
		}
	}
	for _, v := range []string{"FREESEG_OFFLINE", "HF_HUB_OFFLINE"} {
		t.Setenv(v, "1")
		if !DefaultOptions().Offline {
			t.Errorf("%s=1 does not set Offline", v)
		}
		t.Setenv(v, "")
	}
	t.Setenv("FREESEG_CACHE", "")
	if d := DefaultOptions().CacheDir; d != "" && filepath.Base(d) != "freeseg" {
		t.Errorf("default cache %s", d)
	}
}

func TestOffline(t *testing.T) {
	r := fakeModel("org/off", 1000)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	opt.Offline = true
	for _, f := range []func() error{
		func() error { _, err := Resolve(context.Background(), "org/off", opt); return err },
		func() error { _, err := Pull(context.Background(), "org/off", opt); return err },
	} {
		err := f()
		if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "offline") || !strings.Contains(err.Error(), "freeseg pull org/off") {
			t.Errorf("err = %v, want not cached", err)
		}
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("offline mode made %d requests", n)
	}
	opt.Offline = false
	dir, err := Pull(context.Background(), "org/off", opt)
	if err != nil {
		t.Fatal(err)
	}
	n := len(s.Requests())
	opt.Offline = true
	if d, err := Pull(context.Background(), "org/off", opt); err != nil || d != dir {
		t.Errorf("offline Pull = %q, %v", d, err)
	}
	if len(s.Requests()) != n {
		t.Error("offline Pull contacted the hub")
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	opt := Options{Endpoint: "http://" + addr, CacheDir: t.TempDir()}
	_, err = Resolve(context.Background(), "openai/clip-vit-base-patch16", opt)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	for _, w := range []string{"cannot reach http://" + addr, "--offline", "HF_ENDPOINT"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}

func TestConcurrentPulls(t *testing.T) {
	r := fakeModel("org/both", 2_000_000)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]error, 4)
	for i := range dirs {
		wg.Go(func() { dirs[i], errs[i] = Pull(context.Background(), "org/both", opt) })
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Errorf("pull %d gave %s, pull 0 %s", i, dirs[i], dirs[0])
		}
	}
	checkFiles(t, dirs[0], r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	if n := s.Count("cdn", "/blobs/"); n != 1 {
		t.Errorf("the weights were downloaded %d times, want once", n)
	}
	noStaging(t, opt.CacheDir, "org/both")
}

func TestStaleLock(t *testing.T) {
	r := fakeModel("org/stale", 1000)
	s := hubtest.New(t, r)
	opt, log := testOptions(t, s)
	commit := func() string {
		s2 := hubtest.New(t, r) // the same commit, derived from the id
		o, _ := testOptions(t, s2)
		d, err := Pull(context.Background(), "org/stale", o)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Base(d)
	}()
	rc := newRepoCache(opt.CacheDir, "org/stale")
	os.MkdirAll(rc.dir, 0o755)
	old := lockStale
	lockStale = 300 * time.Millisecond
	defer func() { lockStale = old }()
	// A lock of a process on another host that never refreshes it.
	os.WriteFile(rc.lockPath(commit), []byte("12345 some-other-host abc\n"), 0o644)
	start := time.Now()
	if _, err := Pull(context.Background(), "org/stale", opt); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("the lock was broken after %s, before it was stale", el)
	}
	if !strings.Contains(log.String(), "waiting for another download") {
		t.Errorf("no waiting note in:\n%s", log)
	}
}

func TestDeadHolderLock(t *testing.T) {
	const deadPid = 1<<22 + 12345 // above Linux's largest pid
	if processAlive(deadPid) {
		t.Skip("cannot tell dead processes here")
	}
	r := fakeModel("org/dead", 1000)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	l, err := listForTest(s, "org/dead")
	if err != nil {
		t.Fatal(err)
	}
	rc := newRepoCache(opt.CacheDir, "org/dead")
	os.MkdirAll(rc.dir, 0o755)
	os.WriteFile(rc.lockPath(l.Commit), []byte(fmt.Sprintf("%d %s abc\n", deadPid, hostName())), 0o644)
	done := make(chan error, 1)
	go func() { _, err := Pull(context.Background(), "org/dead", opt); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pull waited for the lock of a dead process")
	}
}

func listForTest(s *hubtest.Server, repo string) (*listing, error) {
	c, err := newClient(Options{Endpoint: s.URL})
	if err != nil {
		return nil, err
	}
	return c.list(context.Background(), repo, "main")
}

func TestCancelKeepsPartialAndReleasesLock(t *testing.T) {
	r := fakeModel("org/cancel", 100_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{CutAfter: 50_000, Times: 1})
	opt, _ := testOptions(t, s)
	opt.Retries = 5
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	opt.Progress = writerFunc(func(p []byte) {
		if strings.Contains(string(p), "resuming") {
			once.Do(cancel)
		}
	})
	if _, err := Pull(ctx, "org/cancel", opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	noStagingLock(t, opt.CacheDir, "org/cancel")
	opt.Progress = nil
	dir, err := Pull(context.Background(), "org/cancel", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
}

func noStagingLock(t *testing.T, cache, repo string) {
	t.Helper()
	d := newRepoCache(cache, repo).dir
	ents, _ := os.ReadDir(d)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".lock-") {
			t.Errorf("lock left: %s", e.Name())
		}
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestResolvePassesPathsThrough(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "model.safetensors")
	os.WriteFile(file, []byte("x"), 0o644)
	opt := Options{Endpoint: "http://127.0.0.1:1", CacheDir: t.TempDir()} // unreachable: paths must not need it
	for _, p := range []string{dir, file} {
		if got, err := Resolve(context.Background(), p, opt); err != nil || got != p {
			t.Errorf("Resolve(%s) = %q, %v", p, got, err)
		}
	}
	// A relative path that exists, even one shaped like an id.
	t.Chdir(dir)
	os.MkdirAll("org/name", 0o755)
	for _, p := range []string{"org/name", "model.safetensors"} {
		if got, err := Resolve(context.Background(), p, opt); err != nil || got != p {
			t.Errorf("Resolve(%s) = %q, %v", p, got, err)
		}
	}
	for _, p := range []string{"./missing", "missing.safetensors", "a/b/c", "/no/such/model", "org/x.bin"} {
		_, err := Resolve(context.Background(), p, opt)
		if err == nil || !strings.Contains(err.Error(), "no such file or folder") {
			t.Errorf("Resolve(%s): %v, want no such file or folder", p, err)
		}
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct{ in, repo, rev string }{
		{"openai/clip-vit-base-patch16", "openai/clip-vit-base-patch16", ""},
		{"timm/vit_base_patch16_clip_224.openai", "timm/vit_base_patch16_clip_224.openai", ""},
		{"openai/clip-vit-large-patch14-336@main", "openai/clip-vit-large-patch14-336", "main"},
		{"org/m@refs/pr/1", "org/m", "refs/pr/1"},
		{"org/m@0123456789abcdef0123456789abcdef01234567", "org/m", "0123456789abcdef0123456789abcdef01234567"},
	} {
		repo, rev, err := ParseID(tc.in)
		if err != nil || repo != tc.repo || rev != tc.rev {
			t.Errorf("ParseID(%q) = %q, %q, %v", tc.in, repo, rev, err)
		}
	}
	for _, bad := range []string{"", "openai", "a/b/c", "/abs", "./x/y", "org/-x", "org/x-", "org/a--b", "org/a..b",
		"org/m@", "org/m@../x", "org/m@.hidden", "org/m@a b", "org/model.safetensors", `org\m`, "org/m@x/"} {
		if IsID(bad) {
			t.Errorf("IsID(%q) = true", bad)
		}
	}
	for _, m := range Known {
		if !IsID(m.ID) || m.Description == "" {
			t.Errorf("Known entry %+v", m)
		}
	}
	if !IsID(DefaultModel) || Known[0].ID != DefaultModel {
		t.Errorf("DefaultModel %s", DefaultModel)
	}
	if _, err := revisionOf("v1", Options{Revision: "v2"}); err == nil {
		t.Error("two different revisions accepted")
	}
}

func TestRevisionFolders(t *testing.T) {
	r := fakeModel("org/revs", 1000)
	s := hubtest.New(t, r)
	opt, _ := testOptions(t, s)
	opt.Revision = "main"
	dir, err := Pull(context.Background(), "org/revs", opt)
	if err != nil {
		t.Fatal(err)
	}
	commit := filepath.Base(dir)
	opt.Revision = ""
	if d, err := Pull(context.Background(), "org/revs@"+commit, opt); err != nil || d != dir {
		t.Errorf("Pull @commit = %q, %v", d, err)
	}
	if _, err := Pull(context.Background(), "org/revs@nope", opt); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown revision: %v", err)
	}
}

// TestHelperPull is not a test: TestConcurrentProcesses runs the test
// binary as separate processes that each pull one model.
func TestHelperPull(t *testing.T) {
	id := os.Getenv("HUB_HELPER_PULL")
	if id == "" {
		t.Skip("helper process only")
	}
	opt := DefaultOptions()
	opt.Progress = nil
	dir, err := Pull(context.Background(), id, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("DIR=" + dir)
	os.Exit(0)
}

func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	r := fakeModel("org/procs", 4_000_000)
	s := hubtest.New(t, r)
	cache := t.TempDir()
	cmds := make([]*exec.Cmd, 3)
	outs := make([]*bytes.Buffer, len(cmds))
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPull$")
		cmd.Env = append(os.Environ(), "HUB_HELPER_PULL=org/procs", "HF_ENDPOINT="+s.URL, "FREESEG_CACHE="+cache,
			"HF_TOKEN=", "FREESEG_OFFLINE=", "HF_HUB_OFFLINE=")
		outs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	var dirs []string
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
		_, d, ok := strings.Cut(outs[i].String(), "DIR=")
		if !ok {
			t.Fatalf("process %d printed %q", i, outs[i])
		}
		dirs = append(dirs, strings.TrimSpace(d))
	}
	for _, d := range dirs {
		if d != dirs[0] {
			t.Errorf("folders %q differ", dirs)
		}
	}
	checkFiles(t, dirs[0], r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	if n := s.Count("cdn", "/blobs/"); n != 1 {
		t.Errorf("the weights were downloaded %d times by %d processes, want once", n, len(cmds))
	}
	noStaging(t, cache, "org/procs")
}

func TestStalledTransferResumes(t *testing.T) {
	old := stallTimeout
	stallTimeout = 100 * time.Millisecond
	defer func() { stallTimeout = old }()
	r := fakeModel("org/stall", 50_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{PauseAfter: 20_000, Pause: 5 * time.Second, Times: 1})
	opt, log := testOptions(t, s)
	opt.Retries = 1
	dir, err := Pull(context.Background(), "org/stall", opt)
	if err != nil {
		t.Fatal(err)
	}
	checkFiles(t, dir, r, "config.json", "model.safetensors", "vocab.json", "merges.txt")
	if !strings.Contains(log.String(), "stalled: less than 1 KiB received in 100ms") {
		t.Errorf("no stall note in:\n%s", log)
	}
	if n := s.Count("cdn", "/blobs/"); n != 2 {
		t.Errorf("%d CDN requests, want 2", n)
	}
}

func TestLostLockStopsTheDownload(t *testing.T) {
	oldBeat := lockBeat
	lockBeat = 20 * time.Millisecond
	defer func() { lockBeat = oldBeat }()
	r := fakeModel("org/steal", 50_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{PauseAfter: 10_000, Pause: 5 * time.Second, Times: 1})
	opt, _ := testOptions(t, s)
	l, err := listForTest(s, "org/steal")
	if err != nil {
		t.Fatal(err)
	}
	lock := newRepoCache(opt.CacheDir, "org/steal").lockPath(l.Commit)
	go func() {
		// Once the download holds the lock, another process takes it over.
		for range 200 {
			if b, err := os.ReadFile(lock); err == nil && len(b) > 0 && s.Count("cdn", "/blobs/") > 0 {
				os.WriteFile(lock, []byte("1 other-host x\n"), 0o644)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err = Pull(context.Background(), "org/steal", opt)
	if !errors.Is(err, errLockLost) {
		t.Fatalf("err = %v, want the lost-lock error", err)
	}
	if b, _ := os.ReadFile(lock); string(b) != "1 other-host x\n" {
		t.Errorf("the new holder's lock was removed or changed: %q", b)
	}
}

func TestConcurrentPullWaits(t *testing.T) {
	r := fakeModel("org/wait", 50_000)
	s := hubtest.New(t, r)
	s.SetFault("model.safetensors", hubtest.Fault{PauseAfter: 10_000, Pause: 300 * time.Millisecond, Times: 1})
	opt, log := testOptions(t, s)
	var wg sync.WaitGroup
	dirs := make([]string, 2)
	for i := range dirs {
		wg.Go(func() {
			var err error
			if dirs[i], err = Pull(context.Background(), "org/wait", opt); err != nil {
				t.Error(err)
			}
		})
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if dirs[0] == "" || dirs[0] != dirs[1] {
		t.Fatalf("folders %q", dirs)
	}
	if !strings.Contains(log.String(), "waiting for another download of org/wait") {
		t.Errorf("the second pull did not wait:\n%s", log)
	}
	if n := s.Count("cdn", "/blobs/"); n != 1 {
		t.Errorf("%d CDN downloads, want 1", n)
	}
}
