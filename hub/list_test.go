package hub

import (
	"strings"
	"testing"
)

func TestWriteListAndWhere(t *testing.T) {
	opt := Options{CacheDir: t.TempDir(), Endpoint: "http://hub.example"}
	var b strings.Builder
	if err := WriteList(&b, opt); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(Known) {
		t.Fatalf("%d lines for %d models:\n%s", len(lines), len(Known), b.String())
	}
	for i, m := range Known {
		// An empty cache marks nothing cached.
		if !strings.HasPrefix(lines[i], m.ID+" ") || !strings.HasSuffix(lines[i], m.Description) || strings.Contains(lines[i], "cached") {
			t.Errorf("line %d: %q", i, lines[i])
		}
	}
	if w := opt.Where(); w != "cache: "+opt.CacheDir+" (FREESEG_CACHE); hub: http://hub.example (HF_ENDPOINT)" {
		t.Errorf("Where: %q", w)
	}
	if w := (Options{}).Where(); w != "cache: unknown (FREESEG_CACHE); hub: "+DefaultEndpoint+" (HF_ENDPOINT)" {
		t.Errorf("Where of empty options: %q", w)
	}
}
