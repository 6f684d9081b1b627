package freeseg_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/prompts"
)

// countFiles counts the entry files under dir/classifiers and their bytes.
func countFiles(t *testing.T, dir string) (n int, bytes int64) {
	t.Helper()
	filepath.WalkDir(filepath.Join(dir, "classifiers"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(p, ".bin") {
			info, _ := e.Info()
			n++
			bytes += info.Size()
		}
		return nil
	})
	return n, bytes
}

// A client sending 40,000 distinct class names, 500 per request, must not
// grow the cache past its bounds in memory or on disk (the issue: 40,000
// names became 40,096 files). The bounds are small here to keep the test
// fast, and the disk part sends 1,000 names (every write is synced); the
// rows that are kept are the most recent ones.
func TestClassifierCacheBounded(t *testing.T) {
	e := randomEngine(t)
	tpl := []string{"a photo of a {}."}
	send := func(c *freeseg.ClassifierCache, total int) {
		for start := 0; start < total; start += 500 {
			names := make([]string, 500)
			for i := range names {
				names[i] = fmt.Sprintf("thing %d", start+i)
			}
			if _, err := c.Get(e.Model, names, "single", tpl); err != nil {
				t.Fatal(err)
			}
		}
	}
	mem := freeseg.NewClassifierCache("")
	mem.MaxRows = 300
	send(mem, 40_000)
	if s := mem.Statistics(); s.Rows != 300 || s.Misses != 40_000 || s.Evictions != 40_000-300 || s.MemBytes != 300*16*4 {
		t.Errorf("memory: %+v", s)
	}

	dir := t.TempDir()
	c := freeseg.NewClassifierCache(dir)
	c.MaxRows = 100
	c.MaxDiskBytes = 300 * 4096 // 300 entries of one block
	const total = 1000
	send(c, total)
	s := c.Statistics()
	n, _ := countFiles(t, dir)
	if n != 300 || s.DiskFiles != 300 || s.DiskBytes > c.MaxDiskBytes || s.DiskEvictions != total-300 || s.Rows != 100 {
		t.Errorf("disk: %d files; %+v", n, s)
	}
	// The newest name is served from memory, an older one kept on disk
	// only from disk, the oldest recomputed.
	h0, m0 := s.Hits, s.Misses
	if _, err := c.Get(e.Model, []string{"thing 999", "thing 750", "thing 0"}, "single", tpl); err != nil {
		t.Fatal(err)
	}
	if s := c.Statistics(); s.Hits != h0+2 || s.Misses != m0+1 {
		t.Errorf("after: %+v", s)
	}
}

// A new process reads the folder's entries in their order of use (file
// times) and applies its bound at once: the least recently used go first.
func TestClassifierDiskCacheRestart(t *testing.T) {
	e := randomEngine(t)
	dir := t.TempDir()
	tpl := []string{"a photo of a {}."}
	c := freeseg.NewClassifierCache(dir)
	for i := range 10 {
		if _, err := c.Get(e.Model, []string{fmt.Sprint("name ", i)}, "single", tpl); err != nil {
			t.Fatal(err)
		}
	}
	// Give the files distinct times: name 9 the newest, name 0 the oldest.
	for i := range 10 {
		c.Get(e.Model, []string{fmt.Sprint("name ", i)}, "single", tpl)
	}
	var paths []string
	filepath.WalkDir(filepath.Join(dir, "classifiers"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".bin") {
			paths = append(paths, p)
		}
		return nil
	})
	if len(paths) != 10 {
		t.Fatalf("%d files", len(paths))
	}
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		var i int
		for k := range 10 {
			if strings.Contains(string(b), fmt.Sprint("name ", k)) {
				i = k
			}
		}
		tm := time.Now().Add(time.Duration(i-100) * time.Second)
		os.Chtimes(p, tm, tm)
	}
	c2 := freeseg.NewClassifierCache(dir)
	c2.MaxDiskBytes = 3 * 4096
	// Opening keeps names 7, 8, 9; reading 9 and 7 makes 8 the least
	// recently used, so writing a new name removes 8.
	for _, n := range []string{"name 9", "name 7", "name 10"} {
		if _, err := c2.Get(e.Model, []string{n}, "single", tpl); err != nil {
			t.Fatal(err)
		}
	}
	if s := c2.Statistics(); s.Hits != 2 || s.Misses != 1 || s.DiskFiles != 3 || s.DiskEvictions != 8 {
		t.Fatalf("%+v", s)
	}
	if n, _ := countFiles(t, dir); n != 3 {
		t.Fatalf("%d files", n)
	}
	c3 := freeseg.NewClassifierCache(dir)
	for _, x := range []struct {
		name string
		hit  bool
	}{{"name 7", true}, {"name 9", true}, {"name 8", false}} {
		h := c3.Statistics().Hits
		if _, err := c3.Get(e.Model, []string{x.name}, "single", tpl); err != nil {
			t.Fatal(err)
		}
		if hit := c3.Statistics().Hits > h; hit != x.hit {
			t.Errorf("%s: hit %v, want %v", x.name, hit, x.hit)
		}
	}
}

// Uncached counts a name written to the disk cache by another cache on the
// same folder as cached, and the others (and not the disk) as uncached.
func TestUncachedReadsDisk(t *testing.T) {
	e := randomEngine(t)
	dir := t.TempDir()
	tpl, _ := prompts.TemplateSet("single").List()
	if _, err := freeseg.NewClassifierCache(dir).Get(e.Model, []string{"aardvark"}, "single", tpl); err != nil {
		t.Fatal(err)
	}
	c := freeseg.NewClassifierCache(dir)
	if got := c.Uncached(e.Model, []string{"aardvark", "zebra", "aardvark"}, "single", tpl); len(got) != 1 || got[0] != "zebra" {
		t.Errorf("on disk: uncached %q, want [zebra]", got)
	}
	if got := freeseg.NewClassifierCache("").Uncached(e.Model, []string{"aardvark"}, "single", tpl); len(got) != 1 {
		t.Errorf("memory only: uncached %q, want [aardvark]", got)
	}
}

// The disk cache's accounting by hand: an entry file is the 22-byte magic,
// an 8-byte header, the name and the row (16 float32 of the random model):
// 94 bytes plus the name. Names of 4,002 and 4,003 bytes make files of
// exactly 4,096 bytes (one 4 KiB block) and 4,097 (two); runs of spaces
// make them long without making them too long to encode. The set name's
// path separators and NUL become '_' in its folder name. With a bound
// smaller than one file the newest file stays.
func TestDiskCacheBlocksAndNames(t *testing.T) {
	e := randomEngine(t)
	tpl, _ := prompts.TemplateSet("single").List()
	for _, c := range []struct {
		n      int
		blocks int64
	}{{4002, 1}, {4003, 2}} {
		dir := t.TempDir()
		cache := freeseg.NewClassifierCache(dir)
		// CLIP's text cleaning collapses the spaces: two tokens, any length.
		name := "a" + strings.Repeat(" ", c.n-2) + "b"
		if _, err := cache.Get(e.Model, []string{name}, "my/set\\x\x00", tpl); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "classifiers", "*", "my_set_x_-*", "*.bin"))
		if len(files) != 1 {
			t.Fatalf("name of %d bytes: files %q", c.n, files)
		}
		st, _ := os.Stat(files[0])
		if s := cache.Statistics(); st.Size() != 94+int64(c.n) || s.DiskBytes != c.blocks*4096 || s.DiskFiles != 1 {
			t.Errorf("name of %d bytes: file of %d bytes, %+v; want %d bytes in %d blocks", c.n, st.Size(), s, 94+c.n, c.blocks)
		}
	}
	cache := freeseg.NewClassifierCache(t.TempDir())
	cache.MaxDiskBytes = 1
	for _, n := range []string{"cat", "dog"} {
		if _, err := cache.Get(e.Model, []string{n}, "single", tpl); err != nil {
			t.Fatal(err)
		}
	}
	if s := cache.Statistics(); s.DiskFiles != 1 || s.DiskEvictions != 1 {
		t.Errorf("bound of 1 byte: %+v; want the newest file kept, one evicted", s)
	}
}
