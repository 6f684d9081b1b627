package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// store says where an uploaded image is kept while its request waits:
// in memory up to spillAt bytes, else in a temporary file under dir ("" =
// the system's temporary folder). Admitted requests are at most
// max_concurrent + queue, so the files are bounded by that many bodies,
// and memory holds at most spillAt bytes of each (docs/service.md,
// "Memory").
type store struct {
	sizeHint int64 // the body's declared length, -1 when unknown
	spillAt  int64 // 0: never spill
	dir      string
}

// upload is an uploaded file, in memory or in an unlinked temporary file.
type upload struct {
	mem  []byte
	file *os.File
	path string // removed at close when it could not be unlinked at once
	size int64

	once sync.Once
}

// readUpload reads r (at most limit bytes, else a 413) into memory, or,
// past st.spillAt bytes, into a temporary file.
func readUpload(r io.Reader, limit int64, st store) (*upload, error) {
	memLimit := limit
	if st.spillAt > 0 && st.spillAt < limit {
		memLimit = st.spillAt
	}
	data, err := readLimited(r, memLimit, st.sizeHint)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) <= memLimit {
		return &upload{mem: data, size: int64(len(data))}, nil
	}
	if memLimit == limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "image larger than %d bytes", limit)
	}
	f, err := os.CreateTemp(st.dir, "freeseg-upload-*")
	if err != nil {
		return nil, storeError(err)
	}
	u := &upload{file: f}
	// Unlinked at once where the system allows it: nothing is left behind
	// even if the process is killed.
	if os.Remove(f.Name()) != nil {
		u.path = f.Name()
	}
	n, err := f.Write(data)
	if err == nil {
		var m int64
		m, err = io.Copy(f, io.LimitReader(r, limit+1-int64(n)))
		n += int(m)
	}
	u.size = int64(n)
	if err != nil {
		u.close()
		if isReadError(err) {
			return nil, err
		}
		return nil, storeError(err)
	}
	if u.size > limit {
		u.close()
		return nil, errorf(http.StatusRequestEntityTooLarge, "image larger than %d bytes", limit)
	}
	return u, nil
}

// storeError is a failure of the upload folder (500), without its path:
// the client has no use for the server's file system layout.
func storeError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return errorf(http.StatusInternalServerError, "storing the upload: %v", err)
}

// isReadError tells the body's read errors (which readForm classifies:
// 408, 413, 400) from the temporary file's write errors.
func isReadError(err error) bool {
	var pe *os.PathError
	return !errors.As(err, &pe)
}

// reader reads the upload from its start.
func (u *upload) reader() io.Reader {
	if u.file != nil {
		return io.NewSectionReader(u.file, 0, u.size)
	}
	return bytes.NewReader(u.mem)
}

// bytes returns the upload in memory (reading the file once, into a buffer
// of its exact size).
func (u *upload) bytes() ([]byte, error) {
	if u.file == nil {
		return u.mem, nil
	}
	b := make([]byte, u.size)
	if _, err := u.file.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the stored upload: %w", err)
	}
	return b, nil
}

// close releases the upload (its file, or its bytes); it may be called
// more than once.
func (u *upload) close() {
	u.once.Do(func() {
		if u.file != nil {
			u.file.Close()
			if u.path != "" {
				os.Remove(u.path)
			}
		}
	})
}
