package eval

import (
	"strings"
	"testing"
)

func TestMergeReportErrors(t *testing.T) {
	out := t.TempDir()
	if _, err := MergeReport(out, []string{out}, 3, "v"); err == nil || !strings.HasPrefix(err.Error(), "eval merge: ") {
		t.Errorf("merging a folder without a saved run into itself: %v, want an eval merge error", err)
	}
}
