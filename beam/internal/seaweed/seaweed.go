// Package seaweed starts a real S3-compatible server, SeaweedFS, for the
// tests of freeseg's object-storage path. The weed binary is built once
// from the module proxy and cached between runs.
package seaweed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Module is the SeaweedFS version the tests use.
const Module = "github.com/seaweedfs/seaweedfs@v0.0.0-20261109003541-7506e5f91cd6"

// CachedPath is where the binary is kept between runs: $FREESEG_WEED if
// set, else under the user cache folder ($XDG_CACHE_HOME or ~/.cache).
func CachedPath() string {
	if p := os.Getenv("FREESEG_WEED"); p != "" {
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "freeseg-test", "weed-7506e5f91cd6")
}

var build struct {
	sync.Mutex
}

// Build makes the weed binary at path: `go install` refuses the module
// (it has replace directives), so the module is downloaded, copied to a
// writable folder and built there.
func Build(path string) error {
	build.Lock()
	defer build.Unlock()
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	work, err := os.MkdirTemp("", "weed-build")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	dl := exec.Command("go", "mod", "download", "-json", Module)
	dl.Dir = work
	dl.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := dl.Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %v", Module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return fmt.Errorf("go mod download %s: %s %v", Module, info.Error, err)
	}
	src := filepath.Join(work, "src")
	if out, err := exec.Command("cp", "-r", info.Dir, src).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s: %v %s", info.Dir, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod: %v %s", err, out)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	b := exec.Command("go", "build", "-o", tmp, "./weed")
	b.Dir = src
	b.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := b.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./weed: %v\n%s", err, out)
	}
	return os.Rename(tmp, path)
}

// Server is a running weed server with its S3 gateway.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
}

// freePorts finds n ports p free together with p+10000 (weed's gRPC
// ports are the HTTP port + 10000).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < n && tries < 200; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		if p+10000 > 65535 {
			l.Close()
			continue
		}
		g, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			l.Close()
			continue
		}
		ls = append(ls, l, g)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("no free ports")
	}
	return ports, nil
}

// Start builds (or finds) weed and runs `weed server -s3` on 127.0.0.1
// with anonymous access, stopped when the test ends. The test is skipped,
// with the reason, only when the binary cannot be built.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := CachedPath()
	if err := Build(bin); err != nil {
		t.Skipf("SeaweedFS cannot be built here, so the S3 test is skipped (run .ci/beam, or set FREESEG_WEED to a weed binary): %v", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "-dir="+dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+strconv.Itoa(ports[0]), "-volume.port="+strconv.Itoa(ports[1]),
		"-filer", "-filer.port="+strconv.Itoa(ports[2]), "-s3", "-s3.port="+strconv.Itoa(ports[3]),
		"-master.volumeSizeLimitMB=64", "-volume.max=64")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting weed: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("weed server log (last 4 kB):\n%s", tail(logs.Bytes(), 4096))
		}
	})
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", ports[3])}
	// Ready when a bucket can be made and an object written.
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := s.MakeBucket("ready")
		if err == nil {
			if err = s.put("ready", "probe", []byte("ok")); err == nil {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("weed server exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("weed server not ready after 90 s: %v\n%s", err, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	return s
}

// MakeBucket creates a bucket (anonymous PUT /bucket).
func (s *Server) MakeBucket(name string) error {
	return s.put(name, "", nil)
}

func (s *Server) put(bucket, key string, data []byte) error {
	url := s.Endpoint + "/" + bucket
	if key != "" {
		url += "/" + key
	}
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusConflict {
		return fmt.Errorf("PUT %s: %s", url, resp.Status)
	}
	return nil
}

// Env sets the variables with which the AWS SDK (and so Beam's s3
// filesystem) talks to the server.
func (s *Server) Env(t testing.TB) {
	t.Setenv("AWS_ENDPOINT_URL", s.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_S3", s.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "freeseg")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "freeseg-test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
