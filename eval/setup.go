package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg/prompts"
)

// The setup of a run, shared by the commands that evaluate: which
// benchmark's protocol a dataset follows, its vocabulary, and the saved
// state a resumed run continues.

// Like is the benchmark whose protocol settings dataset follows: itself,
// or for a folder dataset like (by default context60 with a background
// class, else context59). folder reports a folder dataset.
func Like(dataset, like string, withBackground bool) (name string, folder bool) {
	if !strings.EqualFold(dataset, Folder) {
		return dataset, false
	}
	if like == "" {
		like = "context59"
		if withBackground {
			like = "context60"
		}
	}
	return like, true
}

// FolderDefaults fills the folders of fo that are not given from root:
// root/images, root/labels and root/classes.txt.
func FolderDefaults(fo *FolderOptions, root string) {
	if root == "" {
		return
	}
	if fo.Images == "" {
		fo.Images = filepath.Join(root, "images")
	}
	if fo.Labels == "" {
		fo.Labels = filepath.Join(root, "labels")
	}
	if fo.ClassFile == "" {
		fo.ClassFile = filepath.Join(root, "classes.txt")
	}
}

// RunVocabulary is the vocabulary a run of ds under proto uses: the
// dataset's own (a folder dataset's class file), else classesFile when
// given, else the protocol's; it must have ds's classes, and class 0 is
// background when ds has one.
func RunVocabulary(ds *Dataset, proto prompts.Protocol, classesFile string) (*prompts.Vocabulary, error) {
	vocab := ds.Vocabulary
	if vocab == nil {
		var err error
		if classesFile != "" {
			f, err := os.Open(classesFile)
			if err != nil {
				return nil, err
			}
			vocab, err = prompts.ParseClassFileWith(f, classesFile, prompts.ParseOptions{Sep: proto.Sep, AllowDuplicates: true})
			f.Close()
			if err != nil {
				return nil, err
			}
		} else if vocab, err = proto.Vocabulary(); err != nil {
			return nil, fmt.Errorf("%w; give --classes-file", err)
		}
	}
	if vocab.Len() != ds.Classes {
		return nil, fmt.Errorf("the vocabulary has %d classes but %s has %d", vocab.Len(), ds.Name, ds.Classes)
	}
	vocab.Background = ds.Background
	return vocab, nil
}

// ProtocolName is the preset p came from ("naclip+pamr", not its dense
// method "naclip"): the name whose preset on p's benchmark is p.
func ProtocolName(p prompts.Protocol) string {
	for _, name := range prompts.ProtocolMethods() {
		if q, err := prompts.Protocols(name, p.Name); err == nil && reflect.DeepEqual(p, q) {
			return name
		}
	}
	return p.Method
}

// VocabularyDigest hashes the queries and their classes.
func VocabularyDigest(v *prompts.Vocabulary) string {
	h := sha256.New()
	for c, syn := range v.Names {
		for _, n := range syn {
			fmt.Fprintf(h, "%d\t%s\n", c, n)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ResumeState loads the state saved in report (at statePath) for shard
// shard of shards and checks that it was run with settings.
func ResumeState(statePath, report string, ds *Dataset, shard, shards int, settings Settings) (*State, error) {
	state, err := LoadStateFor(statePath, ds, shard, shards)
	if err != nil {
		return nil, err
	}
	if d := state.Settings.Diff(settings); len(d) > 0 {
		return nil, fmt.Errorf("cannot resume %s: it was run with other settings (saved vs now):\n  %s", report, strings.Join(d, "\n  "))
	}
	if !slices.Equal(state.Shards, []int{shard}) {
		return nil, fmt.Errorf("cannot resume %s: it holds shard %s, not %d/%d", report, state.ShardLabel(), shard, shards)
	}
	return state, nil
}

// Summary is the one-line result of a report.
func (r *Report) Summary() string {
	f := func(p *float64) string {
		if p == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	s := fmt.Sprintf("%s, %s: mIoU %s, mAcc %s, aAcc %s (%d images evaluated, %d skipped, %.3f s per image)",
		r.Dataset, r.Protocol, f(r.MIoU), f(r.MAcc), f(r.AAcc), r.Evaluated, r.Skipped, r.SecondsPerImage)
	if !r.Complete {
		s += "; partial: not every image of the list was covered"
	}
	return s
}

// ParseShard reads "I/N" (shard I of N, 0 <= I < N); "" is the one shard
// 0/1.
func ParseShard(s string) (i, n int, ok bool) {
	if s == "" {
		return 0, 1, true
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, false
	}
	return i, n, true
}

// Positions are the positions of ds that shard shard of shards covers,
// the first limit of them when limit > 0; the state records the shard's
// size and the limit.
func (s *State) Positions(ds *Dataset, shard, shards, limit int) []int {
	positions := ds.Shard(shard, shards)
	s.ShardImages, s.Limit = len(positions), limit
	if limit > 0 && limit < len(positions) {
		positions = positions[:limit]
	}
	return positions
}
