package hub

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBar(t *testing.T) {
	clock := time.Unix(1000, 0)
	var out bytes.Buffer
	b := newBar(&out, "model.safetensors", 600_000_000, 100_000_000)
	b.now = func() time.Time { return clock }
	b.start, b.last = clock, clock

	clock = clock.Add(2 * time.Second)
	b.Write(make([]byte, 50_000_000)) // under barLineEvery: nothing yet
	if out.Len() != 0 {
		t.Fatalf("wrote %q before %s", out.String(), barLineEvery)
	}
	clock = clock.Add(8 * time.Second)
	b.Write(make([]byte, 50_000_000)) // 200 MB of 600 in 10 s, 100 MB of it new
	want := "model.safetensors  200.0 MB / 600.0 MB   33%  10.0 MB/s  ETA 40s\n"
	if out.String() != want {
		t.Errorf("line %q, want %q", out.String(), want)
	}
	out.Reset()
	b.tty = true
	if got := b.line(clock); !strings.Contains(got, "[========>               ]") {
		t.Errorf("terminal line %q has no bar", got)
	}
	clock = clock.Add(time.Second)
	b.Write(make([]byte, 1))
	if s := out.String(); !strings.HasPrefix(s, "\r") || !strings.HasSuffix(s, "\x1b[K") {
		t.Errorf("terminal redraw %q", s)
	}
	out.Reset()
	b.done = 600_000_000
	b.finish()
	if s := out.String(); !strings.Contains(s, "model.safetensors  600.0 MB in 11s (45.5 MB/s), resumed at 100.0 MB\x1b[K\n") {
		t.Errorf("summary %q", s)
	}

	// Unknown total, and a nil writer.
	u := newBar(nil, "x", -1, 0)
	u.Write([]byte("abc"))
	u.finish()
	if l := u.line(time.Now()); !strings.HasPrefix(l, "x  3 B") {
		t.Errorf("unknown-size line %q", l)
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1500: "1.5 kB", 598_600_000: "598.6 MB", 1_710_000_000: "1.71 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{3 * time.Second: "3s", 95 * time.Second: "1m35s", 2*time.Hour + 5*time.Minute: "2h05m"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
