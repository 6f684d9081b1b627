package batch

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/imageio"
)

// Memory bounds of the image commands (docs/cli.md, "Memory"). An image is
// checked from its header before it is decoded: a 44 KB PNG can claim
// 19000x19000 pixels, and every later stage (logits of every name at image
// size, PAMR, probabilities, overlay) grows with the pixel count, so the
// whole run's peak is estimated first and refused above the bound.

// memInfo reads MemAvailable and MemTotal (bytes) from /proc/meminfo; 0
// when unknown.
func memInfo(path string) (avail, total int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || n < 0 {
			continue
		}
		if len(fields) > 1 && strings.EqualFold(fields[1], "kB") {
			n *= 1024
		}
		switch k {
		case "MemAvailable":
			avail = n
		case "MemTotal":
			total = n
		}
	}
	return avail, total
}

// fallbackMemLimit is the bound where /proc/meminfo cannot be read.
const fallbackMemLimit = 4 << 30

// MemLimit is the memory bound in bytes: flagMB when positive, else half of
// the memory available now (MemAvailable, or MemTotal without it): the Go
// heap grows to about twice its live size between collections, so live
// data of half the available memory is what fits. It also says where the
// bound comes from, for messages.
func MemLimit(flagMB int64, meminfo string) (int64, string) {
	if flagMB > 0 {
		return flagMB << 20, "--max-memory-mb"
	}
	avail, total := memInfo(meminfo)
	switch {
	case avail > 0:
		return avail / 2, "half of the available memory; raise it with --max-memory-mb"
	case total > 0:
		return total / 2, "half of the machine's memory; raise it with --max-memory-mb"
	}
	return fallbackMemLimit, "the default when the machine's memory is unknown; set --max-memory-mb"
}

// Stage is an estimate of the memory of one image's run, by stage.
type Stage struct {
	Name  string
	Bytes int64
}

// SegmentMemory estimates the live memory of segmenting one image from its
// header: the largest of its stages (each also holding what earlier stages
// keep). names is the number of encoded names (synonyms and background
// names included), classes the number of classes; outW×outH is the image
// after any --max-side scaling, inW×inH the network input.
func SegmentMemory(h imageio.Header, outW, outH, inW, inH, names, classes int, o freeseg.Options, exif, tensors bool) []Stage {
	P0 := h.Pixels()
	P := int64(outW) * int64(outH)
	in := int64(inW) * int64(inH)
	Q, C := int64(names), int64(classes)
	decode := h.DecodeBytes()
	if exif {
		decode += 3 * P0 // a rotated copy
	}
	if P != P0 {
		decode += 3 * P // the scaled copy, while the full one is alive
	}
	img := 3 * P
	// Network input (resized RGB and planar float32) and the window
	// predictions accumulated at input size.
	input := img + 15*in + 4*Q*in + 4*in
	logits := 4 * Q * P
	st := []Stage{{"decoding", decode}, {"network input", input}}
	if o.PAMRSteps > 0 {
		// guide (3 float32), neighbour indices and affinities (16 each),
		// and a second copy of the logits.
		nd := int64(max(1, len(o.PAMRDilations)))
		st = append(st, Stage{"PAMR", img + logits + 12*P + 64*nd*P + 4*Q*P})
	}
	post := img + logits + 4*C*P + 4*P + 8*P // probabilities, labels, pooling buffer
	st = append(st, Stage{"probabilities", post})
	out := img + logits + 4*C*P + 4*P + 14*P // overlay copy, RGBA for the encoder, label image
	if tensors {
		out += 8 * P
	}
	st = append(st, Stage{"outputs", out})
	return st
}

// Peak is the largest stage.
func Peak(st []Stage) Stage {
	var m Stage
	for _, s := range st {
		if s.Bytes > m.Bytes {
			m = s
		}
	}
	return m
}

// FormatBytes writes a byte count for messages (KiB, MiB or GiB).
func FormatBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (b+1023)/1024)
}

// SuggestMaxSide is the largest long side, a multiple of 256 (at least 256),
// at which the estimate fits: est scales with the pixel count.
func SuggestMaxSide(w, h int, est, limit int64) int {
	long := max(w, h)
	s := long
	for s > 256 {
		f := float64(s) / float64(long)
		if float64(est)*f*f <= float64(limit)*0.9 {
			break
		}
		s -= 256
		s -= s % 256
	}
	return max(256, s)
}

// CheckImageMemory probes an image's header and refuses it when decoding
// it, or holding perPixel bytes per pixel of the (scaled) image besides
// the image itself, would exceed limit.
func CheckImageMemory(in *Input, maxSide int, exif bool, perPixel, limit int64, why string) error {
	h, err := imageio.Probe(in.Path)
	if err != nil {
		return err
	}
	in.Header = h
	w, hh := imageio.FitLongSide(h.Width, h.Height, maxSide)
	P := int64(w) * int64(hh)
	st := []Stage{{"decoding", h.DecodeBytes()}, {"maps", (3 + perPixel) * P}}
	if exif {
		st[0].Bytes += 3 * h.Pixels()
	}
	if pk := Peak(st); pk.Bytes > limit {
		msg := fmt.Sprintf("%s: %dx%d pixels (%.1f megapixels, from the header) need about %s at the %s stage, more than the limit of %s (%s)",
			in.Path, h.Width, h.Height, float64(h.Pixels())/1e6, FormatBytes(pk.Bytes), pk.Name, FormatBytes(limit), why)
		if st[0].Bytes > limit {
			msg += "; the file cannot be decoded within it"
		} else if maxSide >= 0 {
			msg += fmt.Sprintf("; scale it down first with --max-side %d", SuggestMaxSide(w, hh, pk.Bytes, limit))
		}
		return errors.New(msg)
	}
	return nil
}

// CheckImages refuses, before any work, images that cannot be read, that
// are freeseg's own outputs, or whose decoding needs more memory than the
// bound of maxMemoryMB (see MemLimit), for the commands that reduce an
// image to a fixed-size input: features, embed, classify.
func CheckImages(paths []string, exif bool, maxMemoryMB int64) error {
	if maxMemoryMB < 0 {
		return freeseg.Usagef("--max-memory-mb %d must not be negative", maxMemoryMB)
	}
	limit, why := MemLimit(maxMemoryMB, "/proc/meminfo")
	for _, p := range paths {
		in := Input{Path: p}
		if m := OwnMarker(p); m != "" {
			return fmt.Errorf("%s is freeseg's own %s output (PNG text %s=%s), not taken as an input", p, m, MarkerKey, m)
		}
		if err := CheckImageMemory(&in, -1, exif, 12, limit, why); err != nil {
			return err
		}
	}
	return nil
}
