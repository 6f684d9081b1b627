package freeseg

import (
	"bytes"
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
type ClassifierCache struct {
	Dir string // "" = memory only

	mu  sync.Mutex
	mem map[string][]float32
	// Hits and Misses count rows served from the cache and computed.
	Hits, Misses int
}

// NewClassifierCache makes a cache, on disk under dir when dir is not "".
func NewClassifierCache(dir string) *ClassifierCache {
	return &ClassifierCache{Dir: dir, mem: map[string][]float32{}}
}

// Stats returns Hits and Misses read under the cache's lock (reading the
// fields directly races with concurrent Get calls), and how many rows the
// memory cache holds.
func (c *ClassifierCache) Stats() (hits, misses, rows int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Hits, c.Misses, len(c.mem)
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

// Get returns the classifier [len(names), E] for templates (named setName
// in the cache layout), computing the rows that are not cached.
func (c *ClassifierCache) Get(m *clip.Model, names []string, setName string, templates []string) ([]float32, error) {
	E := m.Config.EmbedDim
	tplKey := hashStrings(templates...)[:16]
	if p := m.Precision(); p != clip.FP32 {
		tplKey += "-" + p.String() // bf16 embeddings differ from fp32 ones
	}
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
		if row, ok := c.mem[tplKey+"\x00"+n]; ok {
			copy(out[i*E:], row)
			c.Hits++
			continue
		}
		if c.Dir != "" {
			if row, ok := c.readDisk(digest, setName, tplKey, n, E); ok {
				c.mem[tplKey+"\x00"+n] = row
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
		c.mem[tplKey+"\x00"+n] = append([]float32(nil), row...)
		c.Misses++
		if c.Dir != "" {
			// A cache that cannot be written is not an error: the result
			// is already computed.
			_ = c.writeDisk(digest, setName, tplKey, n, row)
		}
	}
	return out, nil
}

func (c *ClassifierCache) path(digest, setName, tplKey, name string) string {
	return filepath.Join(c.Dir, "classifiers", digest[:min(32, len(digest))], sanitize(setName)+"-"+tplKey, hashStrings(name)[:32]+".bin")
}

const cacheMagic = "freeseg-classifier-v1\n"

func (c *ClassifierCache) readDisk(digest, setName, tplKey, name string, E int) ([]float32, bool) {
	b, err := os.ReadFile(c.path(digest, setName, tplKey, name))
	if err != nil {
		return nil, false
	}
	row, err := decodeRow(b, name, E)
	return row, err == nil
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

func (c *ClassifierCache) writeDisk(digest, setName, tplKey, name string, row []float32) error {
	p := c.path(digest, setName, tplKey, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return imageio.WriteFileAtomic(p, func(w io.Writer) error {
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
