package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/freeseg/freeseg"
	"github.com/freeseg/freeseg/server"
)

const forceHelp = "run even when the estimated network input, memory or work is over the command line's limits (freeseg.DefaultLimits: 16385 tokens a pass, 8 GiB, 50000 GFLOPs)"

// forceFlag registers --force on a command that runs the model.
func forceFlag(fs *flag.FlagSet) *bool { return fs.Bool("force", false, forceHelp) }

// applyForce lifts the engine's limits when --force is given.
func applyForce(eng *freeseg.Engine, force bool) {
	if force {
		eng.Limits = freeseg.NoLimits()
	}
}

// warnBudget prints a warning when b is over the service's default budget
// (a large input: the command runs it, within its own larger limits).
func warnBudget(e *env, name string, b freeseg.Budget) {
	if b.Exceeds(server.ServiceLimits()) {
		fmt.Fprintf(e.stderr, "warning: %s: large %s: %dx%d network input, %d pass(es) of %d tokens, about %.1f GiB and %.0f GFLOPs\n",
			name, b.Op, b.InputW, b.InputH, b.Passes, b.Tokens, float64(b.PeakBytes)/(1<<30), b.GFLOPs)
	}
}

// budgetError adds the way out to an engine's refusal.
func budgetError(name string, err error) error {
	var be *freeseg.BudgetError
	if errors.As(err, &be) {
		return fmt.Errorf("%s: %w (--force runs it anyway)", name, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}
