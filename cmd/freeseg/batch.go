package main

import (
	"errors"
	"flag"
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

// markerKey is the PNG tEXt keyword freeseg writes into every PNG it makes;
// its text says which output it is ("labels", "overlay", "heat").
const markerKey = "freeseg"

// ownOutputSuffixes are the names of freeseg's image outputs.
var ownOutputSuffixes = []string{".labels.png", ".overlay.png"}

// looksLikeOwnOutput reports a name freeseg gives its image outputs.
func looksLikeOwnOutput(name string) bool {
	n := strings.ToLower(name)
	for _, s := range ownOutputSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return strings.Contains(n, ".heat.") && strings.HasSuffix(n, ".png")
}

// ownMarker returns the marker text of a PNG freeseg wrote ("" if none).
func ownMarker(path string) string {
	if !strings.EqualFold(filepath.Ext(path), ".png") {
		return ""
	}
	m, err := imageio.PNGTextFile(path)
	if err != nil {
		return ""
	}
	return m[markerKey]
}

// markedPNG writes a PNG through enc with freeseg's marker.
func markedPNG(w io.Writer, kind string, enc func(io.Writer) error) error {
	mw, err := imageio.WithPNGText(w, markerKey, kind)
	if err != nil {
		return err
	}
	return enc(mw)
}

// input is one image of a run.
type input struct {
	path string // as given or found
	rel  string // its folder relative to the folder argument it came from ("" for files and with no --recursive)
	base string // output base name, unique in its output folder
	hdr  imageio.Header
	// inW×inH is the network input the settings give (segment).
	inW, inH int
}

// failure is one image that could not be processed.
type failure struct {
	path string
	err  error
}

// failures collects the per-image errors of a batch.
type failures struct {
	list  []failure
	total int
}

func (f *failures) add(path string, err error) { f.list = append(f.list, failure{path, err}) }

// err is nil when nothing failed, else one error listing every failure.
func (f *failures) err() error {
	if len(f.list) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d images failed:", len(f.list), f.total)
	for _, x := range f.list {
		msg := strings.TrimPrefix(x.err.Error(), "imageio: ")
		if !strings.Contains(msg, x.path) {
			msg = x.path + ": " + msg
		}
		fmt.Fprintf(&b, "\n  %s", msg)
	}
	return errors.New(b.String())
}

// expandInputs turns files and folders into the run's images, sorted within
// each folder. Files of a folder are taken by extension (imageExts); with
// recursive, subfolders too (not following links), except the output
// folder. freeseg's own outputs (a PNG carrying the marker, or an image
// named like one) are skipped in folders and refused when named
// explicitly; the skipped count is returned, and the skipped files that
// carry no marker (a user's files that only look like outputs), which the
// run must still never write over.
func expandInputs(args []string, recursive bool, outDir string) (ins []input, skipped int, protected []string, bad []failure, err error) {
	var out []input
	outInfo, _ := os.Stat(outDir)
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, 0, nil, nil, fmt.Errorf("image %s: %w", a, err)
		}
		if !st.IsDir() {
			if m := ownMarker(a); m != "" {
				bad = append(bad, failure{a, fmt.Errorf("%s is freeseg's own %s output (PNG text %s=%s), not taken as an input", a, m, markerKey, m)})
				continue
			}
			out = append(out, input{path: a})
			continue
		}
		var found []input
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
			if !imageExts[strings.ToLower(filepath.Ext(d.Name()))] {
				return nil
			}
			if marked := ownMarker(p) != ""; marked || looksLikeOwnOutput(d.Name()) {
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
			found = append(found, input{path: p, rel: rel})
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
			return nil, 0, nil, nil, fmt.Errorf("folder %s holds no images (%s)%s", a, strings.Join(sortedKeys(imageExts), " "), hint)
		}
		// WalkDir visits in lexical order, folders depth-first.
		out = append(out, found...)
	}
	return out, skipped, protected, bad, nil
}

// resolvePath is the absolute path of p with every symbolic link of its
// existing part resolved (the missing tail kept as written), so that two
// spellings of one folder compare equal.
func resolvePath(p string) string {
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

// assignNames gives every input a base name for its outputs (base +
// suffixes[k] in outDir/rel) such that no two inputs' outputs share a file
// name in a folder and no output has the name of an input file in that
// folder (compared without case, for case-insensitive file systems). The
// scheme is deterministic: the file name without its extension ("a" for
// a.png) when that is free; else with it ("a.png" for a.png when a.jpg is
// also there); else that with "-2", "-3", ... appended.
//
// keep are other files of the run (inputs skipped by name) whose names are
// reserved in their folders too.
func assignNames(ins []input, outDir string, suffixes []string, keep []string) {
	type group struct {
		idx      []int
		reserved map[string]bool // lower-case file names taken
	}
	groups := map[string]*group{}
	var order []string
	for i, in := range ins {
		k := resolvePath(filepath.Join(outDir, in.rel))
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
		keep = append(keep, in.path)
	}
	for _, p := range keep {
		if g := groups[resolvePath(filepath.Dir(p))]; g != nil {
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
			count[strings.ToLower(stem(ins[i].path))]++
		}
		// Unique stems first, so that a later duplicate cannot take the
		// plain name of a file that had it alone ("a-2" of a-2.png).
		var dup []int
		for _, i := range g.idx {
			s := stem(ins[i].path)
			if count[strings.ToLower(s)] == 1 && free(g, s) {
				ins[i].base = s
				take(g, s)
			} else {
				dup = append(dup, i)
			}
		}
		for _, i := range dup {
			b := filepath.Base(ins[i].path)
			cand := b
			for n := 2; !free(g, cand); n++ {
				cand = fmt.Sprintf("%s-%d", b, n)
			}
			ins[i].base = cand
			take(g, cand)
		}
	}
}

// outputs creates output folders on first use and removes, at the end,
// those it created that stayed empty (a run whose images all failed leaves
// no empty folder behind). It also refuses to write over any input.
type outputs struct {
	guard   guardInputs
	created []string // folders this run created, parents first
}

// ensureDir creates dir (and its parents) if needed, remembering which.
func (o *outputs) ensureDir(dir string) error {
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

// writeFile writes path atomically, creating its folder, after checking
// that it is not an input.
func (o *outputs) writeFile(path string, write func(io.Writer) error) error {
	if err := o.ensureDir(filepath.Dir(path)); err != nil {
		return err
	}
	return o.guard.writeFile(path, write)
}

// removeEmpty removes the folders this run created that are empty,
// deepest first (os.Remove refuses a folder that is not empty).
func (o *outputs) removeEmpty() {
	for i := len(o.created) - 1; i >= 0; i-- {
		os.Remove(o.created[i])
	}
}

// checkOutDir refuses an output folder that is a file or cannot be
// created or written, before any work: the nearest existing folder must
// take a new file.
func checkOutDir(dir string) error {
	if dir == "" {
		return usagef("--out DIR is required")
	}
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return fmt.Errorf("output folder %s is a file", dir)
				}
				return fmt.Errorf("output folder %s: %s is a file", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output folder %s: %w", dir, err)
		}
		p := filepath.Dir(d)
		if p == d {
			break
		}
		d = p
	}
	f, err := os.CreateTemp(d, ".freeseg-write-test*")
	if err != nil {
		return fmt.Errorf("output folder %s cannot be written: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// batchFlags are the batch and safety flags of the image commands. The
// scaling bound, maxSide, is the max_side setting of the settings table
// (--max-side), copied here once the flags are parsed.
type batchFlags struct {
	strict, recursive bool
	maxSide           int
	maxMemoryMB       int64
}

func (b *batchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&b.strict, "strict", false, "stop at the first image that fails (default: go on, list the failures at the end and exit 1)")
	fs.BoolVar(&b.recursive, "recursive", false, "take the images of subfolders too; outputs mirror the input tree")
	fs.Int64Var(&b.maxMemoryMB, "max-memory-mb", 0, "refuse images whose run is estimated (from the header) to need more memory than this (0 = half of the available memory)")
}

func (b *batchFlags) validate() error {
	if b.maxSide < 0 {
		return usagef("--max-side %d must not be negative", b.maxSide)
	}
	if b.maxMemoryMB < 0 {
		return usagef("--max-memory-mb %d must not be negative", b.maxMemoryMB)
	}
	return nil
}
