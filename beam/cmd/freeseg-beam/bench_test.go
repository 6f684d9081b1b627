package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/freeseg/freeseg/eval/evaltest"
	"github.com/freeseg/freeseg/internal/golden"
)

var beamBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// beamPath builds this command, so that the benchmark runs both commands
// the same way: a process that loads the model and segments the images.
func beamPath(b *testing.B) string {
	beamBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "freeseg-beam")
		if err != nil {
			beamBin.err = err
			return
		}
		beamBin.path = filepath.Join(dir, "freeseg-beam")
		beamBin.out, beamBin.err = exec.Command("go", "build", "-o", beamBin.path, ".").CombinedOutput()
	})
	if beamBin.err != nil {
		b.Fatalf("building freeseg-beam: %v\n%s", beamBin.err, beamBin.out)
	}
	return beamBin.path
}

// BenchmarkSegment40 runs freeseg segment and freeseg-beam segment (Prism
// in-process) over the same 40 images with the default pipeline flags on
// the tiny model, and reports images/s for each: the difference is the
// engine's overhead on one machine. Run with -benchtime=1x (or 3x).
func BenchmarkSegment40(b *testing.B) {
	model := golden.Path(b, "tiny-clip")
	dir := b.TempDir()
	var imgs []string
	for i := 0; i < 40; i++ {
		p := filepath.Join(dir, "in", fmt.Sprintf("img%02d.png", i))
		evaltest.WriteImage(b, p, 320, 240, i)
		imgs = append(imgs, p)
	}
	cache := b.TempDir() // one classifier cache, warmed before timing
	env := append(os.Environ(), "XDG_CACHE_HOME="+cache)
	cmds := map[string]func(out string) *exec.Cmd{
		"freeseg": func(out string) *exec.Cmd {
			return exec.Command(cliPath(b), append([]string{"segment", "--model", model, "--classes", "cat; dog; grass", "--out", out, "--quiet"}, imgs...)...)
		},
		"freeseg-beam-prism": func(out string) *exec.Cmd {
			return exec.Command(beamPath(b), "segment", "--model", model, "--classes", "cat; dog; grass", "--output", out, "--quiet", "--input", filepath.Join(dir, "in", "*.png"))
		},
	}
	for _, name := range []string{"freeseg", "freeseg-beam-prism"} {
		b.Run(name, func(b *testing.B) {
			warm := cmds[name](b.TempDir())
			warm.Env = env
			if out, err := warm.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", name, err, out)
			}
			var total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := cmds[name](filepath.Join(b.TempDir(), "out"))
				c.Env = env
				start := time.Now()
				if out, err := c.CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", name, err, out)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(40*b.N)/total.Seconds(), "images/s")
		})
	}
}
