// ONNX Runtime's side of the freeseg / ONNX Runtime measurement (docs/speed.md). Measurement tooling
// only: not run by `go test` or CI.
//
//   node ort.mjs bench [--dir DIR] [--threads 2] [--warmup 3] [--runs 10]
//       times the 224 crop (vit224.onnx) and the 448 image (vit448.onnx) written by make_model.py
//       and prints one JSON line: crop224_ms / image448_ms (median wall time), _min_ms, _cpu_ms (median
//       CPU time of all threads per run), threads, version.
//   node ort.mjs check [--dir DIR] --embed EMB.safetensors --features FEAT448.safetensors
//       runs both models on check224.bin / check448.bin and compares ONNX Runtime's output with
//       PyTorch's (torch224.bin, torch448.bin) and with freeseg's (`freeseg embed` of check224.png:
//       the CLS row; `freeseg features --method vanilla` of check448.png: every token). Exits 1 when
//       a cosine is below 0.9999 or a difference above 1e-3 of the output's largest value.
//
// onnxruntime-node is installed (npm ci --ignore-scripts) into DIR/node, not beside this file.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { homedir } from "node:os";

const argv = process.argv.slice(2);
const mode = argv[0];
const opt = (name, def) => {
  const i = argv.indexOf("--" + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
};
const dir = opt("dir", join(homedir(), ".cache", "freeseg-ortbench"));
const require = createRequire(join(dir, "node", "package.json"));
const ort = require("onnxruntime-node");

const threads = parseInt(opt("threads", "2"), 10);
async function session(side) {
  return ort.InferenceSession.create(join(dir, `vit${side}.onnx`), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
}

function readF32(path) {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

// The first F32 tensor of a safetensors file: [shape, data].
function readSafetensors(path, name) {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString("utf8"));
  const t = header[name];
  if (!t || t.dtype !== "F32") throw new Error(`${path}: no F32 tensor ${name} (have ${Object.keys(header)})`);
  const [lo, hi] = t.data_offsets;
  const start = 8 + n + lo;
  const data = new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + 8 + n + hi));
  return [t.shape, data];
}

async function run(s, side, input) {
  const x = new ort.Tensor("float32", input, [1, 3, side, side]);
  const out = await s.run({ pixels: x });
  return out.tokens.data;
}

function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

// Per-row cosines of two [rows, e] arrays: the minimum and the whole-array cosine.
function compare(a, b, e) {
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  let min = 1, diff = 0, scale = 0;
  for (let r = 0; r < a.length / e; r++) min = Math.min(min, cosine(a.subarray(r * e, (r + 1) * e), b.subarray(r * e, (r + 1) * e)));
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  // max |a - b| / max |b|: how far apart in the output's own scale
  return { min_token_cosine: +min.toFixed(7), cosine: +cosine(a, b).toFixed(7), max_diff_rel: +(diff / scale).toExponential(2) };
}

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const r1 = (x) => Math.round(x * 10) / 10;

async function bench() {
  const warmup = parseInt(opt("warmup", "3"), 10);
  const runs = parseInt(opt("runs", "10"), 10);
  const res = { runtime: "onnxruntime-node", version: ort.env.versions?.common ?? "", threads, warmup, runs };
  for (const [side, key] of [[224, "crop224"], [448, "image448"]]) {
    const s = await session(side);
    const input = readF32(join(dir, `check${side}.bin`));
    for (let i = 0; i < warmup; i++) await run(s, side, input);
    const ts = [], cs = [];
    for (let i = 0; i < runs; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await run(s, side, input);
      ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const c = process.cpuUsage(c0);
      cs.push((c.user + c.system) / 1e3);
    }
    res[key + "_ms"] = r1(median(ts));
    res[key + "_min_ms"] = r1(Math.min(...ts));
    // CPU time of the process per run, all threads (as freeseg bench's *_cpu_ms); it counts
    // ONNX Runtime's worker threads while they spin waiting for work.
    res[key + "_cpu_ms"] = r1(median(cs));
    await s.release();
  }
  console.log(JSON.stringify(res));
}

// The same network gives float32 rounding differences (about 1e-5 of the output's scale); another
// input through the same random network still gives a CLS cosine of about 0.999, so both bounds count.
const same = (c) => c.min_token_cosine > 0.9999 && c.max_diff_rel < 1e-3;

async function check() {
  const E = 512;
  const res = {};
  let ok = true;
  const embed = opt("embed", "");
  const feat = opt("features", "");
  for (const side of [224, 448]) {
    const s = await session(side);
    const out = await run(s, side, readF32(join(dir, `check${side}.bin`)));
    await s.release();
    const c = compare(out, readF32(join(dir, `torch${side}.bin`)), E);
    res[`ort_vs_torch_${side}`] = c;
    ok &&= same(c);
    if (side === 224 && embed) {
      const [, fs] = readSafetensors(embed, "image_embeds");
      const c1 = compare(out.subarray(0, E), fs.subarray(0, E), E);
      res.ort_vs_freeseg_embed_224 = { cls_cosine: c1.cosine, max_diff_rel: c1.max_diff_rel };
      ok &&= same(c1);
    }
    if (side === 448 && feat) {
      const [shape, fs] = readSafetensors(feat, "tokens");
      if (shape[1] !== out.length / E) throw new Error(`${feat}: ${shape[1]} tokens, ONNX Runtime gave ${out.length / E}`);
      const c2 = compare(out, fs, E);
      res.ort_vs_freeseg_features_448 = c2;
      ok &&= same(c2);
    }
  }
  res.ok = ok;
  console.log(JSON.stringify(res));
  if (!ok) process.exit(1);
}

if (mode === "bench") await bench();
else if (mode === "check") await check();
else {
  console.error("usage: node ort.mjs bench|check [--dir DIR] [--threads N] ...");
  process.exit(2);
}
