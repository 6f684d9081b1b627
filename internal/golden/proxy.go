package golden

import (
	"sync"
	"testing"

	"github.com/freeseg/freeseg/weights"
)

var (
	proxyOnce sync.Once
	proxy     *weights.File
	proxyErr  error
)

// Proxy returns one tensor of proxyclip/golden_proxy.safetensors (the
// ProxyCLIP reference outputs), read once per test binary.
func Proxy(t testing.TB, key string) *weights.Tensor {
	t.Helper()
	p := Path(t, "proxyclip", "golden_proxy.safetensors")
	proxyOnce.Do(func() { proxy, proxyErr = weights.ReadSafetensors(p) })
	if proxyErr != nil {
		t.Fatalf("reading golden data: %v", proxyErr)
	}
	x, ok := proxy.Tensors[key]
	if !ok {
		t.Fatalf("golden key %q not found", key)
	}
	return x
}
