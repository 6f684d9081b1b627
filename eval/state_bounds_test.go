package eval_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/imageio"
)

// The limits LoadState checks are inclusive where a real run can reach
// them: as many images done as the list holds, every pixel of every image
// counted, no time spent; one past them is refused.
func TestLoadStateLimitsInclusive(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(s *eval.State)
		want string // "" = accepted
	}{
		{"every image of the list done", func(s *eval.State) { s.Settings.ListImages = 2 }, ""},
		{"every pixel of both images counted", func(s *eval.State) { s.Metric.Confusion[4] += 2*imageio.MaxPixels - 3 }, ""},
		{"one pixel more", func(s *eval.State) { s.Metric.Confusion[4] += 2*imageio.MaxPixels - 2 }, "more than 800000000 pixels"},
		{"no time spent", func(s *eval.State) { s.Seconds = 0 }, ""},
		{"negative time", func(s *eval.State) { s.Seconds = -1 }, "time spent -1"},
		{"last shard", func(s *eval.State) { s.Shards = []int{1} }, ""},
		{"shard index = shard count", func(s *eval.State) { s.Shards = []int{2} }, "shard 2 of 2"},
	} {
		st := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
		tc.edit(st)
		p := filepath.Join(dir, "s.json")
		if err := st.Save(p); err != nil {
			t.Fatal(err)
		}
		_, err := eval.LoadState(p)
		if tc.want == "" && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: got %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

// A state file cut right after its checksum field has a well-formed
// checksum that does not match the (empty) rest: the file was damaged,
// not malformed from the start.
func TestLoadStateCutAfterChecksum(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(p, []byte(`{"checksum":"sha256:`+strings.Repeat("0", 64)+`",`), 0o644)
	wantLoadErr(t, p, "checksum mismatch")
}

// The list digest is compared only when the list lengths agree: a longer
// list is reported as such, not also as another digest.
func TestSettingsDiffListDigest(t *testing.T) {
	a := testSettings()
	b := testSettings()
	b.ListDigest = "other"
	if d := strings.Join(a.Diff(b), "\n"); !strings.Contains(d, "image list digest: abc vs other") {
		t.Errorf("same length, other digest: %q", d)
	}
	b.ListImages = 5
	d := strings.Join(a.Diff(b), "\n")
	if !strings.Contains(d, "images in the list: 4 vs 5") || strings.Contains(d, "digest") {
		t.Errorf("other length and digest: %q, want only the length", d)
	}
}

// An overlay of the first image (index 0) is valid; an index one past the
// list is refused with an error, not a crash.
func TestCheckListOverlayIndexBounds(t *testing.T) {
	ds := &eval.Dataset{}
	for _, id := range []string{"i0", "i1", "i2", "i3"} {
		ds.Samples = append(ds.Samples, eval.Sample{ID: id})
	}
	st := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
	st.Settings.ListDigest = ds.ListDigest()
	st.Overlays = []eval.Overlay{{Index: 0, ID: "i0"}, {Index: 2, ID: "i2"}}
	if err := st.CheckList(ds, 0, 2); err != nil {
		t.Errorf("overlays of images 0 and 2: %v", err)
	}
	st.Overlays = []eval.Overlay{{Index: 4, ID: "i4"}}
	if err := st.CheckList(ds, 0, 2); err == nil || !strings.Contains(err.Error(), `"i4"`) {
		t.Errorf("overlay index 4 of 4 images: %v", err)
	}
}

// One shard is the whole list.
func TestShardLabel(t *testing.T) {
	for _, c := range []struct {
		count  int
		shards []int
		want   string
	}{{1, []int{0}, "all"}, {2, []int{1}, "1/2"}, {4, []int{0, 2}, "0,2/4"}} {
		s := eval.State{Settings: eval.Settings{ShardCount: c.count}, Shards: c.shards}
		if got := s.ShardLabel(); got != c.want {
			t.Errorf("shards %v of %d: %q, want %q", c.shards, c.count, got, c.want)
		}
	}
}

// Inputs without a given name are named by their position.
func TestMergeNamesUnnamedInputs(t *testing.T) {
	a := shardState(t, 0, []string{"i0"}, [][]int32{{0}}, [][]uint8{{0}})
	b := shardState(t, 1, []string{"i1"}, [][]int32{{0}}, [][]uint8{{0}})
	b.Settings.Model = "other"
	_, err := eval.Merge([]*eval.State{a, b}, []string{"A"})
	if err == nil || !strings.Contains(err.Error(), "A and input 2 were run with different settings") {
		t.Errorf("got %v, want A and input 2 named", err)
	}
}
