package eval_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/freeseg/freeseg/eval"
	"github.com/freeseg/freeseg/imageio"
)

func wantLoadErr(t *testing.T, path string, parts ...string) {
	t.Helper()
	_, err := eval.LoadState(path)
	if err == nil {
		t.Fatalf("state accepted, want an error mentioning %q", parts)
	}
	for _, p := range append(parts, path) {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

// The checksum written by Save is verified: any edit of the file after it
// was written (a count changed, or only the layout) is refused; a version 1
// file (written before checksums) is read, and saved back with one.
func TestStateChecksum(t *testing.T) {
	dir := t.TempDir()
	st := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
	p := filepath.Join(dir, "state.json")
	if err := st.Save(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !bytes.HasPrefix(b, []byte(`{"checksum":"sha256:`)) {
		t.Fatalf("saved state does not start with its checksum: %.60s", b)
	}
	if _, err := eval.LoadState(p); err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte(`"confusion":[1,`), []byte(`"confusion":[9,`), 1)
	if bytes.Equal(edited, b) {
		t.Fatalf("test setup: no confusion matrix to edit in %s", b)
	}
	os.WriteFile(p, edited, 0o644)
	wantLoadErr(t, p, "checksum mismatch", "without --resume")

	var v any
	json.Unmarshal(b, &v)
	pretty, _ := json.MarshalIndent(v, "", "  ")
	os.WriteFile(p, pretty, 0o644)
	wantLoadErr(t, p, "no checksum", "without --resume")

	// Version 1: no checksum, accepted and checked like the others.
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "checksum")
	m["version"] = 1
	v1, _ := json.Marshal(m)
	os.WriteFile(p, v1, 0o644)
	got, err := eval.LoadState(p)
	if err != nil {
		t.Fatalf("version 1 state: %v", err)
	}
	if !slices.Equal(got.Done, st.Done) || !slices.Equal(got.Metric.Confusion, st.Metric.Confusion) {
		t.Fatal("version 1 state read differently")
	}
	m["done"] = []string{"i0", "i0"}
	v1, _ = json.Marshal(m)
	os.WriteFile(p, v1, 0o644)
	wantLoadErr(t, p, `image "i0" is counted twice`)
}

// Contents that no run can produce are refused even with a valid checksum
// (it is no signature: a hand-edited file can carry a recomputed one).
func TestStateContentsChecked(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		edit  func(s *eval.State)
		parts []string
	}{
		{"duplicate done IDs", func(s *eval.State) { s.Done[1] = s.Done[0] }, []string{`"i0" is counted twice`}},
		{"counted and skipped", func(s *eval.State) { s.Skipped = []eval.Skip{{ID: "i2", Reason: "x"}} }, []string{`"i2" is both counted and skipped`}},
		{"skipped twice", func(s *eval.State) { s.Skipped = []eval.Skip{{ID: "i4"}, {ID: "i4"}} }, []string{`"i4" is skipped twice`}},
		{"more done than listed (401 of 400)", func(s *eval.State) { s.Settings.ListImages = 1 }, []string{"2 images done, but the list has 1"}},
		{"done without counts", func(s *eval.State) { s.Metric.Images = 3 }, []string{"2 images listed as done but 3 counted"}},
		{"pixels beyond what the images hold", func(s *eval.State) { s.Metric.Confusion[4] = 2*imageio.MaxPixels - 1 },
			[]string{"more than 800000000 pixels"}},
		{"shard twice", func(s *eval.State) { s.Shards = []int{0, 0} }, []string{"shard 0 listed twice"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
			tc.edit(st)
			p := filepath.Join(dir, "s.json")
			if err := st.Save(p); err != nil {
				t.Fatal(err)
			}
			wantLoadErr(t, p, tc.parts...)
		})
	}
}

// On resume the done, skipped and overlaid IDs must be images of the
// dataset's list, in the shard being resumed.
func TestStateCheckList(t *testing.T) {
	ds := &eval.Dataset{}
	for _, id := range []string{"i0", "i1", "i2", "i3"} {
		ds.Samples = append(ds.Samples, eval.Sample{ID: id})
	}
	fresh := func() *eval.State {
		st := shardState(t, 0, []string{"i0", "i2"}, [][]int32{{0, 1}, {2, 2}}, [][]uint8{{0, 1}, {2, 255}})
		st.Settings.ListDigest = ds.ListDigest()
		return st
	}
	if err := fresh().CheckList(ds, 0, 2); err != nil {
		t.Fatalf("a consistent state: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(s *eval.State)
		want string
	}{
		{"ID not in the list", func(s *eval.State) { s.Done[1] = "zz" }, `"zz"`},
		{"ID of another shard", func(s *eval.State) { s.Done[1] = "i1" }, `"i1"`},
		{"skipped ID not in the list", func(s *eval.State) { s.Skipped = []eval.Skip{{ID: "q"}} }, `"q"`},
		{"overlay of another image", func(s *eval.State) { s.Overlays = []eval.Overlay{{Index: 1, ID: "i0"}} }, `"i0"`},
		{"overlay index outside the list", func(s *eval.State) { s.Overlays = []eval.Overlay{{Index: 9, ID: "i0"}} }, `"i0"`},
	} {
		st := fresh()
		tc.edit(st)
		err := st.CheckList(ds, 0, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "shard 0/2") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// Another list or sharding is left to Settings.Diff (a clearer message).
	st := fresh()
	st.Done[1] = "zz"
	if err := st.CheckList(ds, 1, 2); err != nil {
		t.Errorf("other shard: %v", err)
	}
	// LoadStateFor runs both.
	p := filepath.Join(t.TempDir(), "s.json")
	if err := st.Save(p); err != nil {
		t.Fatal(err)
	}
	if _, err := eval.LoadStateFor(p, ds, 0, 2); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("LoadStateFor: %v", err)
	}
}
