package eval

// SetFileLimits lowers the label and state file size limits for a test
// (the real ones, 1 GiB and 256 MiB, are too large to reach in a test)
// and returns the function that restores them.
func SetFileLimits(label, state int) (restore func()) {
	l, s := maxLabelBytes, maxStateBytes
	maxLabelBytes, maxStateBytes = label, state
	return func() { maxLabelBytes, maxStateBytes = l, s }
}
