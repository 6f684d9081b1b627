package batch

import (
	"fmt"
	"os"
)

// Guard refuses to write over any input file. Files are compared by
// identity (os.SameFile: device and inode on Unix), not by path text, so a
// symbolic link to an input, an output folder that is a link to the input
// folder, or another spelling of the path is caught.
type Guard struct {
	files []os.FileInfo
	paths []string
	ids   map[fileKey]int // index into files, where the system gives ids
}

func NewGuard(inputs ...string) Guard {
	g := Guard{ids: map[fileKey]int{}}
	for _, p := range inputs {
		if p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if k, ok := keyOf(st); ok {
			g.ids[k] = len(g.files)
		}
		g.files = append(g.files, st)
		g.paths = append(g.paths, p)
	}
	return g
}

// Check refuses out when it is (or links to) one of the inputs.
func (g Guard) Check(out string) error {
	st, err := os.Stat(out)
	if err != nil {
		return nil // does not exist (yet): it is no input
	}
	if k, ok := keyOf(st); ok {
		if i, hit := g.ids[k]; hit {
			return fmt.Errorf("refusing to write %s: it is the input %s", out, g.paths[i])
		}
		return nil
	}
	for i, f := range g.files {
		if os.SameFile(f, st) {
			return fmt.Errorf("refusing to write %s: it is the input %s", out, g.paths[i])
		}
	}
	return nil
}

// fileKey is a file's identity where the system gives one.
type fileKey struct{ dev, ino uint64 }
