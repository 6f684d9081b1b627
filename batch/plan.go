package batch

import "fmt"

// Plan is a batch run's inputs before any inference (freeseg segment and
// explain): the arguments expanded, each input checked within the memory
// bound, the output names assigned and the temporaries of an interrupted
// run removed.
type Plan struct {
	Inputs    []Input   // every image found
	Todo      []Input   // the inputs that passed the checks, named
	Protected []string  // files the outputs must not overwrite (Expand)
	Fails     *Failures // the inputs that failed, of len(Inputs) + the bad arguments
	Removed   []string  // temporaries of an interrupted run removed
}

// PlanOptions are the settings of NewPlan.
type PlanOptions struct {
	Recursive, Strict bool   // Expand's recursion; stop at the first failure
	Out               string // the output folder
	Suffixes          []string
	MaxMemoryMB       int64 // the bound of MemLimit
	// Check checks one input within the memory limit (and why it is that,
	// MemLimit), returning a warning or an error.
	Check func(in *Input, limit int64, why string) (warn string, err error)
	// Expanded, when set, is told the number of inputs and of freeseg's
	// own outputs the folders held (left out) before any input is read;
	// an error stops the plan. Warn receives Check's warnings.
	Expanded func(inputs, skipped int) error
	Warn     func(string)
}

// NewPlan plans the run of the image files and folders of args. A failing
// input is an error with o.Strict, else it is listed in Fails; Todo may
// then be empty.
func NewPlan(args []string, o PlanOptions) (*Plan, error) {
	inputs, skipped, protected, bad, err := Expand(args, o.Recursive, o.Out)
	if err != nil {
		return nil, err
	}
	if o.Expanded != nil {
		if err := o.Expanded(len(inputs), skipped); err != nil {
			return nil, err
		}
	}
	p := &Plan{Inputs: inputs, Protected: protected, Fails: &Failures{Total: len(inputs) + len(bad), List: bad}}
	if o.Strict && len(bad) > 0 {
		return nil, bad[0].Err
	}
	limit, why := MemLimit(o.MaxMemoryMB, "/proc/meminfo")
	p.Todo, err = p.Fails.Keep(inputs, o.Strict, func(in *Input) (string, error) { return o.Check(in, limit, why) }, o.Warn)
	if err != nil || len(p.Todo) == 0 {
		return p, err
	}
	AssignNames(p.Todo, o.Out, o.Suffixes, protected)
	if removed, err := RemoveStaleTemps(p.Todo, o.Out, o.Suffixes); err == nil {
		p.Removed = removed
	}
	return p, nil
}

// HoldsPatch is a check for Failures.Keep: the planned network input
// (PlanSegment's InW×InH) holds at least one p×p patch.
func HoldsPatch(p int) func(*Input) (string, error) {
	return func(in *Input) (string, error) {
		if in.InW < p || in.InH < p {
			return "", fmt.Errorf("%s: the %dx%d network input is smaller than one %dx%d patch; use a larger --short-side or --max-long", in.Path, in.InW, in.InH, p, p)
		}
		return "", nil
	}
}
