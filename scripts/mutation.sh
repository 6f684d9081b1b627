#!/usr/bin/env bash
# Mutation testing of the packages above the kernels with gremlins v0.6.0
# (docs/testing.md): each package in turn, MUTATION_WORKERS workers (default one), the golden data on
# (FREESEG_GOLDEN, default ../shared/golden), a time limit per package.
#
#   scripts/mutation.sh                 # prompts eval . seg server imageio cmd/freeseg
#   scripts/mutation.sh seg eval        # some of them
#
# MUTATION_TIMEOUT (seconds per package, default 3600), MUTATION_OUT (the
# folder for the per-package logs and JSON results, default a new folder
# under /tmp), MUTATION_WORKERS (default 1), MUTATION_TIMEOUT_COEFFICIENT
# (default 30) and MUTATION_ROOT_TIMEOUT_COEFFICIENT (default 1, the root
# package's) adjust it. The last line per package gives killed, lived and the
# efficacy killed/(killed+lived); a run cut off by MUTATION_TIMEOUT still
# reports the mutants it finished, marked partial.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
GREMLINS=${GREMLINS:-$(go env GOPATH)/bin/gremlins}
if ! [ -x "$GREMLINS" ]; then
  go install github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
fi
g=${FREESEG_GOLDEN:-../shared/golden}
case $g in /*) ;; *) g="$root/$g" ;; esac
if ! [ -f "$g/cases/golden.safetensors" ]; then
  echo "error: no golden data at $g (set FREESEG_GOLDEN): most killing tests need it" >&2
  exit 1
fi
# gremlins runs the tests in copies of the module: the path must be absolute.
export FREESEG_GOLDEN=$g FREESEG_REQUIRE_GOLDEN=1
# server's browser test starts Chromium (seconds of both cores) for every
# mutant; it checks the page's script, which gremlins does not mutate, so the
# mutation runs skip it (a mutant only it would kill counts as lived).
export FREESEG_SKIP_BROWSER=1
# gremlins derives each mutant's timeout from its coverage run; a cached
# "go test" result made that 0.4 s instead of 8 s for server, and 249 of its
# mutants "timed out". -count=1 keeps every run uncached.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1"
# gremlins v0.6.0 names a mutant's package by walking up from its file to a
# folder named like the Go package; cmd/freeseg is package main, has no such
# folder, and gremlins tested the module's root package instead: every mutant
# "lived" (236 of 236 in 2 minutes). Each mutant's tests run in the mutated
# package's own folder (one package per run here, helper subfolders
# excluded), so a "go" ahead on PATH makes those runs test "." there.
shim=$(mktemp -d /tmp/freeseg-mutation-go.XXXXXX)
realgo=$(command -v go)
cat >"$shim/go" <<SHIM
#!/usr/bin/env bash
if [ "\$1" = test ] && [[ " \$* " == *" -failfast "* ]]; then set -- "\${@:1:\$#-1}" .; fi
exec "$realgo" "\$@"
SHIM
chmod +x "$shim/go"
export PATH="$shim:$PATH"
out=${MUTATION_OUT:-$(mktemp -d /tmp/freeseg-mutation.XXXXXX)}
mkdir -p "$out"
limit=${MUTATION_TIMEOUT:-3600}
workers=${MUTATION_WORKERS:-1}
# A mutant that hangs a test costs coefficient × the coverage run: 30 suits
# packages whose tests take a second (compiling dominates); use about 10 for the
# slow suites (server, cmd/freeseg, the root package).
coef=${MUTATION_TIMEOUT_COEFFICIENT:-30}
# For the root package gremlins' coverage run is the whole module's suite
# (its path is ./...), minutes instead of seconds: 1 is already ~10x the
# root package's own tests.
rootcoef=${MUTATION_ROOT_TIMEOUT_COEFFICIENT:-1}
# Every top-level folder holding Go code: for the root package ".", all of
# them are excluded; for the others, their helper subpackages.
subdirs=$(find . -mindepth 2 -name '*.go' -not -path './.*' | cut -d/ -f2 | sort -u | paste -sd'|')
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(prompts eval . seg server imageio cmd/freeseg)
echo "gremlins $("$GREMLINS" --version 2>&1 | head -1); golden $FREESEG_GOLDEN; logs in $out"
for p in "${pkgs[@]}"; do
  name=${p//\//_}
  [ "$p" = . ] && name=root
  excl=()
  # MUTATION_EXCLUDE: more files to leave out (a regexp of paths relative to
  # the package), e.g. those a run cut off by its time limit already did.
  [ -z "${MUTATION_EXCLUDE:-}" ] || excl+=(-E "$MUTATION_EXCLUDE")
  c=$coef
  case $p in
    .) excl+=(-E "^($subdirs)/"); c=$rootcoef ;;
    eval) excl+=(-E '^evaltest/') ;; # paths are relative to the package
  esac
  start=$(date +%s)
  rc=0
  # No --test-cpu: gremlins v0.6.0 passes it to go test as the single
  # argument "-cpu N", which the test binary refuses ("flag provided but
  # not defined"), exit status 1, so every mutant counts as killed and the
  # efficacy reads 100% whatever the tests do.
  timeout "$limit" "$GREMLINS" unleash --workers "$workers" --timeout-coefficient "$c" \
    -S ltk "${excl[@]}" -o "$out/$name.json" "./$p" >"$out/$name.txt" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  k=$(sed -n 's/^Killed: \([0-9]*\), Lived: \([0-9]*\).*/\1/p' "$out/$name.txt" | tail -1)
  l=$(sed -n 's/^Killed: \([0-9]*\), Lived: \([0-9]*\).*/\2/p' "$out/$name.txt" | tail -1)
  if [ -n "$k" ] && [ $((k + l)) -gt 0 ]; then
    echo "$p: killed $k, lived $l, efficacy $(awk -v k="$k" -v l="$l" 'BEGIN{printf "%.1f", 100*k/(k+l)}')% in ${secs}s (log $out/$name.txt)"
  elif k=$(grep -c '^ *KILLED ' "$out/$name.txt" || true); l=$(grep -c '^ *LIVED ' "$out/$name.txt" || true); [ $((k + l)) -gt 0 ]; then
    # Cut off before gremlins' totals: the live lines (-S ltk) still count.
    echo "$p: partial (exit $rc after ${secs}s): killed $k, lived $l so far, efficacy $(awk -v k="$k" -v l="$l" 'BEGIN{printf "%.1f", 100*k/(k+l)}')% (log $out/$name.txt)"
  else
    echo "$p: no result (exit $rc after ${secs}s; $( [ $rc = 124 ] && echo "over the ${limit}s limit" || echo see $out/$name.txt))"
  fi
done
