/**
 * The decode benchmark (issue 4 §8): our WGSL engine against llama.cpp on the CPU, in one run,
 * on stories260K, a generated ~1B qwen2 in Q4_K and in Q8_0, and the Qwen2.5-7B-shaped Q4_K
 * model loaded from pixels (imported into a temporary PixelFS volume first).
 *
 *   npm run bench:decode -- [--models stories,q1b-q4k,q1b-q8,q7b] [--skip-7b] [--no-pixels] [--pixels]
 *                           [-p N] [-n N] [--threads 1,2] [--tuning WGxTPR] [--tunings A,B,...]
 *                           [--no-llama] [--llama-cpp DIR] [--cache DIR] [--peak-gbps X]
 *                           [--gpu-name NAME] [--json FILE]
 *
 * Generated models are written once by `pxi gen` (fixed seed: the same bytes every time) into
 * the cache folder (default .cache/bench) and reused. The same file is bundled for the GPU
 * machine (scripts/device/); there llama.cpp is absent and the table gives the fraction of the
 * GPU's memory bandwidth instead. A measurement, not a test: see specs/benchmarks.md.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureGeneratedModel } from '../../electron/cli/generated-model';
import { parseTuning, promptIds } from '../../electron/cli/bench/accounting';
import { openBenchContext } from '../../electron/cli/bench/context';
import { fmtRate, formatBench, machineLine } from '../../electron/cli/bench/format';
import { type LlamaCpp, openLlamaCpp } from '../../electron/cli/bench/llama';
import type { BenchResult } from '../../electron/cli/bench/results';
import { defaultThreads, type OursSource, runBench } from '../../electron/cli/bench/run';
import type { GpuContext } from '../../shared/gpu';
import { openNodeModel } from '../../electron/engine';
import { DEFAULT_TUNING, type WeightKernelTuning } from '../../shared/engine/quant-matmul';
import { parseIntMatvec } from '../../shared/engine/int-matvec';
import { parsePrefillMatmul } from '../../shared/engine/quant-matmul';

const here = dirname(fileURLToPath(import.meta.url));
/** Run from the sources (tsx) or from the GPU machine's bundle (plain .js: no tsx for workers). */
const bundled = !import.meta.url.endsWith('.ts');

interface Spec {
  id: string;
  label: string;
  p: number;
  n: number;
  /** A file (stories260K) or a pxi gen recipe. */
  file?: string;
  gen?: { preset: string; type: string; seed: number };
  /** Load ours from pixels (import into a temporary volume first). */
  pixels?: boolean;
}

/**
 * Peak memory bandwidth of the GPUs the device tool lends (vendor datasheets, GB/s = 10^9 B/s),
 * for the "fraction of peak" column. Matched against the adapter's description or --gpu-name.
 */
export const PEAK_BANDWIDTH: readonly { match: RegExp; gbps: number; what: string }[] = [
  { match: /H200/i, gbps: 4800, what: 'NVIDIA H200 141 GB HBM3e: 4.8 TB/s' },
  { match: /H100.*PCIe/i, gbps: 2000, what: 'NVIDIA H100 PCIe 80 GB HBM2e: 2.0 TB/s' },
  { match: /H100.*NVL/i, gbps: 3900, what: 'NVIDIA H100 NVL 94 GB HBM3: 3.9 TB/s' },
  { match: /H100/i, gbps: 3350, what: 'NVIDIA H100 SXM5 80 GB HBM3: 3.35 TB/s' },
];

/**
 * stories260K's greedy continuation of the benchmark prompt (prompt 64, generate 64), as llama.cpp
 * (node-llama-cpp 3.21.1, CPU) and ours give it on this machine: where llama.cpp is absent (the GPU
 * machine) it checks that the kernels, in the chosen shape, still compute the same model.
 */
const STORIES_GREEDY_64 = [
  286, 399, 393, 269, 308, 303, 355, 265, 423, 387, 281, 421, 427, 299, 265, 423, 426, 13, 434, 260, 284, 412, 402, 271, 411, 286, 399, 393, 269, 308, 303, 355, 265, 284,
  412, 402, 271, 411, 426, 346, 336, 432, 313, 434, 415, 303, 433, 364, 432, 410, 454, 412, 340, 443, 436, 410, 13, 434, 260, 284, 412, 402, 271, 411,
];

/** How many leading tokens two greedy runs share. */
function sharedPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function fail(msg: string): never {
  console.error(`bench:decode: ${msg}`);
  process.exit(2);
}

function intList(flag: string, s: string): number[] {
  return s.split(',').map((t) => {
    const x = Number(t);
    if (!Number.isInteger(x) || x < 1) fail(`${flag} takes positive integers, got ${JSON.stringify(s)}`);
    return x;
  });
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      models: { type: 'string' },
      'skip-7b': { type: 'boolean' },
      'no-pixels': { type: 'boolean' },
      pixels: { type: 'boolean' },
      'prompt-tokens': { type: 'string', short: 'p' },
      'n-predict': { type: 'string', short: 'n' },
      threads: { type: 'string' },
      tuning: { type: 'string' },
      tunings: { type: 'string' },
      'int-matvec': { type: 'string' },
      prefill: { type: 'string' },
      'no-llama': { type: 'boolean' },
      'llama-cpp': { type: 'string' },
      cache: { type: 'string' },
      'peak-gbps': { type: 'string' },
      'gpu-name': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (e) {
  fail((e as Error).message);
}
if (values.help) {
  console.log(`Usage: npm run bench:decode -- [--models stories,q1b-q4k,q1b-q8,q7b] [--skip-7b] [--no-pixels]
         [--pixels] [-p N] [-n N] [--threads 1,2] [--tuning WGxTPR] [--tunings A,B,...] [--int-matvec SPEC] [--prefill SPEC] [--no-llama]
         [--llama-cpp DIR] [--cache DIR] [--peak-gbps X] [--gpu-name NAME] [--json FILE]

Ours (WGSL on WebGPU) against llama.cpp (CPU), same file, same prompt ids, per model:
  stories   stories260K (../shared/fixtures, or $PXI_STORIES), prompt 64, generate 64
  q1b-q4k   pxi gen --preset qwen2-1b --type Q4_K --seed 0, prompt 8, generate 8
  q1b-q8    pxi gen --preset qwen2-1b --type Q8_0 --seed 0, prompt 8, generate 8
  q7b       pxi gen --preset qwen2.5-7b --type Q4_K --seed 0, imported into a temporary
            PixelFS volume and loaded from its pixels (--no-pixels: from the GGUF), prompt 4, generate 4
--pixels loads every model from pixels. -p/-n override every model's counts. --threads: llama.cpp thread counts, one run each, the
fastest decode is compared (default 1 and all cores). --tunings tries each weight-kernel shape
on the 1B Q4_K (short decode runs) and keeps the fastest whose logits on the 1B models match the
default shape's (max |Δ| ≤ 1e-2 of the largest logit). Generated models are cached in
--cache (default .cache/bench). --peak-gbps / --gpu-name: the GPU's peak memory bandwidth for
the "% of peak" column (known: H100 SXM/PCIe/NVL, H200, matched on the adapter's name).`);
  process.exit(0);
}

const projectRoot = resolve(here, '..', '..');
const storiesPath = process.env.PXI_STORIES ?? join(projectRoot, '..', 'shared', 'fixtures', 'models', 'stories260K.gguf');
const ALL: Spec[] = [
  { id: 'stories', label: 'stories260K (llama, F32)', file: storiesPath, p: 64, n: 64 },
  { id: 'q1b-q4k', label: 'qwen2-1b Q4_K (generated)', gen: { preset: 'qwen2-1b', type: 'Q4_K', seed: 0 }, p: 8, n: 8 },
  { id: 'q1b-q8', label: 'qwen2-1b Q8_0 (generated)', gen: { preset: 'qwen2-1b', type: 'Q8_0', seed: 0 }, p: 8, n: 8 },
  { id: 'q7b', label: 'qwen2.5-7b Q4_K (generated)', gen: { preset: 'qwen2.5-7b', type: 'Q4_K', seed: 0 }, p: 4, n: 4, pixels: true },
];
const wanted = typeof values.models === 'string' ? values.models.split(',') : ALL.map((s) => s.id);
for (const id of wanted) if (!ALL.some((s) => s.id === id)) fail(`unknown model ${JSON.stringify(id)} (models: ${ALL.map((s) => s.id).join(', ')})`);
const specs = ALL.filter((s) => wanted.includes(s.id) && !(values['skip-7b'] && s.id === 'q7b'));
const pOverride = typeof values['prompt-tokens'] === 'string' ? intList('-p', values['prompt-tokens'])[0] : undefined;
const nOverride = typeof values['n-predict'] === 'string' ? intList('-n', values['n-predict'])[0] : undefined;
if (nOverride !== undefined && nOverride < 2) fail('-n must be at least 2 (decode is timed over tokens 2..n)');
const threads = typeof values.threads === 'string' ? intList('--threads', values.threads) : defaultThreads();
const cacheDir = resolve(typeof values.cache === 'string' ? values.cache : join(projectRoot, '.cache', 'bench'));
let tuning: WeightKernelTuning | undefined;
// --int-matvec SPEC: the integer decode kernels (parseIntMatvec: `dot4-r2` or `Q8_0=dot4-r2,...`).
const intMatvec = typeof values['int-matvec'] === 'string' ? parseIntMatvec(values['int-matvec']) : undefined;
// --prefill SPEC: the tiled prefill products (parsePrefillMatmul: `tile`, `tile-wg` or `Q8_0=tile,...`).
const prefillMatmul = typeof values.prefill === 'string' ? parsePrefillMatmul(values.prefill) : undefined;
try {
  tuning = typeof values.tuning === 'string' ? parseTuning(values.tuning) : undefined;
} catch (e) {
  fail((e as Error).message);
}
const say = (l: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${l}`);

let ctx: GpuContext;
try {
  // The GPU machine's bundle sits elsewhere than electron/gpu/: run.sh names the tree's shaders/.
  ctx = await openBenchContext(process.env.PXI_SHADERS_DIR ? { shadersDir: process.env.PXI_SHADERS_DIR } : {});
} catch (e) {
  console.error(`bench:decode: no WebGPU: ${(e as Error).message}`);
  process.exit(1);
}
let llama: LlamaCpp | null = null;
let llamaSkip = '--no-llama';
if (!values['no-llama']) {
  const r = await openLlamaCpp(typeof values['llama-cpp'] === 'string' ? values['llama-cpp'] : undefined);
  if ('reason' in r) llamaSkip = r.reason;
  else llama = r;
}

const adapterName = ctx.adapter.description || ctx.adapter.device;
const gpuName = typeof values['gpu-name'] === 'string' ? values['gpu-name'] : adapterName;
const peakEntry = PEAK_BANDWIDTH.find((e) => e.match.test(gpuName));
const peak = typeof values['peak-gbps'] === 'string' ? { gbps: Number(values['peak-gbps']), what: `given: ${values['peak-gbps']} GB/s` } : peakEntry;
if (peak && !(peak.gbps > 0)) fail(`--peak-gbps must be a positive number`);

interface Row {
  spec: Spec;
  path: string;
  result: BenchResult;
  importSeconds: number | null;
  note: string;
  /** Leading greedy tokens equal to llama.cpp's (or, for stories260K without llama.cpp, to the pinned ones). */
  agree: { same: number; of: number; against: 'llama.cpp' | 'pinned llama.cpp tokens' } | null;
}
let mismatch = false;
const rows: Row[] = [];

async function pathOf(s: Spec): Promise<string> {
  if (s.file) {
    if (!existsSync(s.file)) throw new Error(`${s.file} is missing (set PXI_STORIES to its path)`);
    return s.file;
  }
  return ensureGeneratedModel(cacheDir, s.gen!, say);
}

/** Imports the model into a fresh temporary volume and hands ours a TensorSource over its pixels. */
async function fromPixels(path: string, name: string): Promise<{ source: OursSource; importSeconds: number }> {
  const { ModelStore } = await import('../../electron/models');
  const { pixelTensorSource } = await import('../../electron/engine/pixel-source');
  const { TilePool } = await import('../../electron/pixelfs/worker-pool');
  const dir = mkdtempSync(join(tmpdir(), 'pxi-bench-volume-'));
  // The bundle has no tsx to start PixelFS's .ts tile worker: package.ts bundles it as tile-worker.mjs beside this file.
  const pool = bundled ? new TilePool({ entry: new URL('./tile-worker.mjs', import.meta.url) }) : null;
  const store = await ModelStore.open(dir, { create: true, ...(pool ? { pool } : {}) });
  const cleanup = async () => {
    await store.close();
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const t0 = performance.now();
    let last = 0;
    const r = await store.import(path, {
      name,
      onProgress: (p) => {
        if (performance.now() - last < 10_000) return;
        last = performance.now();
        say(`import: ${(p.bytesDone / 1e9).toFixed(2)} of ${(p.bytesTotal / 1e9).toFixed(2)} GB, ${(p.bytesPerSecond / 1e6).toFixed(0)} MB/s`);
      },
    });
    const importSeconds = (performance.now() - t0) / 1000;
    say(`imported into ${dir} in ${importSeconds.toFixed(1)} s (${r.tilesWritten} tiles)`);
    const source = pixelTensorSource(store, r.model.id);
    return {
      source: {
        kind: 'pixels',
        source,
        close: cleanup,
      },
      importSeconds,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Last-position logits of a 4-token prompt under `t`, against the default shape: max |Δ| / max |logit|. */
async function logitsError(path: string, t: WeightKernelTuning): Promise<number> {
  const run = async (tuning: WeightKernelTuning) => {
    const m = await openNodeModel(path, { ctx, contextLength: 16, tuning });
    try {
      return (await m.model.forward(promptIds(m.tokenizer, 4, m.model.vocabSize), 'last')).logits!;
    } finally {
      await m.close();
    }
  };
  const a = await run({ ...DEFAULT_TUNING });
  const b = await run(t);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    diff = Number.isFinite(d) ? Math.max(diff, d) : Infinity;
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return scale > 0 ? diff / scale : Infinity;
}

try {
  // Optional calibration of the weight-kernel shape (GPU machine): short decode runs on the first model.
  if (typeof values.tunings === 'string' && specs.length > 0) {
    const candidates = values.tunings.split(',').map((t) => {
      try {
        return parseTuning(t);
      } catch (e) {
        fail((e as Error).message);
      }
    });
    const s = specs.find((x) => x.id === 'q1b-q4k') ?? specs[0]!;
    const path = await pathOf(s);
    const results: { t: WeightKernelTuning; rate: number }[] = [];
    for (const t of candidates) {
      const r = await runBench(ctx, path, { promptTokens: 2, genTokens: 9, breakdownSteps: 0, tuning: t, llama: null, llamaSkipReason: 'calibration' });
      say(`tuning ${t.workgroupSize}x${t.threadsPerRow}: decode ${fmtRate(r.ours.decodeTokensPerSecond)} tokens/s on ${s.label}`);
      results.push({ t, rate: r.ours.decodeTokensPerSecond });
    }
    // The fastest shape must also compute what the default one (checked against llama.cpp by the
    // parity tests) computes, on every weight type the run uses; else the next fastest.
    const ranked = [...results].sort((a, b) => b.rate - a.rate).map((x) => x.t);
    const checkPaths = [path];
    for (const x of specs) if (x.gen?.preset === 'qwen2-1b') checkPaths.push(await pathOf(x));
    for (const t of ranked) {
      if (t.workgroupSize === DEFAULT_TUNING.workgroupSize && t.threadsPerRow === DEFAULT_TUNING.threadsPerRow) {
        tuning = t;
        break;
      }
      let worst = 0;
      for (const cp of new Set(checkPaths)) worst = Math.max(worst, await logitsError(cp, t));
      say(`tuning ${t.workgroupSize}x${t.threadsPerRow}: logits vs the default shape, max |Δ| / max |logit| = ${worst.toExponential(2)} (bound 1e-2)`);
      if (worst <= 1e-2) {
        tuning = t;
        break;
      }
      console.log(`CHECK FAILED: tuning ${t.workgroupSize}x${t.threadsPerRow} computes other logits than ${DEFAULT_TUNING.workgroupSize}x${DEFAULT_TUNING.threadsPerRow}; trying the next`);
    }
    tuning ??= { ...DEFAULT_TUNING };
    say(`using tuning ${tuning.workgroupSize}x${tuning.threadsPerRow}`);
  }

  for (const s of specs) {
    const path = await pathOf(s);
    const p = pOverride ?? s.p;
    const n = nOverride ?? s.n;
    let from: OursSource = { kind: 'gguf' };
    let importSeconds: number | null = null;
    let note = '';
    if ((s.pixels || values.pixels) && !values['no-pixels']) {
      try {
        const px = await fromPixels(path, s.id);
        from = px.source;
        importSeconds = px.importSeconds;
      } catch (e) {
        note = `loaded from the GGUF: the pixel import failed (${(e as Error).message})`;
        say(note);
      }
    } else if (s.pixels) {
      note = 'loaded from the GGUF (--no-pixels)';
    }
    say(`${s.label}: prompt ${p}, generate ${n}`);
    const result = await runBench(ctx, path, { promptTokens: p, genTokens: n, breakdownSteps: 2, ...(tuning ? { tuning } : {}), llama, llamaSkipReason: llamaSkip, threads, onStatus: say, ...(intMatvec ? { intMatvec } : {}), ...(prefillMatmul ? { prefillMatmul } : {}) }, from);
    console.log(`\n=== ${s.label} ===\n${formatBench(result)}${note ? `\nnote: ${note}` : ''}`);
    if (peak) console.log(`decode reads ${fmtRate(result.ours.decodeGBps)} GB/s = ${((100 * result.ours.decodeGBps) / peak.gbps).toFixed(1)}% of the ${peak.what}`);
    let agree: Row['agree'] = null;
    if (!('skipped' in result.llama)) {
      agree = { same: sharedPrefix(result.tokens, result.llama.tokens), of: result.tokens.length, against: 'llama.cpp' };
    } else if (s.id === 'stories' && p === 64 && n === 64) {
      agree = { same: sharedPrefix(result.tokens, STORIES_GREEDY_64), of: 64, against: 'pinned llama.cpp tokens' };
    }
    // stories260K is a trained model with clear margins: ours must pick llama.cpp's tokens there.
    if (s.id === 'stories' && agree && agree.same < agree.of) {
      mismatch = true;
      console.log(`CHECK FAILED: stories260K greedy tokens agree with ${agree.against} for only ${agree.same} of ${agree.of}`);
    }
    rows.push({ spec: s, path, result, importSeconds, note, agree });
  }
} finally {
  await llama?.dispose();
  ctx.destroy();
}

// The summary table (markdown, as specs/benchmarks.md records it).
const m = rows[0]?.result.machine;
console.log(`\n## Summary\n\n${m ? machineLine(m) : ''}`);
if (!llama) console.log(`llama.cpp: not run (${llamaSkip})`);
if (peak) console.log(`peak memory bandwidth: ${peak.what}`);
const head = ['model', 'from', 'weights/token', 'p / n', 'ours prefill tok/s', 'ours decode tok/s', 'ours GB/s', 'llama.cpp prefill tok/s', 'llama.cpp decode tok/s', 'decode ours/llama', 'same greedy tokens'];
if (peak) head.push('% of peak BW');
const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
for (const r of rows) {
  const o = r.result.ours;
  const l = r.result.llama;
  const cells = [
    r.spec.label,
    o.loadedFrom === 'pixels' ? `pixels (import ${r.importSeconds!.toFixed(0)} s)` : 'GGUF',
    `${(r.result.model.weightBytesPerToken / 1e6).toFixed(1)} MB`,
    `${o.promptTokens} / ${o.decodeTokens + 1}`,
    fmtRate(o.prefillTokensPerSecond),
    fmtRate(o.decodeTokensPerSecond),
    fmtRate(o.decodeGBps),
    'skipped' in l ? '—' : `${fmtRate(l.prefillTokensPerSecond)} (${l.threads}t)`,
    'skipped' in l ? '—' : `${fmtRate(l.decodeTokensPerSecond)} (${l.threads}t)`,
    r.result.ratio ? `${r.result.ratio.decode.toFixed(2)}×` : '—',
    r.agree ? `${r.agree.same}/${r.agree.of}${r.agree.against === 'llama.cpp' ? '' : ' (pinned)'}` : '—',
  ];
  if (peak) cells.push(`${((100 * o.decodeGBps) / peak.gbps).toFixed(1)}%`);
  lines.push(`| ${cells.join(' | ')} |`);
}
console.log(lines.join('\n'));
console.log('\nwhere a decode step goes (ours, timestamp queries):');
for (const r of rows) {
  const b = r.result.breakdown;
  if (b.method !== 'timestamp-query') {
    console.log(`- ${r.spec.label}: ${b.wallMsPerStep.toFixed(1)} ms per step (no timestamp-query)`);
    continue;
  }
  const w = b.groups.filter((g) => g.gbps !== null);
  const wMs = w.reduce((s, g) => s + g.ms, 0);
  const wBytes = w.reduce((s, g) => s + g.bytes, 0);
  const calls = w.reduce((s, g) => s + g.calls, 0);
  console.log(
    `- ${r.spec.label}: wall ${b.wallMsPerStep.toFixed(1)} ms per step (timed steps ${b.timedWallMsPerStep.toFixed(1)} ms); kernels ${b.gpuMsPerStep.toFixed(1)} ms over ${b.dispatchesPerStep} dispatches: ` +
      `weight kernels ${wMs.toFixed(1)} ms (${calls} dispatches, ${fmtRate(wMs > 0 ? wBytes / wMs / 1e6 : 0)} GB/s), ` +
      `${b.dispatchesPerStep - calls} other dispatches ${(b.gpuMsPerStep - wMs).toFixed(1)} ms (${((1000 * (b.gpuMsPerStep - wMs)) / Math.max(1, b.dispatchesPerStep - calls)).toFixed(0)} µs each)`,
  );
}
if (typeof values.json === 'string') {
  const { writeFileSync } = await import('node:fs');
  writeFileSync(values.json, JSON.stringify({ peak: peak ?? null, gpuName, threads, tuning: tuning ?? null, rows }, null, 1));
  console.log(`\nJSON: ${values.json}`);
}
// Dawn's handles must not keep the process alive.
setImmediate(() => process.exit(mismatch ? 1 : 0));
