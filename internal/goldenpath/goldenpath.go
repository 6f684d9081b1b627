// Package goldenpath finds the golden reference folder named by
// FREESEG_GOLDEN for the tests of every package (see docs/testing.md). It
// has no dependencies, so that in-package tests of low-level packages (such
// as weights, which package golden itself imports) can use it too.
//
// A relative FREESEG_GOLDEN is resolved from the module root (the folder
// holding go.mod, searched upward from the working directory), not from
// the test's working directory: `go test` runs each package's tests in that
// package's folder, so `FREESEG_GOLDEN=../shared/golden go test ./...` would
// otherwise name a different folder in every package.
package goldenpath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Env is the variable naming the golden folder; RequireEnv, set to 1 (as
// .ci/run does), or CI=true (as CI services set it) makes a missing golden
// folder an error instead of a reason to skip.
const (
	Env        = "FREESEG_GOLDEN"
	RequireEnv = "FREESEG_REQUIRE_GOLDEN"
)

// ErrUnset is returned by Resolve when FREESEG_GOLDEN is unset and the
// golden data is not required.
var ErrUnset = errors.New(Env + " is not set")

// Required reports whether the environment demands the golden data.
func Required() bool {
	return truthy(os.Getenv(RequireEnv)) || truthy(os.Getenv("CI"))
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// ModuleRoot returns the nearest folder at or above dir holding a go.mod.
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !st.IsDir() {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
		d = up
	}
}

// Marker is the file every golden folder holds.
var Marker = filepath.Join("cases", "golden.safetensors")

// Resolve returns the absolute golden folder. It returns ErrUnset when the
// variable is unset and the data is not required, and a descriptive error
// when it is unset but required, or set to a folder without the golden
// data.
func Resolve() (string, error) {
	return resolve(os.Getenv(Env), Required(), ".")
}

func resolve(v string, required bool, wd string) (string, error) {
	if v == "" {
		if required {
			return "", fmt.Errorf("%s is not set but the golden data is required (%s=1 or CI=true): set it to the folder that holds cases/golden.safetensors (a relative path is taken from the module root)", Env, RequireEnv)
		}
		return "", ErrUnset
	}
	d := v
	if !filepath.IsAbs(d) {
		root, err := ModuleRoot(wd)
		if err != nil {
			return "", fmt.Errorf("%s=%s is relative, and the module root to resolve it from was not found: %v", Env, v, err)
		}
		d = filepath.Join(root, d)
	}
	if _, err := os.Stat(filepath.Join(d, Marker)); err != nil {
		return "", fmt.Errorf("%s=%s (%s) does not hold %s: %v", Env, v, d, Marker, err)
	}
	return d, nil
}
