package weights

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
)

// legacyMagic is the first pickle of the pre-1.6 (non-zip) torch.save
// format: the int 0x1950a86a20f9469cfc6c, as LONG1 little-endian bytes.
var legacyMagic = []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// isLegacyTorch reports whether head starts with the legacy magic number.
func isLegacyTorch(head []byte) bool {
	if len(head) < 2 || head[0] != 0x80 {
		return false
	}
	head = head[2:]
	if len(head) >= 9 && head[0] == 0x95 { // FRAME (protocol 4+)
		head = head[9:]
	}
	return len(head) >= 2+len(legacyMagic) && head[0] == 0x8a && head[1] == byte(len(legacyMagic)) &&
		bytes.Equal(head[2:2+len(legacyMagic)], legacyMagic)
}

func legacyError(name string) error {
	return fmt.Errorf("%s: a legacy (pre-1.6, non-zip) torch.save file, which is not supported: re-save it with a current PyTorch (torch.save(torch.load(f), f2)) or convert it to safetensors", name)
}

// Read reads a checkpoint of any supported format, chosen by content: a
// PyTorch zip checkpoint (torch.save since PyTorch 1.6, open_clip .bin,
// TorchScript archives such as OpenAI's .pt files) or a safetensors file.
func Read(path string) (*File, error) {
	f, size, err := openFile(path, "a checkpoint file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var head [32]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return ParseTorch(f, size, path)
	case isLegacyTorch(h):
		return nil, legacyError(path)
	case n >= 2 && h[0] == 0x80 && h[1] <= 5 && !(n > 8 && h[8] == '{'): // not a safetensors length whose low byte is 0x80
		return nil, fmt.Errorf("%s: a bare pickle file, not a PyTorch zip checkpoint or safetensors file: re-save it with torch.save from a current PyTorch or convert it to safetensors", path)
	}
	return ParseSafetensors(f, size, path)
}

// ReadTorch reads a PyTorch zip checkpoint (see ParseTorch).
func ReadTorch(path string) (*File, error) {
	f, size, err := openFile(path, "a PyTorch checkpoint file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseTorch(f, size, path)
}

// ParseTorch reads a PyTorch zip checkpoint of the given size from r; name
// is used in error messages.
//
// For a torch.save file, the pickled top-level object must be a dict of
// name → tensor (an OrderedDict state dict), or a dict holding one under
// "state_dict", "model_state_dict", "model" or "module"; values that are not
// tensors are skipped. For a TorchScript archive (one with constants.pkl or
// code/), the module object graph is walked and every tensor attribute is
// returned under its dotted attribute path (visual.conv1.weight, ...). This
// includes tensor attributes that are neither parameters nor buffers, if
// the module has any.
//
// Views are honoured (storage offset and strides), storages shared by
// several tensors are read once, and floating-point tensors come back as
// float32, integer and bool ones as int64. Every size and offset is checked
// against the stored data before use.
func ParseTorch(r io.ReaderAt, size int64, name string) (*File, error) {
	var head [32]byte
	n, _ := r.ReadAt(head[:], 0)
	if isLegacyTorch(head[:n]) {
		return nil, legacyError(name)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // entries are never extracted to disk
		return nil, fmt.Errorf("%s: not a readable zip archive (truncated, or not a PyTorch checkpoint?): %v", name, err)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if _, dup := entries[f.Name]; dup {
			return nil, fmt.Errorf("%s: zip entry %q appears twice", name, f.Name)
		}
		entries[f.Name] = f
	}
	prefix, err := archivePrefix(zr.File, entries)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	bigEndian := false
	if f, ok := entries[prefix+"byteorder"]; ok {
		b, err := readEntry(f, size, 64, "a byteorder record")
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			bigEndian = true
		default:
			return nil, fmt.Errorf("%s: %sbyteorder is %q, want \"little\" or \"big\"", name, prefix, b)
		}
	}
	torchScript := entries[prefix+"constants.pkl"] != nil
	for n := range entries {
		if strings.HasPrefix(n, prefix+"code/") {
			torchScript = true
			break
		}
	}
	pkl, err := readEntry(entries[prefix+"data.pkl"], size, maxPickleBytes, "a pickle (data.pkl)")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	refs, err := collectRefs(name+": "+prefix+"data.pkl", pkl, torchScript)
	if err != nil {
		return nil, err
	}
	load := func(key string, need int64) ([]byte, bool, int64, error) {
		f, ok := entries[prefix+"data/"+key]
		if !ok {
			return nil, false, 0, fmt.Errorf("no zip entry %sdata/%s for storage %q", prefix, key, key)
		}
		b, complete, err := readEntryPrefix(f, size, need)
		return b, complete, int64(min(f.UncompressedSize64, math.MaxInt64/2)), err
	}
	tensors, err := materialize(refs, load, bigEndian)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &File{Path: name, Tensors: tensors}, nil
}

// archivePrefix finds the folder that holds data.pkl ("archive/"). PyTorch
// names it after the first entry's top-level folder.
func archivePrefix(files []*zip.File, entries map[string]*zip.File) (string, error) {
	if len(files) > 0 {
		if i := strings.IndexByte(files[0].Name, '/'); i > 0 {
			p := files[0].Name[:i+1]
			if entries[p+"data.pkl"] != nil {
				return p, nil
			}
		}
	}
	var found []string
	for n := range entries {
		if p, ok := strings.CutSuffix(n, "/data.pkl"); ok && p != "" && !strings.Contains(p, "/") {
			found = append(found, p+"/")
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("zip archive with %d entries has no <archive>/data.pkl: not a PyTorch checkpoint", len(files))
	}
	sort.Strings(found)
	return "", fmt.Errorf("zip archive has several data.pkl entries (%s): ambiguous PyTorch checkpoint", strings.Join(found, "data.pkl, ")+"data.pkl")
}

// maxPickleBytes bounds data.pkl. A state dict spends about 120 bytes of
// pickle per tensor (name, storage key, size and stride tuples: the tiny
// test CLIP's 148 tensors take 17,610 bytes) and a TorchScript archive a
// few hundred more per module; the largest CLIP (ViT-bigG/14, about 900
// tensors) needs well under 1 MiB. 16 MiB leaves room for 100,000+ tensors
// while bounding what the unpickler can be made to build (see
// maxPickleValues). docs/model-files.md lists every limit.
const maxPickleBytes = 16 << 20

// maxDeflateRatio is the most DEFLATE can expand: a 258-byte match costs at
// least 2 bits, so 1 compressed byte yields at most 1032 bytes. It bounds
// the buffer reserved for a compressed entry by what the file can really
// hold, whatever its header claims.
const maxDeflateRatio = 1032

// entryCapHint is how many bytes to reserve for reading want bytes of f:
// never more than the entry could hold given its compressed size, nor than
// its declared size (archive/zip fails a read past it).
func entryCapHint(f *zip.File, want int64) int64 {
	want = min(want, int64(min(f.UncompressedSize64, math.MaxInt64/2)))
	c := f.CompressedSize64
	if f.Method != zip.Store {
		if c > math.MaxInt64/(2*maxDeflateRatio) {
			return want
		}
		c = c*maxDeflateRatio + 64
	}
	return min(want, int64(min(c, math.MaxInt64/2)))
}

// readEntry reads a whole zip entry, verifying its CRC, refusing it as soon
// as more than limit bytes have come out (the declared size is never
// trusted: the check is on the bytes read). what names the limit in the
// error ("a pickle").
func readEntry(f *zip.File, fileSize int64, limit int64, what string) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("zip entry %s: declares %d bytes, more than the %d bytes allowed for %s", f.Name, f.UncompressedSize64, limit, what)
	}
	buf, complete, err := readEntryPrefix(f, fileSize, limit+1)
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > limit {
		return nil, fmt.Errorf("zip entry %s: more than the %d bytes allowed for %s (its header claims %d)", f.Name, limit, what, f.UncompressedSize64)
	}
	if !complete {
		return nil, fmt.Errorf("zip entry %s: reading: stopped before its end (truncated or corrupt file)", f.Name)
	}
	return buf, nil
}

// readEntryPrefix reads at most want bytes of a zip entry: all of it when
// it is shorter (complete is then true and archive/zip has checked the
// size and CRC), else exactly want bytes, leaving the rest unread, so a
// storage blob far larger than its tensors need costs only what they use.
// Memory follows the bytes actually decompressed, never a claimed size.
func readEntryPrefix(f *zip.File, fileSize int64, want int64) (buf []byte, complete bool, err error) {
	n := f.UncompressedSize64
	if n > math.MaxInt64/2 {
		return nil, false, fmt.Errorf("zip entry %s: impossible size %d", f.Name, n)
	}
	if f.Method == zip.Store && (f.CompressedSize64 != n || n > uint64(fileSize)) {
		return nil, false, fmt.Errorf("zip entry %s: stored entry claims %d bytes (%d compressed) in a %d-byte file (truncated or corrupt)", f.Name, n, f.CompressedSize64, fileSize)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, false, fmt.Errorf("zip entry %s: %v", f.Name, err)
	}
	defer rc.Close()
	buf = make([]byte, 0, entryCapHint(f, want))
	for int64(len(buf)) < want {
		if len(buf) == cap(buf) {
			grow := min(max(int64(cap(buf)), 1<<16), want-int64(len(buf)))
			buf = slices.Grow(buf, int(grow))
		}
		end := min(int64(cap(buf)), want)
		m, rerr := rc.Read(buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if rerr == io.EOF { // archive/zip checked the size and CRC
			return buf, true, nil
		}
		if rerr != nil {
			if errors.Is(rerr, zip.ErrFormat) { // what archive/zip says past the declared size
				return nil, false, fmt.Errorf("zip entry %s: holds more than the %d bytes its header declares (corrupt or forged file)", f.Name, n)
			}
			return nil, false, fmt.Errorf("zip entry %s: reading: %v (truncated or corrupt file)", f.Name, rerr)
		}
	}
	// want bytes read: the entry may end exactly here. One more read tells,
	// and at EOF makes archive/zip check the CRC.
	var one [1]byte
	m, rerr := rc.Read(one[:])
	for m == 0 && rerr == nil {
		m, rerr = rc.Read(one[:])
	}
	switch {
	case m == 0 && rerr == io.EOF:
		return buf, true, nil
	case m > 0:
		return buf, false, nil
	default:
		return nil, false, fmt.Errorf("zip entry %s: reading: %v (truncated or corrupt file)", f.Name, rerr)
	}
}

// maxNameLen bounds a dotted attribute path; maxNameBytes bounds all the
// names a walk may produce together.
const (
	maxNameLen   = 4096
	maxNameBytes = 64 << 20
)
