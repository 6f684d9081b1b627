package freeseg_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/clip"
	"github.com/freeseg/freeseg/imageio"
	"github.com/freeseg/freeseg/prompts"
)

// cancelAfter is a context whose Err turns to Canceled after it has been
// asked n times: a stand-in for a client that goes away mid-request.
type cancelAfter struct {
	context.Context
	n, asked atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.asked.Add(1) > c.n.Load() {
		return context.Canceled
	}
	return nil
}

// A cancelled request stops between blocks and windows: Segment and
// Explain return the context's error soon after it turns, instead of
// running every window to the end.
func TestCancellationStopsTheWork(t *testing.T) {
	m, err := clip.Random(clip.Config{VisionWidth: 64, VisionLayers: 6, VisionHeads: 1, Patch: 16, Grid: 4, EmbedDim: 32,
		TextWidth: 64, TextLayers: 1, TextHeads: 1, ContextLength: 77, VocabSize: 49408}, 3)
	if err != nil {
		t.Fatal(err)
	}
	e := freeseg.NewEngine(m)
	img := imageio.NewRGB(200, 120)
	v := &prompts.Vocabulary{Names: [][]string{{"cat"}, {"dog"}}}
	for _, method := range []string{"surgery", "naclip"} {
		o := freeseg.DefaultOptions()
		o.PAMRSteps = 0
		if err := freeseg.Apply(&o, map[string]string{"method": method}, freeseg.ForSegment); err != nil {
			t.Fatal(err)
		}
		checkCancel(t, e, img, v, o)
	}
	c := &cancelAfter{Context: context.Background()}
	if _, err := e.Explain(c, img, []string{"cat", "dog"}, freeseg.DefaultExplainOptions()); !errors.Is(err, context.Canceled) {
		t.Fatalf("explain: %v", err)
	}
}

func checkCancel(t *testing.T, e *freeseg.Engine, img *imageio.RGB, v *prompts.Vocabulary, o freeseg.Options) {
	t.Helper()
	// A full run asks many times (every block of every window batch).
	full := &cancelAfter{Context: context.Background()}
	full.n.Store(1 << 30)
	if _, err := e.Segment(full, img, v, o); err != nil {
		t.Fatal(err)
	}
	for _, after := range []int64{0, 3} {
		c := &cancelAfter{Context: context.Background()}
		c.n.Store(after)
		if _, err := e.Segment(c, img, v, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled after %d checks: %v", after, err)
		}
		if c.asked.Load() > after+1 {
			t.Errorf("cancelled after %d checks, the work went on for %d more", after, c.asked.Load()-after-1)
		}
	}
	if full.asked.Load() < 6 {
		t.Errorf("%s: a full run checked the context only %d times", o.Method.Name, full.asked.Load())
	}
}
