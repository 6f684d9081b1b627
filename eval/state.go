package eval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/freeseg/freeseg/imageio"
)

// StateVersion is the format version of [State] files. Version 2 adds the
// checksum; version 1 files (without one) are still read, and checked like
// the others in every other way.
const StateVersion = 2

// maxStateBytes bounds a state file: a run over COCO's 5,000 images writes
// well under 1 MB, so 256 MiB is far beyond any real list.
var maxStateBytes = 256 << 20 // a variable so that a test can lower it

// checksumPrefix starts every state file freeseg writes: the SHA-256 of
// the rest of the object follows (see Save).
const checksumPrefix = `{"checksum":"sha256:`

// StateFile is the name of the accumulator file in a report folder.
const StateFile = "state.json"

// Settings identify what a run measures. Two runs may be resumed into or
// merged with each other only when all of them are equal.
type Settings struct {
	Dataset         string `json:"dataset"`
	Classes         int    `json:"classes"`
	ReduceZeroLabel bool   `json:"reduce_zero_label"`
	ListImages      int    `json:"list_images"` // images in the full (unsharded) list
	ListDigest      string `json:"list_digest"` // Dataset.ListDigest
	Protocol        string `json:"protocol"`
	// Vocabulary is a digest of the text queries and their classes.
	Vocabulary string `json:"vocabulary"`
	// Pipeline holds every segmentation option, as display strings.
	Pipeline    map[string]string `json:"pipeline"`
	Model       string            `json:"model"`
	ModelDigest string            `json:"model_digest"`
	ShardCount  int               `json:"shard_count"` // N of --shard I/N; 1 when unsharded
}

// Diff lists the settings that differ between s (saved) and o (now), one
// line each, empty when they match.
func (s Settings) Diff(o Settings) []string {
	var d []string
	add := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			d = append(d, fmt.Sprintf("%s: %v vs %v", name, a, b))
		}
	}
	add("dataset", s.Dataset, o.Dataset)
	add("classes", s.Classes, o.Classes)
	add("reduce_zero_label", s.ReduceZeroLabel, o.ReduceZeroLabel)
	add("images in the list", s.ListImages, o.ListImages)
	if s.ListImages == o.ListImages {
		add("image list digest", s.ListDigest, o.ListDigest)
	}
	add("protocol", s.Protocol, o.Protocol)
	add("vocabulary digest", s.Vocabulary, o.Vocabulary)
	keys := slices.Sorted(maps.Keys(s.Pipeline))
	for k := range o.Pipeline {
		if _, ok := s.Pipeline[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		a, ok1 := s.Pipeline[k]
		b, ok2 := o.Pipeline[k]
		if !ok1 {
			a = "(unset)"
		}
		if !ok2 {
			b = "(unset)"
		}
		add(k, a, b)
	}
	add("model", s.Model, o.Model)
	add("model digest", s.ModelDigest, o.ModelDigest)
	add("shard count", s.ShardCount, o.ShardCount)
	return d
}

// Skip is an image left out of the scores, and why.
type Skip struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// Overlay is a picture written for an image of the list.
type Overlay struct {
	Index int    `json:"index"` // position in the full list
	ID    string `json:"id"`
	File  string `json:"file"` // path relative to the report folder
}

// State is the resumable, mergeable record of a run: its settings, the
// images counted and skipped, and the accumulated metric.
type State struct {
	Version  int      `json:"version"`
	Settings Settings `json:"settings"`
	// Shards are the shard indices (of Settings.ShardCount) this state
	// covers: one for a run, several after a merge.
	Shards []int `json:"shards"`
	// Informational, not compared.
	Root       string   `json:"root"`
	SplitFile  string   `json:"split_file,omitempty"`
	Title      string   `json:"title"`
	ClassNames []string `json:"class_names"`
	ModelPath  string   `json:"model_path"`
	// Overrides are the pipeline flags given on top of the protocol.
	Overrides []string `json:"overrides,omitempty"`
	// ShardImages is the number of images of the list in Shards, and
	// Limit the --limit of the last run (0 = none).
	ShardImages int `json:"shard_images"`
	Limit       int `json:"limit,omitempty"`

	Done    []string `json:"done"` // IDs counted in Metric, in evaluation order
	Skipped []Skip   `json:"skipped"`
	Metric  *Metric  `json:"metric"`
	// Seconds is the time spent on the counted images (reading, inference,
	// scoring).
	Seconds float64 `json:"seconds"`
	// Oriented lists the images whose EXIF orientation tag is not 1; they
	// are evaluated as stored (see the package documentation).
	Oriented []string  `json:"exif_oriented,omitempty"`
	Overlays []Overlay `json:"overlays,omitempty"`
}

// NewState starts an empty state.
func NewState(set Settings, shard int) (*State, error) {
	m, err := NewMetric(set.Classes)
	if err != nil {
		return nil, err
	}
	return &State{Version: StateVersion, Settings: set, Shards: []int{shard}, Metric: m}, nil
}

// Save writes the state atomically (a reader never sees a partial file).
// The file starts with a checksum, the SHA-256 of the JSON object that
// follows it (`{"checksum":"sha256:HEX",` + the rest of the object), so
// that LoadState notices a file edited or damaged after it was written. It
// is a guard against accidents, not a signature: anyone can recompute it,
// which is why LoadState and CheckList also check the contents.
func (s *State) Save(path string) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	sum := sha256.Sum256(body.Bytes())
	return imageio.WriteFileAtomic(path, func(w io.Writer) error {
		if _, err := io.WriteString(w, checksumPrefix+hex.EncodeToString(sum[:])+`",`); err != nil {
			return err
		}
		_, err := w.Write(body.Bytes()[1:]) // the object without its "{"
		return err
	})
}

// verifyChecksum checks a file written by Save; ok is false for a file
// without a checksum.
func verifyChecksum(path string, b []byte) (ok bool, err error) {
	if !bytes.HasPrefix(b, []byte(checksumPrefix)) {
		return false, nil
	}
	rest := b[len(checksumPrefix):]
	if len(rest) < 66 || rest[64] != '"' || rest[65] != ',' {
		return false, fmt.Errorf("eval: %s: malformed checksum field", path)
	}
	want := string(rest[:64])
	body := append([]byte{'{'}, rest[66:]...)
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != want {
		return false, fmt.Errorf("eval: %s: checksum mismatch: the file was changed after freeseg wrote it (edited or damaged); "+
			"run again without --resume to start over, or restore the file", path)
	}
	return true, nil
}

// LoadState reads a state file and checks it is consistent: its checksum
// (for version 2), and its contents: done and skipped IDs unique and
// disjoint, one counted image per done ID, no more labelled pixels than
// that many images can hold (MaxPixels each), shards in range. [CheckList]
// then checks it against the dataset's list.
func LoadState(path string) (*State, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("eval: %s not found (not a report folder of freeseg eval?)", path)
		}
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(maxStateBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("eval: %s: more than %d bytes, not a state file of freeseg eval", path, maxStateBytes)
	}
	summed, err := verifyChecksum(path, b)
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	if s.Version != StateVersion && s.Version != 1 {
		return nil, fmt.Errorf("eval: %s: state version %d, this freeseg reads versions 1 and %d", path, s.Version, StateVersion)
	}
	if s.Version >= 2 && !summed {
		return nil, fmt.Errorf("eval: %s: no checksum, but version %d files always have one (the file was edited?); "+
			"run again without --resume to start over, or restore the file", path, s.Version)
	}
	s.Version = StateVersion // saved back with a checksum
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("eval: %s: %v; run again without --resume to start over", path, err)
	}
	return &s, nil
}

// check is what LoadState verifies of the contents alone.
func (s *State) check() error {
	if s.Metric == nil || s.Metric.Classes != s.Settings.Classes {
		return fmt.Errorf("metric does not match the settings' %d classes", s.Settings.Classes)
	}
	if int64(len(s.Done)) != s.Metric.Images {
		return fmt.Errorf("%d images listed as done but %d counted", len(s.Done), s.Metric.Images)
	}
	if len(s.Shards) == 0 || s.Settings.ShardCount < 1 {
		return errors.New("no shard recorded")
	}
	seenShard := map[int]bool{}
	for _, i := range s.Shards {
		if i < 0 || i >= s.Settings.ShardCount {
			return fmt.Errorf("shard %d of %d", i, s.Settings.ShardCount)
		}
		if seenShard[i] {
			return fmt.Errorf("shard %d listed twice", i)
		}
		seenShard[i] = true
	}
	// (A state built in memory may leave ListImages 0; a resumed run's
	// Diff compares it with the list's, and CheckList checks every ID.)
	if s.Settings.ListImages < 0 || (s.Settings.ListImages > 0 && len(s.Done) > s.Settings.ListImages) {
		return fmt.Errorf("%d images done, but the list has %d", len(s.Done), s.Settings.ListImages)
	}
	done := make(map[string]bool, len(s.Done))
	for _, id := range s.Done {
		if done[id] {
			return fmt.Errorf("image %q is counted twice", id)
		}
		done[id] = true
	}
	skipped := make(map[string]bool, len(s.Skipped))
	for _, k := range s.Skipped {
		if done[k.ID] {
			return fmt.Errorf("image %q is both counted and skipped", k.ID)
		}
		if skipped[k.ID] {
			return fmt.Errorf("image %q is skipped twice", k.ID)
		}
		skipped[k.ID] = true
	}
	// Every counted pixel belongs to one of the counted images, each under
	// MaxPixels; this also keeps every sum of counts far from overflowing.
	limit := s.Metric.Images * imageio.MaxPixels
	var total int64
	for _, v := range s.Metric.Confusion {
		if v > limit-total {
			return fmt.Errorf("the confusion matrix counts more than %d pixels, more than %d images can hold", limit, s.Metric.Images)
		}
		total += v
	}
	if math.IsNaN(s.Seconds) || s.Seconds < 0 || math.IsInf(s.Seconds, 0) {
		return fmt.Errorf("time spent %v", s.Seconds)
	}
	return nil
}

// CheckList checks a loaded state against the dataset it is resumed on:
// every done, skipped and overlaid image is in the list, in shard i of n.
// A state of another list or sharding is left to Settings.Diff, whose
// message names what changed.
func (s *State) CheckList(ds *Dataset, shard, shards int) error {
	if s.Settings.ListDigest != ds.ListDigest() || s.Settings.ShardCount != shards || !slices.Equal(s.Shards, []int{shard}) {
		return nil
	}
	inShard := map[string]bool{}
	for _, k := range ds.Shard(shard, shards) {
		inShard[ds.Samples[k].ID] = true
	}
	bad := func(what, id string) error {
		return fmt.Errorf("eval: the saved state lists %s image %q, which is not in shard %d/%d of the dataset's list "+
			"(the state file was edited?); run again without --resume to start over", what, id, shard, shards)
	}
	for _, id := range s.Done {
		if !inShard[id] {
			return bad("the counted", id)
		}
	}
	for _, k := range s.Skipped {
		if !inShard[k.ID] {
			return bad("the skipped", k.ID)
		}
	}
	for _, o := range s.Overlays {
		if o.Index < 0 || o.Index >= len(ds.Samples) || ds.Samples[o.Index].ID != o.ID {
			return bad("an overlay of the", o.ID)
		}
	}
	return nil
}

// LoadStateFor is LoadState then CheckList: the state of a run resumed on
// shard i of n of ds.
func LoadStateFor(path string, ds *Dataset, shard, shards int) (*State, error) {
	s, err := LoadState(path)
	if err != nil {
		return nil, err
	}
	if err := s.CheckList(ds, shard, shards); err != nil {
		return nil, err
	}
	return s, nil
}

// ShardLabel describes the shards covered: "all", "0/4" or "0,2/4".
func (s *State) ShardLabel() string {
	if s.Settings.ShardCount <= 1 {
		return "all"
	}
	parts := make([]string, len(s.Shards))
	for i, k := range s.Shards {
		parts[i] = fmt.Sprint(k)
	}
	return strings.Join(parts, ",") + "/" + fmt.Sprint(s.Settings.ShardCount)
}

// Merge joins the states of disjoint shards of one run into a new state.
// It refuses states whose settings differ (naming the differences),
// shards that appear twice, and images counted in two states.
func Merge(states []*State, names []string) (*State, error) {
	if len(states) == 0 {
		return nil, fmt.Errorf("eval: nothing to merge")
	}
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return fmt.Sprintf("input %d", i+1)
	}
	first := states[0]
	out, err := NewState(first.Settings, 0)
	if err != nil {
		return nil, err
	}
	out.Shards = nil
	out.Root, out.SplitFile, out.Title = first.Root, first.SplitFile, first.Title
	out.ModelPath, out.Overrides = first.ModelPath, slices.Clone(first.Overrides)
	out.ClassNames = slices.Clone(first.ClassNames)
	shardOf := map[int]int{}
	doneBy := map[string]int{}
	oriented := map[string]bool{}
	for i, s := range states {
		if d := first.Settings.Diff(s.Settings); len(d) > 0 {
			return nil, fmt.Errorf("eval: %s and %s were run with different settings:\n  %s", name(0), name(i), strings.Join(d, "\n  "))
		}
		for _, k := range s.Shards {
			if j, dup := shardOf[k]; dup {
				return nil, fmt.Errorf("eval: %s and %s both hold shard %d/%d", name(j), name(i), k, s.Settings.ShardCount)
			}
			shardOf[k] = i
			out.Shards = append(out.Shards, k)
		}
		for _, id := range s.Done {
			if j, dup := doneBy[id]; dup {
				return nil, fmt.Errorf("eval: image %s is counted in both %s and %s", id, name(j), name(i))
			}
			doneBy[id] = i
		}
		if err := out.Metric.Merge(s.Metric); err != nil {
			return nil, err
		}
		out.Done = append(out.Done, s.Done...)
		out.Skipped = append(out.Skipped, s.Skipped...)
		out.Seconds += s.Seconds
		out.ShardImages += s.ShardImages
		out.Limit = max(out.Limit, s.Limit)
		for _, id := range s.Oriented {
			if !oriented[id] {
				oriented[id] = true
				out.Oriented = append(out.Oriented, id)
			}
		}
		out.Overlays = append(out.Overlays, s.Overlays...)
	}
	slices.Sort(out.Shards)
	slices.SortStableFunc(out.Overlays, func(a, b Overlay) int { return a.Index - b.Index })
	return out, nil
}
