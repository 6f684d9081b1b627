// Command freeseg is open-vocabulary semantic segmentation with CLIP, no
// training and no Python: give an image and any class names, get a label
// map, heat maps and scores.
//
// Run `freeseg help` for the commands and `freeseg COMMAND --help` for each
// command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/freeseg/freeseg"
)

// command is one subcommand: its flags are defined in setup and run gets
// the positional arguments left after flag parsing.
type command struct {
	name    string
	summary string
	usage   string // the argument synopsis after the command name
	run     func(env *env, args []string) error
}

// env carries the process streams so that commands are testable.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	os.Exit(runMain(os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin}))
}

func runMain(args []string, e *env) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return runCommand(c, []string{"--help"}, e)
			}
		}
		printHelp(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(e.stdout, "freeseg", version)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "freeseg: unknown command %q; run 'freeseg help' for the list\n", args[0])
		return 2
	}
	return runCommand(c, args[1:], e)
}

func runCommand(c *command, args []string, e *env) int {
	err := c.run(e, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	if errors.Is(err, freeseg.ErrUsage) { // the command line's fault (freeseg.Usagef, AsUsage)
		fmt.Fprintf(e.stderr, "freeseg %s: %v\nusage: freeseg %s %s (see 'freeseg %s --help')\n", c.name, err, c.name, c.usage, c.name)
		return 2
	}
	fmt.Fprintf(e.stderr, "freeseg %s: %v\n", c.name, err)
	return 1
}

const version = "0.1.0"

func printHelp(w io.Writer) {
	fmt.Fprintf(w, `freeseg %s: open-vocabulary semantic segmentation with CLIP, training-free, in pure Go.

usage: freeseg COMMAND [flags] [args]

commands:
`, version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'freeseg COMMAND --help' for a command's flags.")
}

// newFlags makes a FlagSet whose --help prints the command's synopsis and
// flags to stdout.
func newFlags(e *env, c *command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fs.SetOutput(e.stdout)
		fmt.Fprintf(e.stdout, "usage: freeseg %s %s\n\n%s\n\nflags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	if modelCommands[c.name] && !settingCommands[c.name] {
		registerPrecision(fs)
	}
	return fs
}

// parseInterleaved parses flags that may appear before, between or after
// positional arguments (Go's flag package stops at the first positional).
// A lone "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, freeseg.AsUsage(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}
