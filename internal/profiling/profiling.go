// Package profiling writes CPU profiles of a command's run (the library
// half of a --cpuprofile option): StartCPU begins one, the returned stop
// function ends it and closes the file. Read the profile with
// `go tool pprof -top BINARY FILE` (docs/speed.md shows the tables this
// gave for the encoder and the whole pipeline).
package profiling

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
)

// StartCPU starts a CPU profile written to path, which must not exist yet
// (a file the user already has is never overwritten). Call stop once the
// work to profile is done; it stops the profile and reports any write
// error. Only one CPU profile can run in a process at a time.
func StartCPU(path string) (stop func() error, err error) {
	if path == "" {
		return nil, errors.New("--cpuprofile: empty file name")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("--cpuprofile %s: the file exists; name a new file (it is never overwritten)", path)
		}
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(path) // ours: created empty above
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	stopped := false
	return func() error {
		if stopped {
			return nil
		}
		stopped = true
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile %s: %w", path, err)
		}
		return nil
	}, nil
}
