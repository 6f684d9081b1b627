package batch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/freeseg/freeseg/imageio"
)

// Batches of images (docs/cli.md): folders expanded (recursively with
// --recursive), freeseg's own outputs never taken as inputs, output names
// that cannot collide, outputs that never replace an input, failures
// collected per file.

// MarkerKey is the PNG tEXt keyword freeseg writes into every PNG it makes;
// its text says which output it is ("labels", "overlay", "heat").
const MarkerKey = "freeseg"

// OwnOutputSuffixes are the names of freeseg's image outputs.
var OwnOutputSuffixes = []string{".labels.png", ".overlay.png"}

// LooksLikeOwnOutput reports a name freeseg gives its image outputs.
func LooksLikeOwnOutput(name string) bool {
	n := strings.ToLower(name)
	for _, s := range OwnOutputSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return strings.Contains(n, ".heat.") && strings.HasSuffix(n, ".png")
}

// OwnMarker returns the marker text of a PNG freeseg wrote ("" if none).
func OwnMarker(path string) string {
	if !strings.EqualFold(filepath.Ext(path), ".png") {
		return ""
	}
	m, err := imageio.PNGTextFile(path)
	if err != nil {
		return ""
	}
	return m[MarkerKey]
}

// MarkedPNG writes a PNG through enc with freeseg's marker.
func MarkedPNG(w io.Writer, kind string, enc func(io.Writer) error) error {
	mw, err := imageio.WithPNGText(w, MarkerKey, kind)
	if err != nil {
		return err
	}
	return enc(mw)
}

// Input is one image of a run.
type Input struct {
	Path   string // as given or found
	Rel    string // its folder relative to the folder argument it came from ("" for files and with no --recursive)
	Base   string // output base name, unique in its output folder
	Header imageio.Header
	// InW×InH is the network input the settings give (segment).
	InW, InH int
}

// Failure is one image that could not be processed.
type Failure struct {
	Path string
	Err  error
}

// Failures collects the per-image errors of a batch.
type Failures struct {
	List  []Failure
	Total int
}

func (f *Failures) Add(path string, err error) { f.List = append(f.List, Failure{path, err}) }

// Err is nil when nothing failed, else one error listing every failure.
func (f *Failures) Err() error {
	if len(f.List) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d images failed:", len(f.List), f.Total)
	for _, x := range f.List {
		msg := strings.TrimPrefix(x.Err.Error(), "imageio: ")
		if !strings.Contains(msg, x.Path) {
			msg = x.Path + ": " + msg
		}
		fmt.Fprintf(&b, "\n  %s", msg)
	}
	return errors.New(b.String())
}

// Paths are the paths of ins.
func Paths(ins []Input) []string {
	p := make([]string, len(ins))
	for i, in := range ins {
		p[i] = in.Path
	}
	return p
}

// Keep returns the inputs that pass check, in order (check may fill them
// in); the others are added to f, or with strict the first error is
// returned. A warning check gives is passed to warn (nil: dropped).
func (f *Failures) Keep(ins []Input, strict bool, check func(*Input) (string, error), warn func(string)) ([]Input, error) {
	var kept []Input
	for _, in := range ins {
		w, err := check(&in)
		if err != nil {
			if strict {
				return nil, err
			}
			f.Add(in.Path, err)
			continue
		}
		if w != "" && warn != nil {
			warn(w)
		}
		kept = append(kept, in)
	}
	return kept, nil
}

// Expand turns files and folders into the run's images, sorted within
// each folder. Files of a folder are taken by extension (ImageExts); with
// recursive, subfolders too (not following links), except the output
// folder. freeseg's own outputs (a PNG carrying the marker, or an image
// named like one) are skipped in folders and refused when named
// explicitly; the skipped count is returned, and the skipped files that
// carry no marker (a user's files that only look like outputs), which the
// run must still never write over.
func Expand(args []string, recursive bool, outDir string) (ins []Input, skipped int, protected []string, bad []Failure, err error) {
	var out []Input
	outInfo, _ := os.Stat(outDir)
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, 0, nil, nil, fmt.Errorf("image %s: %w", a, err)
		}
		if !st.IsDir() {
			if m := OwnMarker(a); m != "" {
				bad = append(bad, Failure{a, fmt.Errorf("%s is freeseg's own %s output (PNG text %s=%s), not taken as an input", a, m, MarkerKey, m)})
				continue
			}
			out = append(out, Input{Path: a})
			continue
		}
		var found []Input
		walk := func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			if d.IsDir() {
				if p == a {
					return nil
				}
				if !recursive {
					return fs.SkipDir
				}
				if outInfo != nil {
					if di, err := os.Stat(p); err == nil && os.SameFile(di, outInfo) {
						return fs.SkipDir
					}
				}
				return nil
			}
			if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			if !ImageExts[strings.ToLower(filepath.Ext(d.Name()))] {
				return nil
			}
			if marked := OwnMarker(p) != ""; marked || LooksLikeOwnOutput(d.Name()) {
				skipped++
				if !marked {
					protected = append(protected, p)
				}
				return nil
			}
			rel := ""
			if recursive {
				if r, err := filepath.Rel(a, filepath.Dir(p)); err == nil && r != "." {
					rel = r
				}
			}
			found = append(found, Input{Path: p, Rel: rel})
			return nil
		}
		if err := filepath.WalkDir(a, walk); err != nil {
			return nil, 0, nil, nil, err
		}
		if len(found) == 0 {
			hint := ""
			if !recursive {
				hint = "; --recursive takes subfolders too"
			}
			return nil, 0, nil, nil, fmt.Errorf("folder %s holds no images (%s)%s", a, strings.Join(sortedKeys(ImageExts), " "), hint)
		}
		// WalkDir visits in lexical order, folders depth-first.
		out = append(out, found...)
	}
	return out, skipped, protected, bad, nil
}

// ResolvePath is the absolute path of p with every symbolic link of its
// existing part resolved (the missing tail kept as written), so that two
// spellings of one folder compare equal.
func ResolvePath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	var tail []string
	cur := a
	for {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(append([]string{r}, tail...)...)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return a
		}
		tail = append([]string{filepath.Base(cur)}, tail...)
		cur = parent
	}
}

// AssignNames gives every input a base name for its outputs (base +
// suffixes[k] in outDir/rel) such that no two inputs' outputs share a file
// name in a folder and no output has the name of an input file in that
// folder (compared without case, for case-insensitive file systems). The
// scheme is deterministic: the file name without its extension ("a" for
// a.png) when that is free; else with it ("a.png" for a.png when a.jpg is
// also there); else that with "-2", "-3", ... appended.
//
// keep are other files of the run (inputs skipped by name) whose names are
// reserved in their folders too.
func AssignNames(ins []Input, outDir string, suffixes []string, keep []string) {
	type group struct {
		idx      []int
		reserved map[string]bool // lower-case file names taken
	}
	groups := map[string]*group{}
	var order []string
	for i, in := range ins {
		k := ResolvePath(filepath.Join(outDir, in.Rel))
		g := groups[k]
		if g == nil {
			g = &group{reserved: map[string]bool{}}
			groups[k] = g
			order = append(order, k)
		}
		g.idx = append(g.idx, i)
	}
	// Input files that live in an output folder keep their names.
	for _, in := range ins {
		keep = append(keep, in.Path)
	}
	for _, p := range keep {
		if g := groups[ResolvePath(filepath.Dir(p))]; g != nil {
			g.reserved[strings.ToLower(filepath.Base(p))] = true
		}
	}
	free := func(g *group, base string) bool {
		for _, s := range suffixes {
			if g.reserved[strings.ToLower(base+s)] {
				return false
			}
		}
		return true
	}
	take := func(g *group, base string) {
		for _, s := range suffixes {
			g.reserved[strings.ToLower(base+s)] = true
		}
	}
	stem := func(p string) string { return strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)) }
	for _, k := range order {
		g := groups[k]
		count := map[string]int{}
		for _, i := range g.idx {
			count[strings.ToLower(stem(ins[i].Path))]++
		}
		// Unique stems first, so that a later duplicate cannot take the
		// plain name of a file that had it alone ("a-2" of a-2.png).
		var dup []int
		for _, i := range g.idx {
			s := stem(ins[i].Path)
			if count[strings.ToLower(s)] == 1 && free(g, s) {
				ins[i].Base = s
				take(g, s)
			} else {
				dup = append(dup, i)
			}
		}
		for _, i := range dup {
			b := filepath.Base(ins[i].Path)
			cand := b
			for n := 2; !free(g, cand); n++ {
				cand = fmt.Sprintf("%s-%d", b, n)
			}
			ins[i].Base = cand
			take(g, cand)
		}
	}
}

// Outputs creates output folders on first use and removes, at the end,
// those it created that stayed empty (a run whose images all failed leaves
// no empty folder behind). It also refuses to write over any input.
type Outputs struct {
	Guard   Guard
	created []string // folders this run created, parents first
}

// EnsureDir creates dir (and its parents) if needed, remembering which.
func (o *Outputs) EnsureDir(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("output folder %s: %s is a file", dir, d)
			}
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		o.created = append(o.created, missing[i])
	}
	return nil
}

// WriteFile writes path atomically, creating its folder, after checking
// that it is not an input.
func (o *Outputs) WriteFile(path string, write func(io.Writer) error) error {
	if err := o.EnsureDir(filepath.Dir(path)); err != nil {
		return err
	}
	return o.Guard.WriteFile(path, write)
}

// RemoveEmpty removes the folders this run created that are empty,
// deepest first (os.Remove refuses a folder that is not empty).
func (o *Outputs) RemoveEmpty() {
	for i := len(o.created) - 1; i >= 0; i-- {
		os.Remove(o.created[i])
	}
}

// RemoveStaleTemps removes the temporary files that an interrupted run
// left beside the outputs planned for ins (each base+suffix in
// outDir/rel) and returns their names.
func RemoveStaleTemps(ins []Input, outDir string, suffixes []string) ([]string, error) {
	var planned []string
	for _, in := range ins {
		for _, s := range suffixes {
			planned = append(planned, filepath.Join(outDir, in.Rel, in.Base+s))
		}
	}
	return imageio.RemoveStaleTemps(planned)
}

// NewOutputs writes a run's outputs, refusing to write over any of its
// inputs or over the other files given (a class file, inputs skipped by
// name).
func NewOutputs(ins []Input, other ...string) *Outputs {
	paths := other
	for _, in := range ins {
		paths = append(paths, in.Path)
	}
	return &Outputs{Guard: NewGuard(paths...)}
}
