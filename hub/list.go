package hub

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteList writes the known models as a table (ID, "cached" when the
// cache of opt holds them, description), as freeseg pull --list shows it.
func WriteList(w io.Writer, opt Options) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range Known {
		mark := ""
		if _, ok := Cached(m.ID, opt); ok {
			mark = "cached"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.ID, mark, m.Description)
	}
	return tw.Flush()
}

// Where says where opt's cache and hub are, and the environment variables
// that set them.
func (o Options) Where() string {
	cache, ep := o.CacheDir, o.Endpoint
	if cache == "" {
		cache = "unknown"
	}
	if ep == "" {
		ep = DefaultEndpoint
	}
	return fmt.Sprintf("cache: %s (FREESEG_CACHE); hub: %s (HF_ENDPOINT)", cache, ep)
}
