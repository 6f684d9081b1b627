package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/freeseg/freeseg/imageio"
)

// StateVersion is the format version of [State] files.
const StateVersion = 1

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
func (s *State) Save(path string) error {
	return imageio.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(s)
	})
}

// LoadState reads a state file and checks it is consistent.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("eval: %s not found (not a report folder of freeseg eval?)", path)
		}
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("eval: %s: state version %d, this freeseg reads version %d", path, s.Version, StateVersion)
	}
	if s.Metric == nil || s.Metric.Classes != s.Settings.Classes {
		return nil, fmt.Errorf("eval: %s: metric does not match the settings' %d classes", path, s.Settings.Classes)
	}
	if int64(len(s.Done)) != s.Metric.Images {
		return nil, fmt.Errorf("eval: %s: %d images listed as done but %d counted", path, len(s.Done), s.Metric.Images)
	}
	if len(s.Shards) == 0 || s.Settings.ShardCount < 1 {
		return nil, fmt.Errorf("eval: %s: no shard recorded", path)
	}
	for _, i := range s.Shards {
		if i < 0 || i >= s.Settings.ShardCount {
			return nil, fmt.Errorf("eval: %s: shard %d of %d", path, i, s.Settings.ShardCount)
		}
	}
	return &s, nil
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
