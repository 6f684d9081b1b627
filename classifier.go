package freeseg

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
)

// ClassifierCache keeps prompt-ensemble classifier rows per (template list,
// class name), in memory and, when Dir is set, on disk keyed by the model
// digest, so that a second run with the same vocabulary does no text work.
// Rows are cached per name, so a vocabulary that shares names with an
// earlier one reuses them.
//
// Both stores are bounded least-recently-used caches (docs/service.md,
// "Classifier cache"): MaxRows rows in memory, MaxDiskBytes on disk. A
// client that sends a new name with every request evicts old rows instead
// of growing the process or the disk.
type ClassifierCache struct {
	Dir string // "" = memory only
	// MaxRows bounds the rows held in memory (0 = DefaultCacheRows).
	MaxRows int
	// MaxDiskBytes bounds the files under Dir/classifiers, each counted in
	// whole 4 KiB blocks as a file system stores it (0 =
	// DefaultCacheDiskBytes). The least recently used files are removed;
	// their modification time records use, so the order survives restarts.
	MaxDiskBytes int64

	mu      sync.Mutex
	mem     map[string]*list.Element // key → element of lru (*memRow)
	lru     *list.List               // front: most recently used
	disk    *diskIndex               // nil until the first disk access
	digests map[*clip.Model]string
	// models numbers the models rows were computed for: one cache may
	// serve several models, and a row is only ever reused for its own (the
	// map holds each model, so its address cannot be reused by another).
	models map[*clip.Model]int
	// Hits and Misses count rows served from the cache and computed.
	Hits, Misses int
	// Evictions counts rows dropped from memory, DiskEvictions files
	// removed from disk, to stay within the bounds.
	Evictions, DiskEvictions int
}

// DefaultCacheRows is the default in-memory bound: 10,000 rows are 20 MB
// for 512-wide embeddings (ViT-B), 31 MB for 768 (ViT-L).
const DefaultCacheRows = 10_000

// DefaultCacheDiskBytes is the default on-disk bound, 256 MiB (about
// 65,000 entries at one 4 KiB block each).
const DefaultCacheDiskBytes = 256 << 20

type memRow struct {
	key string
	row []float32
}

// NewClassifierCache makes a cache, on disk under dir when dir is not "",
// with the default bounds.
func NewClassifierCache(dir string) *ClassifierCache {
	return &ClassifierCache{Dir: dir}
}

// CacheStats describe a ClassifierCache.
type CacheStats struct {
	Hits, Misses, Evictions int
	Rows                    int   // rows in memory
	MemBytes                int64 // their floats
	DiskFiles               int   // entries on disk (0 until the disk is first used)
	DiskBytes               int64 // their size in 4 KiB blocks
	DiskEvictions           int
	MaxRows                 int
	MaxDiskBytes            int64
}

// Stats returns Hits and Misses read under the cache's lock (reading the
// fields directly races with concurrent Get calls), and how many rows the
// memory cache holds.
func (c *ClassifierCache) Stats() (hits, misses, rows int) {
	s := c.Statistics()
	return s.Hits, s.Misses, s.Rows
}

// Statistics returns the counters and sizes under the cache's lock.
func (c *ClassifierCache) Statistics() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := CacheStats{Hits: c.Hits, Misses: c.Misses, Evictions: c.Evictions, DiskEvictions: c.DiskEvictions,
		MaxRows: c.maxRows(), MaxDiskBytes: c.maxDisk()}
	if c.lru != nil {
		s.Rows = c.lru.Len()
		for e := c.lru.Front(); e != nil; e = e.Next() {
			s.MemBytes += int64(4 * len(e.Value.(*memRow).row))
		}
	}
	if c.disk != nil {
		s.DiskFiles, s.DiskBytes = len(c.disk.files), c.disk.bytes
	}
	return s
}

func (c *ClassifierCache) maxRows() int {
	if c.MaxRows > 0 {
		return c.MaxRows
	}
	return DefaultCacheRows
}

func (c *ClassifierCache) maxDisk() int64 {
	if c.MaxDiskBytes > 0 {
		return c.MaxDiskBytes
	}
	return DefaultCacheDiskBytes
}

// memGet returns a row and marks it used; c.mu is held.
func (c *ClassifierCache) memGet(key string) ([]float32, bool) {
	e, ok := c.mem[key] // a nil map has no rows
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*memRow).row, true
}

// memPut stores a row, evicting the least recently used beyond MaxRows;
// c.mu is held.
func (c *ClassifierCache) memPut(key string, row []float32) {
	if c.mem == nil {
		c.mem, c.lru = map[string]*list.Element{}, list.New()
	}
	if e, ok := c.mem[key]; ok {
		e.Value.(*memRow).row = row
		c.lru.MoveToFront(e)
		return
	}
	c.mem[key] = c.lru.PushFront(&memRow{key, row})
	for c.lru.Len() > c.maxRows() {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.mem, old.Value.(*memRow).key)
		c.Evictions++
	}
}

// DefaultCacheDir is $FREESEG_CACHE, else the user cache folder + /freeseg.
func DefaultCacheDir() string {
	if d := os.Getenv("FREESEG_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "freeseg")
	}
	return ""
}

func hashStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keys returns the memory key of a name and the disk key of the template
// list, for model m (rows of different models, or precisions, differ).
func (c *ClassifierCache) keys(m *clip.Model, templates []string) (memKey func(string) string, tplKey string) {
	tplKey = hashStrings(templates...)[:16]
	if p := m.Precision(); p != clip.FP32 {
		tplKey += "-" + p.String() // bf16 embeddings differ from fp32 ones
	}
	c.mu.Lock()
	if c.models == nil {
		c.models = map[*clip.Model]int{}
	}
	id, ok := c.models[m]
	if !ok {
		id = len(c.models)
		c.models[m] = id
	}
	c.mu.Unlock()
	return func(n string) string { return fmt.Sprintf("%d\x00%s\x00%s", id, tplKey, n) }, tplKey
}

// Get returns the classifier [len(names), E] for templates (named setName
// in the cache layout), computing the rows that are not cached.
func (c *ClassifierCache) Get(m *clip.Model, names []string, setName string, templates []string) ([]float32, error) {
	E := m.Config.EmbedDim
	memKey, tplKey := c.keys(m, templates)
	var digest string
	if c.Dir != "" {
		d, err := c.digest(m)
		if err != nil {
			return nil, err
		}
		digest = d
	}
	out := make([]float32, len(names)*E)
	var missing []string
	var missIdx []int
	c.mu.Lock()
	for i, n := range names {
		if row, ok := c.memGet(memKey(n)); ok {
			copy(out[i*E:], row)
			c.Hits++
			continue
		}
		if c.Dir != "" {
			if row, ok := c.readDisk(digest, setName, tplKey, n, E); ok {
				c.memPut(memKey(n), row)
				copy(out[i*E:], row)
				c.Hits++
				continue
			}
		}
		missing = append(missing, n)
		missIdx = append(missIdx, i)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := m.Classifier(missing, templates)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for j, n := range missing {
		row := rows[j*E : (j+1)*E]
		copy(out[missIdx[j]*E:], row)
		c.memPut(memKey(n), append([]float32(nil), row...))
		c.Misses++
		if c.Dir != "" {
			// A cache that cannot be written is not an error: the result
			// is already computed.
			_ = c.writeDisk(digest, setName, tplKey, n, row)
		}
	}
	return out, nil
}

// Uncached returns the names whose rows for templates are neither in
// memory nor on disk (an entry file that exists counts as cached), without
// computing or reading any.
func (c *ClassifierCache) Uncached(m *clip.Model, names []string, setName string, templates []string) []string {
	memKey, tplKey := c.keys(m, templates)
	var digest string
	if c.Dir != "" {
		digest, _ = c.digest(m)
	}
	var out []string
	seen := map[string]bool{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if _, ok := c.mem[memKey(n)]; ok {
			continue
		}
		if digest != "" {
			if _, err := os.Stat(c.path(digest, setName, tplKey, n)); err == nil {
				continue
			}
		}
		out = append(out, n)
	}
	return out
}

func (c *ClassifierCache) path(digest, setName, tplKey, name string) string {
	return filepath.Join(c.Dir, "classifiers", digest[:min(32, len(digest))], sanitize(setName)+"-"+tplKey, hashStrings(name)[:32]+".bin")
}

const cacheMagic = "freeseg-classifier-v1\n"

// readDisk reads an entry and marks it used; c.mu is held.
func (c *ClassifierCache) readDisk(digest, setName, tplKey, name string, E int) ([]float32, bool) {
	p := c.path(digest, setName, tplKey, name)
	c.diskIndex()
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	// An entry is a header, the name and E floats: read no more than that
	// from a file that claims to be one.
	b, err := io.ReadAll(io.LimitReader(f, int64(len(cacheMagic)+8+len(name)+4*E+1)))
	f.Close()
	if err != nil {
		return nil, false
	}
	row, err := decodeRow(b, name, E)
	if err != nil {
		return nil, false
	}
	c.disk.touch(p, int64(len(b)))
	return row, true
}

// decodeRow checks a cache entry's header (magic, name, width) before
// trusting its floats, so a corrupt or colliding file is recomputed.
func decodeRow(b []byte, name string, E int) ([]float32, error) {
	if !bytes.HasPrefix(b, []byte(cacheMagic)) {
		return nil, fmt.Errorf("bad magic")
	}
	b = b[len(cacheMagic):]
	if len(b) < 8 {
		return nil, fmt.Errorf("short header")
	}
	nl, e := int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
	b = b[8:]
	if nl != len(name) || e != E || len(b) != nl+4*E || string(b[:nl]) != name {
		return nil, fmt.Errorf("entry for another name or width")
	}
	b = b[nl:]
	row := make([]float32, E)
	for i := range row {
		row[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(row[i])) {
			return nil, fmt.Errorf("NaN in entry")
		}
	}
	return row, nil
}

// writeDisk writes an entry and removes the least recently used ones past
// MaxDiskBytes; c.mu is held.
func (c *ClassifierCache) writeDisk(digest, setName, tplKey, name string, row []float32) error {
	p := c.path(digest, setName, tplKey, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	c.diskIndex()
	size := int64(len(cacheMagic) + 8 + len(name) + 4*len(row))
	err := imageio.WriteFileAtomic(p, func(w io.Writer) error {
		var buf bytes.Buffer
		buf.WriteString(cacheMagic)
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(name)))
		binary.LittleEndian.PutUint32(hdr[4:], uint32(len(row)))
		buf.Write(hdr[:])
		buf.WriteString(name)
		for _, v := range row {
			binary.LittleEndian.PutUint32(hdr[:4], math.Float32bits(v))
			buf.Write(hdr[:4])
		}
		_, err := w.Write(buf.Bytes())
		return err
	})
	if err != nil {
		return err
	}
	c.disk.add(p, size)
	c.DiskEvictions += c.disk.evict(c.maxDisk())
	return nil
}

// sanitize keeps a template-set name usable as a folder name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// digest returns the model's content digest, remembering it on disk per
// (path, size, modification time) so that a second run does not hash a
// large checkpoint again.
func (c *ClassifierCache) digest(m *clip.Model) (string, error) {
	c.mu.Lock()
	d, ok := c.digests[m]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := c.computeDigest(m)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.digests == nil {
		c.digests = map[*clip.Model]string{}
	}
	c.digests[m] = d
	c.mu.Unlock()
	return d, nil
}

func (c *ClassifierCache) computeDigest(m *clip.Model) (string, error) {
	if m.Path == "" {
		return m.Digest()
	}
	st, err := os.Stat(m.Path)
	if err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(m.Path)
	memo := filepath.Join(c.Dir, "digests", hashStrings(abs, fmt.Sprint(st.Size()), fmt.Sprint(st.ModTime().UnixNano()))[:32])
	if b, err := os.ReadFile(memo); err == nil && len(b) == 64 {
		if _, err := hex.DecodeString(string(b)); err == nil {
			return string(b), nil
		}
	}
	d, err := m.Digest()
	if err != nil {
		return "", err
	}
	if os.MkdirAll(filepath.Dir(memo), 0o755) == nil {
		_ = imageio.WriteFileAtomic(memo, func(w io.Writer) error { _, err := io.WriteString(w, d); return err })
	}
	return d, nil
}
