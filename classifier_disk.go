package freeseg

import (
	"container/list"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// diskIndex tracks the entry files of the on-disk classifier cache in
// least-recently-used order, so the cache can stay within its bound
// without listing the folder on every write. It is built once, from the
// files' modification times, on the first disk access of a process; files
// another process adds later are counted when this one next starts.
type diskIndex struct {
	files map[string]*list.Element // path → element (*diskFile)
	order *list.List               // front: most recently used
	bytes int64
}

type diskFile struct {
	path string
	size int64 // in whole blocks
}

// blockSize is what a small file occupies on common file systems.
const blockSize = 4096

func blocks(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// diskIndex builds c.disk on first use; c.mu is held.
func (c *ClassifierCache) diskIndex() {
	if c.disk != nil {
		return
	}
	d := &diskIndex{files: map[string]*list.Element{}, order: list.New()}
	c.disk = d
	type found struct {
		path  string
		size  int64
		mtime time.Time
	}
	var all []found
	root := filepath.Join(c.Dir, "classifiers")
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".bin") {
			return nil // unreadable parts are skipped: a cache, not data
		}
		if info, err := e.Info(); err == nil {
			all = append(all, found{p, info.Size(), info.ModTime()})
		}
		return nil
	})
	sort.Slice(all, func(i, j int) bool { return all[i].mtime.Before(all[j].mtime) })
	for _, f := range all { // oldest first, so the newest ends at the front
		d.add(f.path, f.size)
	}
	c.DiskEvictions += d.evict(c.maxDisk())
}

// add records a file of size bytes as the most recently used.
func (d *diskIndex) add(path string, size int64) {
	if e, ok := d.files[path]; ok {
		d.bytes -= e.Value.(*diskFile).size
		d.order.Remove(e)
	}
	f := &diskFile{path, blocks(size)}
	d.files[path] = d.order.PushFront(f)
	d.bytes += f.size
}

// touch marks a file used, on disk too (its modification time) so that
// the order survives a restart.
func (d *diskIndex) touch(path string, size int64) {
	d.add(path, size)
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}

// evict removes the least recently used files until the total is within
// max, keeping at least the newest. It returns how many it removed.
func (d *diskIndex) evict(max int64) int {
	n := 0
	for d.bytes > max && d.order.Len() > 1 {
		e := d.order.Back()
		f := e.Value.(*diskFile)
		d.order.Remove(e)
		delete(d.files, f.path)
		d.bytes -= f.size
		if err := os.Remove(f.path); err == nil || os.IsNotExist(err) {
			n++
		}
	}
	return n
}
