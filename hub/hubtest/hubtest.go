// Package hubtest is a fake Hugging Face Hub for tests: an httptest server
// with the models API and the resolve endpoint, whose LFS files redirect to
// a second server standing for the CDN. Faults (a connection cut half-way,
// corrupt bytes, a wrong advertised size, a CDN that ignores Range, an
// error status) can be injected per file, and every request is logged.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// File is one file of a repository.
type File struct {
	Name string
	Data []byte
	LFS  bool // served by a redirect to the CDN, with X-Linked-Etag/Size
}

// Repo is a model repository.
type Repo struct {
	ID      string // "org/name"
	Commit  string // 40 hex digits; derived from ID when empty
	Files   []File
	Private bool // needs Server.Token (401 otherwise)
	Gated   bool // resolve answers 403 GatedRepo even with a token
}

// Fault changes how one file (by name, in any repository) is served.
type Fault struct {
	CutAfter      int64 // CDN or hub: send this many body bytes, then drop the connection
	Corrupt       bool  // change one byte of the body (the size stays)
	IgnoreRange   bool  // answer a Range request with 200 and the whole file
	AdvertiseSize int64 // hub: X-Linked-Size to state instead of the true size (0: true size)
	Status        int   // hub: answer resolve with this status
	CDNStatus     int   // CDN: answer with this status
	PauseAfter    int64 // with Pause: send this many body bytes, then wait
	Pause         time.Duration
	Times         int // the fault applies to this many responses, then clears (0: always)
}

// Request is one logged request.
type Request struct {
	Server string // "hub" or "cdn"
	Method string
	Path   string // escaped path
	Query  string
	Auth   string // Authorization header
	Range  string // Range header
	Agent  string // User-Agent
}

// Server is the fake hub.
type Server struct {
	URL    string // the endpoint (HF_ENDPOINT)
	CDNURL string
	Token  string // the token private repositories accept
	// NoAPI makes the models API answer 404 without X-Error-Code, like a
	// bare mirror.
	NoAPI bool

	mu     sync.Mutex
	repos  map[string]*Repo
	blobs  map[string]blob
	faults map[string]*Fault
	log    []Request

	hub, cdn *httptest.Server
}

type blob struct {
	name string
	data []byte
}

// New starts a fake hub (closed when the test ends).
func New(t testing.TB, repos ...Repo) *Server {
	s := &Server{repos: map[string]*Repo{}, blobs: map[string]blob{}, faults: map[string]*Fault{}}
	s.hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.cdn = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	s.URL, s.CDNURL = s.hub.URL, s.cdn.URL
	// The CDN is reached as "localhost", the hub as 127.0.0.1: different
	// hosts, as on the real hub.
	if u, err := url.Parse(s.cdn.URL); err == nil {
		s.CDNURL = "http://localhost:" + u.Port()
	}
	t.Cleanup(func() {
		s.hub.CloseClientConnections()
		s.cdn.CloseClientConnections()
		s.hub.Close()
		s.cdn.Close()
	})
	for _, r := range repos {
		s.AddRepo(r)
	}
	return s
}

// AddRepo adds or replaces a repository.
func (s *Server) AddRepo(r Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Commit == "" {
		sum := sha1.Sum([]byte("commit " + r.ID))
		r.Commit = hex.EncodeToString(sum[:])
	}
	for _, f := range r.Files {
		if f.LFS {
			s.blobs[sha256Hex(f.Data)] = blob{f.Name, f.Data}
		}
	}
	rr := r
	s.repos[r.ID] = &rr
}

// SetFault sets (or with a zero Fault clears) the fault of a file name.
func (s *Server) SetFault(name string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Fault{}) {
		delete(s.faults, name)
		return
	}
	s.faults[name] = &f
}

// fault returns the file's fault for one response and, with count, counts
// it against Times.
func (s *Server) fault(name string, count bool) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults[name]
	if f == nil {
		return Fault{}
	}
	out := *f
	if count && f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.faults, name)
		}
	}
	return out
}

// Requests returns the log so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Count counts logged requests of a server ("hub", "cdn" or "" for both)
// whose path contains part.
func (s *Server) Count(server, part string) int {
	n := 0
	for _, r := range s.Requests() {
		if (server == "" || r.Server == server) && strings.Contains(r.Path, part) {
			n++
		}
	}
	return n
}

func (s *Server) record(server string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), Range: r.Header.Get("Range"), Agent: r.Header.Get("User-Agent")})
}

// DirRepo makes a repository of the files of a folder: every regular file,
// LFS when larger than 64 kB or named in lfs.
func DirRepo(t testing.TB, id, dir string, lfs ...string) Repo {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := Repo{ID: id}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		isLFS := len(b) > 64<<10
		for _, n := range lfs {
			isLFS = isLFS || n == e.Name()
		}
		r.Files = append(r.Files, File{Name: e.Name(), Data: b, LFS: isLFS})
	}
	return r
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	if msg != "" {
		w.Header().Set("X-Error-Message", msg)
	}
	http.Error(w, msg, status)
}

// authorized applies the private-repository rule.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, repo *Repo) bool {
	if repo.Private && r.Header.Get("Authorization") != "Bearer "+s.Token {
		hubError(w, http.StatusUnauthorized, "", "Invalid username or password.")
		return false
	}
	return true
}

func (s *Server) repo(id string) *Repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.repos[id]
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	// /api/models/{org}/{name}/revision/{rev}
	if len(parts) == 6 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision" {
		if s.NoAPI {
			http.NotFound(w, r)
			return
		}
		s.serveAPI(w, r, parts[2]+"/"+parts[3], unescape(parts[5]))
		return
	}
	// /{org}/{name}/resolve/{rev}/{file}
	if len(parts) == 5 && parts[2] == "resolve" {
		s.serveResolve(w, r, parts[0]+"/"+parts[1], unescape(parts[3]), unescape(parts[4]))
		return
	}
	http.NotFound(w, r)
}

func unescape(s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return u
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, id, rev string) {
	repo := s.repo(id)
	if repo == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return
	}
	if !s.authorized(w, r, repo) {
		return
	}
	if rev != "main" && rev != repo.Commit {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	type lfs struct {
		SHA256      string `json:"sha256"`
		Size        int    `json:"size"`
		PointerSize int    `json:"pointerSize"`
	}
	type sibling struct {
		Name   string `json:"rfilename"`
		Size   *int   `json:"size,omitempty"`
		BlobID string `json:"blobId,omitempty"`
		LFS    *lfs   `json:"lfs,omitempty"`
	}
	info := struct {
		ID       string    `json:"id"`
		ModelID  string    `json:"modelId"`
		SHA      string    `json:"sha"`
		Private  bool      `json:"private"`
		Siblings []sibling `json:"siblings"`
	}{ID: id, ModelID: id, SHA: repo.Commit, Private: repo.Private, Siblings: []sibling{}}
	for _, f := range repo.Files {
		sb := sibling{Name: f.Name}
		if blobs {
			n := len(f.Data)
			sb.Size, sb.BlobID = &n, gitBlobSHA1(f.Data)
			if f.LFS {
				sb.LFS = &lfs{SHA256: sha256Hex(f.Data), Size: n, PointerSize: 134}
			}
		}
		info.Siblings = append(info.Siblings, sb)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info)
}

func (s *Server) serveResolve(w http.ResponseWriter, r *http.Request, id, rev, name string) {
	repo := s.repo(id)
	if repo == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return
	}
	if !s.authorized(w, r, repo) {
		return
	}
	if repo.Gated {
		hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+id+" is restricted.")
		return
	}
	if rev != "main" && rev != repo.Commit {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	var file *File
	for i := range repo.Files {
		if repo.Files[i].Name == name {
			file = &repo.Files[i]
		}
	}
	if file == nil {
		w.Header().Set("X-Repo-Commit", repo.Commit)
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	// The response that applies the fault counts it: for an LFS file the
	// CDN's, unless the hub answers with an error itself.
	f := s.fault(name, false)
	if f.Status != 0 || !file.LFS {
		f = s.fault(name, true)
	}
	if f.Status != 0 {
		hubError(w, f.Status, "", http.StatusText(f.Status))
		return
	}
	w.Header().Set("X-Repo-Commit", repo.Commit)
	if !file.LFS {
		w.Header().Set("ETag", `"`+gitBlobSHA1(file.Data)+`"`)
		serveBytes(w, r, file.Data, f)
		return
	}
	sum := sha256Hex(file.Data)
	size := int64(len(file.Data))
	if f.AdvertiseSize != 0 {
		size = f.AdvertiseSize
	}
	w.Header().Set("ETag", `"`+sum+`"`)
	w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
	w.Header().Set("X-Linked-Size", strconv.FormatInt(size, 10))
	w.Header().Set("Location", s.CDNURL+"/blobs/"+sum+"?name="+url.QueryEscape(name))
	w.WriteHeader(http.StatusFound)
	fmt.Fprint(w, "Found. Redirecting")
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	sum := strings.TrimPrefix(r.URL.Path, "/blobs/")
	s.mu.Lock()
	b, ok := s.blobs[sum]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	f := s.fault(b.name, true)
	if f.CDNStatus != 0 {
		http.Error(w, "AccessDenied", f.CDNStatus)
		return
	}
	serveBytes(w, r, b.data, f)
}

// serveBytes serves data with "bytes=N-" Range support and the fault.
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte, f Fault) {
	if f.Corrupt && len(data) > 0 {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	status, body := http.StatusOK, data
	if rg := r.Header.Get("Range"); rg != "" && !f.IgnoreRange {
		start, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || !strings.HasPrefix(rg, "bytes=") || !strings.HasSuffix(rg, "-") {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if start >= int64(len(data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status, body = http.StatusPartialContent, data[start:]
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(data)-1, len(data)))
	}
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if f.Pause > 0 && f.PauseAfter < int64(len(body)) {
		w.Write(body[:f.PauseAfter])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		select {
		case <-time.After(f.Pause):
		case <-r.Context().Done():
			return
		}
		body = body[f.PauseAfter:]
		f.CutAfter -= f.PauseAfter
	}
	if f.CutAfter > 0 && f.CutAfter < int64(len(body)) {
		w.Write(body[:f.CutAfter])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler) // drops the connection mid-body
	}
	w.Write(body)
}
