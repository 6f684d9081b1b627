// Prints the ratios of a run.sh result folder per round and their medians (markdown), then one JSON
// line. Measurement tooling only (docs/speed.md).
//   node summary.mjs RESULT_DIR
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node summary.mjs RESULT_DIR");
  process.exit(2);
}
const read = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), "utf8")) : null);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : "-");
const v = (x) => x ?? "-";

const rows = [];
for (let r = 1; existsSync(join(dir, `r${r}-ort.json`)); r++) {
  const ort = read(`r${r}-ort.json`), fp = read(`r${r}-fp32.json`), bf = read(`r${r}-bf16.json`);
  const ort1 = read(`r${r}-ort1.json`), fp1 = read(`r${r}-fp32t1.json`);
  const load = readFileSync(join(dir, `r${r}-load.txt`), "utf8").trim().split("\n").map((l) => l.split(" ")[0]).join("→");
  rows.push({
    round: r, load,
    ort224: ort.crop224_ms, ort448: ort.image448_ms,
    fs224: fp?.crop224_ms, fs448: fp?.image448_ms, bf224: bf?.crop224_ms,
    fma: fp?.fma_peak_gflops,
    r224: fp?.crop224_ms / ort.crop224_ms,
    r448: fp?.image448_ms / ort.image448_ms,
    rbf: bf?.crop224_ms / ort.crop224_ms,
    c224: fp?.crop224_cpu_ms / ort.crop224_cpu_ms,
    c448: fp?.image448_cpu_ms / ort.image448_cpu_ms,
    cbf: bf?.crop224_cpu_ms / ort.crop224_cpu_ms,
    ...(ort1 && fp1 ? {
      ort224t1: ort1.crop224_ms, ort448t1: ort1.image448_ms, fs224t1: fp1.crop224_ms, fs448t1: fp1.image448_ms,
      r224t1: fp1.crop224_ms / ort1.crop224_ms, r448t1: fp1.image448_ms / ort1.image448_ms,
    } : {}),
  });
}
if (!rows.length) {
  console.error(`${dir}: no round results (r1-ort.json ...)`);
  process.exit(1);
}
const t1 = rows.some((x) => x.r224t1 !== undefined);
console.log(`results: ${dir}\n`);
console.log("| round | load (1 min, start→end) | FMA peak GFLOP/s (freeseg fp32 run) | ORT 224 ms | freeseg fp32 224 ms | bf16 224 ms | ORT 448 ms | freeseg fp32 448 ms | fp32 224 / ORT | fp32 448 / ORT | bf16 224 / ORT fp32 |" + (t1 ? " 1 thread: 224 / ORT | 448 / ORT |" : ""));
console.log("|---|---|---|---|---|---|---|---|---|---|---|" + (t1 ? "---|---|" : ""));
for (const x of rows) {
  console.log(`| ${x.round} | ${x.load} | ${f0(x.fma)} | ${x.ort224} | ${x.fs224} | ${x.bf224} | ${x.ort448} | ${x.fs448} | ${f2(x.r224)} | ${f2(x.r448)} | ${f2(x.rbf)} |` +
    (t1 ? ` ${f2(x.r224t1)} (${x.fs224t1}/${x.ort224t1}) | ${f2(x.r448t1)} (${x.fs448t1}/${x.ort448t1}) |` : ""));
}
const med = {
  crop224_fp32_over_ort: median(rows.map((x) => x.r224)),
  image448_fp32_over_ort: median(rows.map((x) => x.r448)),
  crop224_bf16_over_ort_fp32: median(rows.map((x) => x.rbf)),
  ...(t1 ? {
    crop224_fp32_over_ort_1thread: median(rows.map((x) => x.r224t1)),
    image448_fp32_over_ort_1thread: median(rows.map((x) => x.r448t1)),
  } : {}),
};
console.log(`| median | | | | | | | | ${f2(med.crop224_fp32_over_ort)} | ${f2(med.image448_fp32_over_ort)} | ${f2(med.crop224_bf16_over_ort_fp32)} |` +
  (t1 ? ` ${f2(med.crop224_fp32_over_ort_1thread)} | ${f2(med.image448_fp32_over_ort_1thread)} |` : ""));
console.log("\nCPU time per run (all threads; ONNX Runtime's includes its spinning workers):\n");
console.log("| round | ORT 224 | freeseg fp32 224 | bf16 224 | ORT 448 | freeseg fp32 448 | fp32 224 / ORT | fp32 448 / ORT | bf16 224 / ORT fp32 |");
console.log("|---|---|---|---|---|---|---|---|---|");
const ort = (r) => read(`r${r}-ort.json`);
for (const x of rows) {
  const o = ort(x.round), fp = read(`r${x.round}-fp32.json`), bf = read(`r${x.round}-bf16.json`);
  console.log(`| ${x.round} | ${v(o.crop224_cpu_ms)} | ${v(fp?.crop224_cpu_ms)} | ${v(bf?.crop224_cpu_ms)} | ${v(o.image448_cpu_ms)} | ${v(fp?.image448_cpu_ms)} | ${f2(x.c224)} | ${f2(x.c448)} | ${f2(x.cbf)} |`);
}
med.cpu_crop224_fp32_over_ort = median(rows.map((x) => x.c224));
med.cpu_image448_fp32_over_ort = median(rows.map((x) => x.c448));
med.cpu_crop224_bf16_over_ort_fp32 = median(rows.map((x) => x.cbf));
console.log(`| median | | | | | | ${f2(med.cpu_crop224_fp32_over_ort)} | ${f2(med.cpu_image448_fp32_over_ort)} | ${f2(med.cpu_crop224_bf16_over_ort_fp32)} |`);
console.log("\ntargets (issue 12): fp32 224 <= 0.75, fp32 448 <= 0.65, bf16 224 <= 0.40");
console.log(JSON.stringify({ rounds: rows, medians: med }));
