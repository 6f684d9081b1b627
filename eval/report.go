package eval

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is the final account of a run (report.json; report.md shows the
// same without the confusion matrix). Scores are percentages; a null
// (nil) score is undefined (numpy NaN): an IoU of a class neither present
// nor predicted, an Acc of a class absent from the ground truth.
type Report struct {
	Dataset     string            `json:"dataset"`
	Title       string            `json:"title"`
	Root        string            `json:"root"`
	SplitFile   string            `json:"split_file,omitempty"`
	Protocol    string            `json:"protocol"`
	Overrides   []string          `json:"overrides,omitempty"`
	Model       string            `json:"model"`
	ModelPath   string            `json:"model_path"`
	ModelDigest string            `json:"model_digest"`
	Pipeline    map[string]string `json:"pipeline"`
	Shards      string            `json:"shards"` // "all", or "I,J/N"

	ImagesInList   int    `json:"images_in_list"`
	ImagesInShards int    `json:"images_in_shards"`
	Limit          int    `json:"limit,omitempty"`
	Evaluated      int64  `json:"evaluated"`
	Skipped        int    `json:"skipped"`
	Complete       bool   `json:"complete"` // every image of the shards evaluated or skipped
	SkippedImages  []Skip `json:"skipped_images"`

	MIoU *float64 `json:"miou"`
	MAcc *float64 `json:"macc"`
	AAcc *float64 `json:"aacc"`

	Classes []ClassScore `json:"classes"`

	Seconds         float64 `json:"seconds"`
	SecondsPerImage float64 `json:"seconds_per_image"`

	ExifOriented []string  `json:"exif_oriented,omitempty"`
	Overlays     []Overlay `json:"overlays,omitempty"`
	Created      string    `json:"created"`
	Version      string    `json:"freeseg_version"`
	// Confusion[g][p] counts pixels of ground truth g predicted as p.
	Confusion [][]int64 `json:"confusion"`
}

// ClassScore is one row of the per-class table.
type ClassScore struct {
	Index        int      `json:"index"`
	Name         string   `json:"name"`
	IoU          *float64 `json:"iou"`
	Acc          *float64 `json:"acc"`
	Intersection int64    `json:"intersection"`
	Union        int64    `json:"union"`
	PredArea     int64    `json:"pred_area"`
	LabelArea    int64    `json:"label_area"`
}

func pct(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	p := 100 * v
	return &p
}

// BuildReport turns a state into a report.
func BuildReport(s *State, version string) *Report {
	sc := s.Metric.Scores()
	C := s.Metric.Classes
	r := &Report{
		Dataset: s.Settings.Dataset, Title: s.Title, Root: s.Root, SplitFile: s.SplitFile,
		Protocol: s.Settings.Protocol, Overrides: s.Overrides, Model: s.Settings.Model, ModelPath: s.ModelPath, ModelDigest: s.Settings.ModelDigest,
		Pipeline: s.Settings.Pipeline, Shards: s.ShardLabel(),
		ImagesInList: s.Settings.ListImages, ImagesInShards: s.ShardImages, Limit: s.Limit,
		Evaluated: s.Metric.Images, Skipped: len(s.Skipped), SkippedImages: slices.Clone(s.Skipped),
		MIoU: pct(sc.MIoU), MAcc: pct(sc.MAcc), AAcc: pct(sc.AAcc),
		Seconds: s.Seconds, ExifOriented: s.Oriented, Overlays: s.Overlays,
		Created: time.Now().UTC().Format(time.RFC3339), Version: version,
	}
	if r.SkippedImages == nil {
		r.SkippedImages = []Skip{}
	}
	r.Complete = int(r.Evaluated)+r.Skipped >= r.ImagesInShards && len(s.Shards) == s.Settings.ShardCount
	if r.Evaluated > 0 {
		r.SecondsPerImage = s.Seconds / float64(r.Evaluated)
	}
	for c := 0; c < C; c++ {
		name := ""
		if c < len(s.ClassNames) {
			name = s.ClassNames[c]
		}
		r.Classes = append(r.Classes, ClassScore{Index: c, Name: name, IoU: pct(sc.IoU[c]), Acc: pct(sc.Acc[c]),
			Intersection: sc.Intersection[c], Union: sc.Union[c], PredArea: sc.PredArea[c], LabelArea: sc.LabelArea[c]})
	}
	r.Confusion = make([][]int64, C)
	for g := range r.Confusion {
		r.Confusion[g] = slices.Clone(s.Metric.Confusion[g*C : (g+1)*C])
	}
	return r
}

func fmtPct(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", *p)
}

// mdEscape keeps a table cell in one piece.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteMarkdown writes report.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# freeseg eval: %s\n\n", r.Dataset)
	if !r.Complete {
		fmt.Fprintf(&b, "**Partial result**: %d of the %d images in this run's shards were evaluated or skipped", int(r.Evaluated)+r.Skipped, r.ImagesInShards)
		if r.Shards != "all" {
			fmt.Fprintf(&b, " (shards %s)", r.Shards)
		}
		if r.Limit > 0 {
			fmt.Fprintf(&b, " (--limit %d)", r.Limit)
		}
		b.WriteString(". Resume with `--resume`, or merge the other shards with `freeseg eval merge`.\n\n")
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, mdEscape(v)) }
	row("**mIoU**", "**"+fmtPct(r.MIoU)+"**")
	row("mAcc", fmtPct(r.MAcc))
	row("aAcc", fmtPct(r.AAcc))
	row("dataset", fmt.Sprintf("%s: %s", r.Dataset, r.Title))
	row("root", r.Root)
	if r.SplitFile != "" {
		row("split file", r.SplitFile)
	}
	row("protocol", r.Protocol)
	if len(r.Overrides) > 0 {
		row("overridden", strings.Join(r.Overrides, " "))
	}
	row("model", fmt.Sprintf("%s (%s)", r.Model, r.ModelPath))
	row("model digest", "sha256 "+r.ModelDigest)
	row("images", fmt.Sprintf("%d evaluated, %d skipped, of %d in the list (shards: %s, %d images)", r.Evaluated, r.Skipped, r.ImagesInList, r.Shards, r.ImagesInShards))
	if r.Limit > 0 {
		row("limit", fmt.Sprintf("first %d images of the shard", r.Limit))
	}
	row("time per image", fmt.Sprintf("%.3f s (%.1f s in all)", r.SecondsPerImage, r.Seconds))
	row("freeseg", r.Version)
	row("created", r.Created)
	b.WriteString("\nScores are percentages, computed as MMSegmentation's IoUMetric: pixel counts summed over the\n" +
		"whole dataset at the ground truth's resolution, label 255 ignored; mIoU and mAcc skip classes whose\n" +
		"IoU or Acc is undefined (n/a: never present nor predicted, or absent from the ground truth).\n")

	b.WriteString("\n## Settings\n\n| setting | value |\n|---|---|\n")
	for _, k := range sortedKeys(r.Pipeline) {
		row(k, r.Pipeline[k])
	}

	b.WriteString("\n## Per class\n\n| # | class | IoU | Acc | ground-truth pixels | predicted pixels |\n|---:|---|---:|---:|---:|---:|\n")
	for _, c := range r.Classes {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %d | %d |\n", c.Index, mdEscape(c.Name), fmtPct(c.IoU), fmtPct(c.Acc), c.LabelArea, c.PredArea)
	}

	fmt.Fprintf(&b, "\n## Skipped images (%d)\n\n", r.Skipped)
	if r.Skipped == 0 {
		b.WriteString("None.\n")
	}
	for _, s := range r.SkippedImages {
		fmt.Fprintf(&b, "- `%s`: %s\n", s.ID, s.Reason)
	}
	if len(r.ExifOriented) > 0 {
		fmt.Fprintf(&b, "\n## Images with an EXIF orientation (%d)\n\nEvaluated as stored, in the orientation of their label maps:\n\n", len(r.ExifOriented))
		for _, id := range r.ExifOriented {
			fmt.Fprintf(&b, "- `%s`\n", id)
		}
	}
	if len(r.Overlays) > 0 {
		b.WriteString("\n## Overlays\n\nLeft: prediction; right: ground truth (ignored pixels uncoloured).\n\n")
		for _, o := range r.Overlays {
			fmt.Fprintf(&b, "### %s\n\n![%s](%s)\n\n", o.ID, o.ID, o.File)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
