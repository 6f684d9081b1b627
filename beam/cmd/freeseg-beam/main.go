// Command freeseg-beam runs freeseg's bulk segmentation and evaluation as
// Apache Beam pipelines: in-process on Prism by default, or on Flink,
// Spark, Dataflow or any portable runner (docs/beam.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/flink"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/spark"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"

	"github.com/freeseg/freeseg/beam/storage"
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name, summary, usage string
	run                  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func main() {
	// A runner starts the workers as this same binary with Beam's worker
	// flags (--worker, --id, ...): beam.Init then serves the bundles and
	// exits.
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "-") && os.Args[1] != "-h" && os.Args[1] != "--help" && os.Args[1] != "-help" {
		flag.Parse()
		beam.Init()
	}
	os.Exit(runMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	quietBeamLogs()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		printHelp(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "freeseg-beam: unknown command %q\n\n", args[0])
		printHelp(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "freeseg-beam %s: %v\n(see freeseg-beam %s --help)\n", c.name, err, c.name)
		return 2
	}
	fmt.Fprintf(stderr, "freeseg-beam %s: %v\n", c.name, err)
	return 1
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "freeseg-beam: freeseg's segment and eval as Apache Beam pipelines (Prism in-process by default)")
	fmt.Fprintln(w, "\nusage: freeseg-beam COMMAND [flags]\n\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRunner flags (all commands): --runner prism|flink|spark|dataflow|universal, --endpoint HOST:PORT,")
	fmt.Fprintln(w, "--environment_type, --environment_config, --job_name, and Dataflow's --project, --region, --staging_location;")
	fmt.Fprintln(w, "see docs/beam.md.")
}

// newFlags is a flag set for command c that also takes Beam's pipeline
// options (registered by the SDK on the global flag set), reset to their
// defaults so that one process can run several commands (tests).
func newFlags(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("freeseg-beam "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: freeseg-beam %s %s\n\n%s\n\nflags:\n", c.name, c.usage, c.summary)
		// The command's flags in full, then only the names of Beam's.
		own := flag.NewFlagSet(c.name, flag.ContinueOnError)
		own.SetOutput(stderr)
		var beamNames []string
		fs.VisitAll(func(f *flag.Flag) {
			if strings.HasPrefix(f.Usage, "Beam: ") {
				beamNames = append(beamNames, "--"+f.Name)
				return
			}
			own.Var(f.Value, f.Name, f.Usage)
		})
		own.PrintDefaults()
		fmt.Fprintf(stderr, "\nBeam pipeline options (see docs/beam.md and Beam's documentation):\n  %s\n", strings.Join(beamNames, " "))
	}
	return fs
}

// addBeamFlags adds the SDK's global flags to fs (after the command's
// own, which win on a name clash).
func addBeamFlags(fs *flag.FlagSet) {
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) != nil || strings.HasPrefix(f.Name, "test.") {
			return
		}
		if f.Value.String() != f.DefValue {
			f.Value.Set(f.DefValue) // a value left by an earlier command of this process
		}
		fs.Var(f.Value, f.Name, "Beam: "+f.Usage)
	})
}

// knownRunners are the --runner values.
var knownRunners = []string{"prism", "flink", "spark", "dataflow", "universal"}

// checkRunner validates the runner flags before any work.
func checkRunner() error {
	r := *runners.Runner
	if r == "" {
		r = "prism"
		*runners.Runner = r
	}
	ok := false
	for _, k := range knownRunners {
		ok = ok || r == k
	}
	if !ok {
		return usagef("unknown --runner %q (want %s)", r, strings.Join(knownRunners, ", "))
	}
	switch r {
	case "flink", "spark", "universal":
		if *jobopts.Endpoint == "" {
			return usagef("--runner %s needs --endpoint HOST:PORT of the job service (e.g. Flink's job server, localhost:8099)", r)
		}
	case "dataflow":
		for _, n := range []string{"project", "region", "staging_location"} {
			if f := flag.Lookup(n); f == nil || f.Value.String() == "" {
				return usagef("--runner dataflow needs --%s", n)
			}
		}
	}
	return nil
}

// checkWritable fails early when the output prefix cannot be written:
// it writes and removes a small probe file.
func checkWritable(ctx context.Context, prefix, what string) error {
	if prefix == "" {
		return usagef("%s is required", what)
	}
	if storage.IsLocal(prefix) {
		if st, err := os.Stat(prefix); err == nil && !st.IsDir() {
			return fmt.Errorf("%s %s is a file", what, prefix)
		}
		if err := os.MkdirAll(prefix, 0o755); err != nil {
			return fmt.Errorf("%s %s is not writable: %w", what, prefix, err)
		}
	}
	st, err := storage.Open(ctx, prefix)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer st.Close()
	probe := storage.Join(prefix, ".freeseg-beam-probe")
	if err := st.Write(ctx, probe, []byte("probe\n")); err != nil {
		return fmt.Errorf("%s %s is not writable: %w", what, prefix, err)
	}
	if storage.IsLocal(probe) {
		return os.Remove(probe)
	}
	return st.Remove(ctx, probe)
}

// quietBeamLogs keeps Prism's and the SDK harness's log lines (through
// log/slog) off stderr unless FREESEG_BEAM_LOG=debug|info|warn|error asks
// for them: the command reports the job's outcome and first error itself.
func quietBeamLogs() {
	level := slog.Level(100)
	switch strings.ToLower(os.Getenv("FREESEG_BEAM_LOG")) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

// jobError shortens the runner's error to the DoFn's own message (the
// runner wraps it in the bundle's plan).
func jobError(err error) error {
	s := err.Error()
	if i := strings.LastIndex(s, "] failed:\n"); i >= 0 {
		return errors.New(strings.TrimSpace(strings.Trim(s[i+len("] failed:\n"):], `"`)))
	}
	return err
}

// initBeam runs Beam's init hooks once per process.
func initBeam() {
	if !beam.Initialized() {
		beam.Init()
	}
	quietBeamLogs() // after the SDK's hooks, which set their own logger

}
