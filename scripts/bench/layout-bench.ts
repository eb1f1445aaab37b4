/**
 * Layout reorganisation before and after (issue 12 §4), in one run: a model made by the
 * project's generator is imported into a fresh volume (default 1024x1024 tiles, 4 MiB), its
 * reads are recorded (load + one forward pass through the engine when a WebGPU adapter opens,
 * else the load order), then the same measurements are taken in the import layout and, after
 * `applyLayout`, in the packed layout. The import files stay beside the packs, so the two
 * layouts are measured in the same volume, interleaved (import, packed; packed, import; ...),
 * each sample with PixelFS's tile cache emptied first:
 *   - a cold read of the trace through PixelFS: wall time and tiles loaded;
 *   - (with an adapter) the engine's cold load from pixels, its tiles loaded, and decode tok/s
 *     with a GPU budget of half the weights (the residency planner streams matrices per token).
 * The OS page cache is not dropped (that needs root): "cold" means PixelFS's tile cache is
 * empty, so every tile PNG is read, inflated and checked again. A measurement, not a test:
 * figures go to specs/benchmarks.md.
 *
 *   npm run bench:layout -- [--preset tiny-llama] [--type Q8_0] [--blocks 8] [--embd 1024] [--ff 2816] [--reps 3] [-n 8] [--no-engine]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openBenchContext } from '../../electron/cli/bench/context';
import { openModelFromSource } from '../../electron/engine/index';
import { pixelTensorSource } from '../../electron/engine/pixel-source';
import { traceModelReads } from '../../electron/engine/trace-reads';
import { placesOf } from '../../electron/models/layout';
import { ModelStore } from '../../electron/models/store';
import type { Model } from '../../shared/engine/model';
import type { TensorSource } from '../../shared/engine/tensor-source';
import type { GpuContext } from '../../shared/gpu';
import type { TensorPlace, TensorRead } from '../../shared/model/layout-plan';
import { generateModelBytes, planModel } from '../../shared/model-gen';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny-llama' },
    type: { type: 'string', default: 'Q8_0' },
    blocks: { type: 'string', default: '8' },
    embd: { type: 'string', default: '1024' },
    ff: { type: 'string', default: '2816' },
    reps: { type: 'string', default: '3' },
    n: { type: 'string', short: 'n', default: '8' },
    'no-engine': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: npm run bench:layout -- [--preset P] [--type T] [--blocks N] [--embd N] [--ff N] [--reps N] [-n TOKENS] [--no-engine]');
  process.exit(0);
}
const int = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
};
const reps = int('reps', values.reps);
const tokens = int('n', values.n);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-bench-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const plan = planModel({
    preset: values.preset as never,
    type: values.type as never,
    seed: 1,
    method: 'direct',
    overrides: { blocks: int('blocks', values.blocks), embd: int('embd', values.embd), ff: int('ff', values.ff) },
  });
  const gguf = path.join(tmp, 'model.gguf');
  fs.writeFileSync(gguf, await generateModelBytes(plan));
  const volume = path.join(tmp, 'volume');
  const s0 = await ModelStore.open(volume, { create: true });
  await s0.import(gguf, { name: 'm' });
  const m = s0.manifest('m');
  await s0.close();

  let ctx: GpuContext | null = null;
  if (!values['no-engine']) {
    try {
      ctx = await openBenchContext();
    } catch (e) {
      console.log(`no WebGPU adapter (${(e as Error).message}): PixelFS figures only`);
    }
  }
  console.log(
    `model: ${values.preset} ${values.type}, ${values.blocks} blocks, embd ${values.embd}, ff ${values.ff}: ${m.tensors.length} tensors, ${(m.source.size / 1e6).toFixed(1)} MB; ` +
      `tiles ${m.storage.tileWidth}x${m.storage.tileHeight} (${m.storage.tileBytes} B); adapter: ${ctx ? ctx.adapter.description || ctx.adapter.device : 'none'}; ${reps} reps, median`,
  );

  let trace: TensorRead[];
  {
    const s = await ModelStore.open(volume);
    if (ctx) {
      const r = await traceModelReads(s, 'm', { ctx, contextLength: 64 });
      trace = r.reads;
      console.log(`trace: engine load + one forward pass: ${trace.length} reads (${r.forwardReads} by the forward pass itself)`);
    } else {
      trace = s.tableTrace('m');
      console.log(`trace: every tensor whole, in table order (the load's order): ${trace.length} reads`);
    }
    await s.close();
  }

  // Apply first: the import files stay beside the packs, so both layouts can then be read in
  // the same volume state, interleaved (A B, B A, ...), which keeps the machine's drift out.
  const store = await ModelStore.open(volume);
  const t0 = performance.now();
  const decision = await store.applyLayout('m', trace);
  const applyS = (performance.now() - t0) / 1000;
  const m1 = store.manifest('m');
  const journal = await store.layoutJournal('m');
  const layouts = { import: placesOf(m1, { ...journal, active: null }), packed: placesOf(m1, journal) };
  const vol = store.volume;
  const header = pixelTensorSource(store, 'm').header;
  const sourceIn = (places: Map<string, TensorPlace>): TensorSource => ({
    header,
    read: (name, offset, length) => {
      const p = places.get(name)!;
      return vol.read(p.file, p.offset + offset, length);
    },
  });

  interface Figures {
    readMs: number;
    readTiles: number;
    loadS: number | null;
    loadTiles: number | null;
    tokS: number | null;
  }
  const decode = async (model: Model): Promise<number> => {
    let next = (await model.forward([1], 'argmax')).token!;
    const t = performance.now();
    for (let i = 0; i < tokens; i++) next = (await model.forward([next], 'argmax')).token!;
    return tokens / ((performance.now() - t) / 1000);
  };
  // Half the weights on the GPU, the rest streamed per token (the residency planner); found by
  // one unmeasured load, which also compiles the pipelines before anything is timed.
  let budget: number | undefined;
  if (ctx) {
    const warm = await openModelFromSource(sourceIn(layouts.import), { ctx, contextLength: tokens + 2 });
    budget = Math.floor(warm.model.memory.kvCache + warm.model.memory.activations + warm.model.memory.weights / 2);
    await warm.close();
  }
  const once = async (places: Map<string, TensorPlace>): Promise<Figures> => {
    vol.dropCache();
    let tiles0 = vol.tileLoads;
    const r0 = performance.now();
    for (const r of trace) if (r.length > 0) await sourceIn(places).read(r.tensor, r.offset, r.length);
    const f: Figures = { readMs: performance.now() - r0, readTiles: vol.tileLoads - tiles0, loadS: null, loadTiles: null, tokS: null };
    if (ctx) {
      vol.dropCache();
      tiles0 = vol.tileLoads;
      const nm = await openModelFromSource(sourceIn(places), { ctx, contextLength: tokens + 2, ...(budget ? { gpuMemory: budget } : {}) });
      f.loadS = nm.loadSeconds;
      f.loadTiles = vol.tileLoads - tiles0;
      f.tokS = await decode(nm.model);
      await nm.close();
    }
    return f;
  };
  const samples: Record<'import' | 'packed', Figures[]> = { import: [], packed: [] };
  for (let i = 0; i < reps; i++) {
    for (const k of i % 2 === 0 ? (['import', 'packed'] as const) : (['packed', 'import'] as const)) samples[k].push(await once(layouts[k]));
  }
  await store.close();
  const med = (rows: Figures[]): Figures => {
    const mk = (k: keyof Figures): number | null => (rows[0]![k] === null ? null : median(rows.map((r) => r[k]!)));
    return { readMs: mk('readMs')!, readTiles: mk('readTiles')!, loadS: mk('loadS'), loadTiles: mk('loadTiles'), tokS: mk('tokS') };
  };
  const before = med(samples.import);
  const after = med(samples.packed);

  const show = (label: string, f: Figures): string =>
    `${label}: cold read ${f.readMs.toFixed(1)} ms, ${f.readTiles} tiles` +
    (f.loadS === null ? '' : `; engine cold load ${f.loadS.toFixed(3)} s, ${f.loadTiles} tiles; decode ${f.tokS!.toFixed(2)} tok/s (budget ${((budget ?? 0) / 1e6).toFixed(1)} MB, half the weights streamed)`);
  console.log(`planned: ${decision.before.tileLoads} → ${decision.after.tileLoads} tile loads, ${decision.before.seeks} → ${decision.after.seeks} seeks, ${decision.before.files} → ${decision.after.files} files`);
  console.log(show('import layout', before));
  console.log(show('packed layout', after));
  const all = (k: keyof Figures, rows: Figures[]): string => rows.map((r) => (r[k] === null ? '-' : Number(r[k]).toFixed(k === 'loadS' ? 3 : 1))).join(' ');
  console.log(`samples (interleaved): cold read ms import [${all('readMs', samples.import)}] packed [${all('readMs', samples.packed)}]; load s import [${all('loadS', samples.import)}] packed [${all('loadS', samples.packed)}]; tok/s import [${all('tokS', samples.import)}] packed [${all('tokS', samples.packed)}]`);
  console.log(`apply took ${applyS.toFixed(2)} s (${decision.after.files} pack files written beside the import files)`);
  console.log(`decision record: ${JSON.stringify(decision)}`);
  ctx?.destroy();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
