package evaljob

import (
	"errors"
	"strings"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/eval"
)

func TestJobCheckAndShard(t *testing.T) {
	ok := Job{Dataset: "voc21", Report: "r"}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for name, j := range map[string]Job{
		"no dataset": {Report: "r"}, "no report": {Dataset: "voc21"},
		"negative limit": {Dataset: "voc21", Report: "r", Limit: -1}, "negative overlays": {Dataset: "voc21", Report: "r", Overlays: -2},
	} {
		if err := j.Check(); !errors.Is(err, freeseg.ErrUsage) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	j := ok
	if err := j.SetShard("2/3"); err != nil || j.Shard != 2 || j.Shards != 3 {
		t.Errorf("2/3: %d/%d %v", j.Shard, j.Shards, err)
	}
	if err := j.SetShard(""); err != nil || j.Shard != 0 || j.Shards != 1 {
		t.Errorf("whole list: %d/%d %v", j.Shard, j.Shards, err)
	}
	for _, s := range []string{"3/3", "x", "-1/2"} {
		if err := j.SetShard(s); !errors.Is(err, freeseg.ErrUsage) || !strings.Contains(err.Error(), s) {
			t.Errorf("%q: %v, want a usage error naming it", s, err)
		}
	}
}

func TestJobDatasetErrors(t *testing.T) {
	j := Job{Dataset: "voc21", Report: t.TempDir()}
	if _, err := j.Do(t.Context()); !errors.Is(err, freeseg.ErrUsage) || !strings.Contains(err.Error(), "--root") {
		t.Errorf("benchmark without a root: %v", err)
	}
	j.Dataset = eval.Folder
	if _, err := j.OpenDataset(); !errors.Is(err, freeseg.ErrUsage) || !strings.Contains(err.Error(), "--dataset folder") {
		t.Errorf("folder without its folders: %v", err)
	}
}

func TestPreset(t *testing.T) {
	p, o, err := Preset("sclip", "voc21", false, false)
	if err != nil || p.Name != "voc21" || o.AreaThd != 0.1 || o.LogitScale != 65 {
		t.Errorf("sclip voc21: %+v %v", o, err)
	}
	// A folder dataset without background drops the area rule.
	if _, o, err := Preset("sclip", "voc21", true, false); err != nil || o.AreaThd != 0 {
		t.Errorf("folder without background: area %v, %v", o.AreaThd, err)
	}
	if _, o, err := Preset("sclip", "voc21", true, true); err != nil || o.AreaThd != 0.1 {
		t.Errorf("folder with background: area %v, %v", o.AreaThd, err)
	}
	if _, _, err := Preset("nope", "voc21", false, false); !errors.Is(err, freeseg.ErrUsage) {
		t.Errorf("unknown method: %v, want a usage error", err)
	}
}
