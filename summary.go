package freeseg

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Summary is the one-line report of a segmented image that the commands
// print: its size, the time d it took, and the classes present by the
// fraction of the image they cover, largest first.
func Summary(r *Result, d time.Duration) string {
	type cf struct {
		name string
		f    float64
	}
	var list []cf
	for c, f := range r.Fractions {
		if f > 0 {
			list = append(list, cf{r.Classes[c], f})
		}
	}
	sort.SliceStable(list, func(a, b int) bool { return list[a].f > list[b].f }) // ties in class order
	var parts []string
	for _, x := range list {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", x.name, 100*x.f))
	}
	return fmt.Sprintf("%dx%d in %.2fs: %s", r.Width, r.Height, d.Seconds(), strings.Join(parts, ", "))
}
