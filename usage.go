package freeseg

import (
	"errors"
	"fmt"
)

// ErrUsage marks the errors caused by the caller's settings rather than by
// the data or the machine: a bad flag value, a missing required input, a
// setting the model cannot run. errors.Is(err, ErrUsage) tells them apart;
// freeseg's command exits with code 2 for them (docs/cli.md), the others 1.
var ErrUsage = errors.New("bad usage")

// usageError carries a message and says it is ErrUsage: its text is the
// message alone, so marking an error does not change what the user reads.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Usagef is a usage error (ErrUsage) with the formatted message.
func Usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// AsUsage marks err as a usage error, keeping its message and its chain;
// nil stays nil.
func AsUsage(err error) error {
	if err == nil || errors.Is(err, ErrUsage) {
		return err
	}
	return usageError{err}
}
