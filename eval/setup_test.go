package eval

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/freeseg/freeseg/prompts"
)

func TestLike(t *testing.T) {
	for _, c := range []struct {
		dataset, like string
		bg            bool
		want          string
		folder        bool
	}{
		{"voc21", "", false, "voc21", false},
		{"voc21", "ade20k", true, "voc21", false}, // --like is for folders only
		{"folder", "", false, "context59", true},
		{"FOLDER", "", true, "context60", true},
		{"folder", "ade20k", true, "ade20k", true},
	} {
		if got, folder := Like(c.dataset, c.like, c.bg); got != c.want || folder != c.folder {
			t.Errorf("Like(%q, %q, %v) = %q, %v; want %q, %v", c.dataset, c.like, c.bg, got, folder, c.want, c.folder)
		}
	}
}

func TestFolderDefaults(t *testing.T) {
	fo := FolderOptions{Labels: "mine"}
	FolderDefaults(&fo, "r")
	if fo.Images != filepath.Join("r", "images") || fo.Labels != "mine" || fo.ClassFile != filepath.Join("r", "classes.txt") {
		t.Errorf("%+v", fo)
	}
	var none FolderOptions
	if FolderDefaults(&none, ""); none != (FolderOptions{}) {
		t.Errorf("no root filled %+v", none)
	}
}

// The label of a preset is the --protocol name, also where two presets
// share a dense method (naclip and naclip+pamr).
func TestProtocolName(t *testing.T) {
	for _, name := range []string{"naclip", "naclip+pamr"} {
		p, err := prompts.Protocols(name, "voc21")
		if err != nil {
			t.Fatal(err)
		}
		if got := ProtocolName(p); got != name {
			t.Errorf("ProtocolName(%s preset) = %q", name, got)
		}
	}
}

func TestVocabularyDigest(t *testing.T) {
	a, _ := prompts.ParseClassList("cat, kitten; dog")
	again, _ := prompts.ParseClassList("cat, kitten; dog")
	b, _ := prompts.ParseClassList("cat; kitten, dog")
	if VocabularyDigest(a) == VocabularyDigest(b) || VocabularyDigest(a) != VocabularyDigest(again) || len(VocabularyDigest(a)) != 64 {
		t.Error("the digest does not tell the class of each name apart")
	}
}

func TestParseShard(t *testing.T) {
	for s, want := range map[string][3]int{"": {0, 1, 1}, "0/1": {0, 1, 1}, "0/4": {0, 4, 1}, " 3 / 4 ": {3, 4, 1}, "4/4": {0, 0, 0}, "-1/2": {0, 0, 0}, "1/0": {0, 0, 0}, "1": {0, 0, 0}, "a/b": {0, 0, 0}} {
		i, n, ok := ParseShard(s)
		if i != want[0] || n != want[1] || ok != (want[2] == 1) {
			t.Errorf("ParseShard(%q) = %d, %d, %v; want %v", s, i, n, ok, want)
		}
	}
}

// Shard 1 of 3 of 7 images is every third from 1 (1, 4); a limit of 1
// keeps the first, and the state records the shard's size and the limit.
func TestStatePositions(t *testing.T) {
	ds := &Dataset{Samples: make([]Sample, 7)}
	var s State
	if got := s.Positions(ds, 1, 3, 0); !slices.Equal(got, []int{1, 4}) || s.ShardImages != 2 || s.Limit != 0 {
		t.Fatalf("%v, state %d %d", got, s.ShardImages, s.Limit)
	}
	if got := s.Positions(ds, 1, 3, 1); !slices.Equal(got, []int{1}) || s.ShardImages != 2 || s.Limit != 1 {
		t.Fatalf("limit 1: %v, state %d %d", got, s.ShardImages, s.Limit)
	}
}
