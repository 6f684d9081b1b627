package eval

import (
	"path/filepath"
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
	b, _ := prompts.ParseClassList("cat; kitten, dog")
	if VocabularyDigest(a) == VocabularyDigest(b) || VocabularyDigest(a) != VocabularyDigest(a) || len(VocabularyDigest(a)) != 64 {
		t.Error("the digest does not tell the class of each name apart")
	}
}
