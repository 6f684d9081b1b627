#!/usr/bin/env bash
# Side-by-side measurement of freeseg against ONNX Runtime 1.30 on the same random ViT-B/16
# (docs/speed.md#side-by-side-with-onnx-runtime). Measurement tooling: not run by `go test` or CI.
#
#   scripts/ortbench/run.sh [--rounds 3] [--repeat 5] [--runs 10] [--threads1]
#
# Needs /usr/bin/python3 with Debian's python3-torch (only to write the model files once), node 20
# and npm (onnxruntime-node 1.30.0 from package-lock.json), and Go. Large files go to
# $FREESEG_ORTBENCH (default ~/.cache/freeseg-ortbench), never into the repository.
#
# Steps: write the checkpoint and the ONNX files (once); install onnxruntime-node (once); build
# freeseg; check that freeseg and ONNX Runtime compute the same outputs (cosine > 0.9999); then
# run INTERLEAVED rounds of ONNX Runtime, freeseg fp32 and freeseg bf16 and print the ratios per
# round and their medians. On a shared machine speed changes by 2x within minutes, so only ratios
# of the same round mean anything.
set -euo pipefail

rounds=3 repeat=5 runs=10 threads1=0
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--threads1) threads1=1; shift ;;
	*) echo "usage: $0 [--rounds N] [--repeat N] [--runs N] [--threads1]" >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${FREESEG_ORTBENCH:-$HOME/.cache/freeseg-ortbench}
mkdir -p "$cache"
ckpt=$cache/clip-vitb16-random.pt

if [ ! -f "$cache/vit448.onnx" ] || [ ! -f "$ckpt" ]; then
	echo "writing the random ViT-B/16 checkpoint and ONNX files into $cache (a few minutes)" >&2
	/usr/bin/python3 "$here/make_model.py" "$cache"
fi
if [ ! -d "$cache/node/node_modules/onnxruntime-node" ] || ! cmp -s "$here/package-lock.json" "$cache/node/package-lock.json"; then
	mkdir -p "$cache/node"
	cp "$here/package.json" "$here/package-lock.json" "$cache/node/"
	# --ignore-scripts: the package ships the CPU binaries; its install script only fetches GPU extras.
	(cd "$cache/node" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
fs=$cache/freeseg
(cd "$root" && go build -o "$fs" ./cmd/freeseg)

out=$cache/runs/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
echo "results in $out" >&2

# Same network in both: freeseg's embedding of check224.png and dense features of check448.png
# against ONNX Runtime's outputs for the same pixels.
"$fs" embed --model "$ckpt" --out "$out/embed224.safetensors" "$cache/check224.png" 2>/dev/null
"$fs" features --model "$ckpt" --method vanilla --short-side 448 --out "$out/features448.safetensors" "$cache/check448.png" 2>/dev/null
node "$here/ort.mjs" check --dir "$cache" --embed "$out/embed224.safetensors" --features "$out/features448.safetensors" | tee "$out/check.json" >&2

{
	echo "git $(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD || echo +dirty)"
	echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpus"
	echo "go $(go env GOVERSION), node $(node --version)"
} >"$out/machine.txt"

for r in $(seq 1 "$rounds"); do
	echo "round $r of $rounds" >&2
	cut -d' ' -f1-3 /proc/loadavg >"$out/r$r-load.txt"
	node "$here/ort.mjs" bench --dir "$cache" --threads 2 --runs "$runs" >"$out/r$r-ort.json"
	"$fs" bench --model "$ckpt" --skip-text --repeat "$repeat" --format json 2>/dev/null >"$out/r$r-fp32.json"
	"$fs" bench --model "$ckpt" --skip-text --repeat "$repeat" --precision bf16 --format json 2>/dev/null >"$out/r$r-bf16.json"
	if [ "$threads1" = 1 ]; then
		node "$here/ort.mjs" bench --dir "$cache" --threads 1 --runs "$runs" >"$out/r$r-ort1.json"
		GOMAXPROCS=1 "$fs" bench --model "$ckpt" --skip-text --repeat "$repeat" --format json 2>/dev/null >"$out/r$r-fp32t1.json"
	fi
	cut -d' ' -f1-3 /proc/loadavg >>"$out/r$r-load.txt"
done
node "$here/summary.mjs" "$out" | tee "$out/summary.md"
