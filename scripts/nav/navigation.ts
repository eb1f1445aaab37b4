/**
 * Map-navigation training, measured (specs/training.md, "Map-navigation training"): question/
 * answer pairs from the Infinite Map placements of generated models (shared/nav/questions.ts,
 * the placement code the import uses as ground truth), a model fine-tuned on the pairs of the
 * training maps with `pxi finetune`, then asked every question about held-out maps (models whose
 * map was never in the training text) and a sample of the training maps' questions; exact-match
 * accuracy per kind, greedy with our engine. A measurement, not a test.
 *
 *   tsx scripts/nav/navigation.ts [--base MODEL.gguf] [--steps N] [--full] [--out DIR] [--reuse]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openNodeModel } from '../../electron/engine';
import { generate } from '../../shared/engine/generate';
import { placeModel } from '../../shared/map/placement';
import { planModel, tensorBytes, type ConfigOverrides, type PresetName } from '../../shared/model-gen';
import { Xoshiro128 } from '../../shared/model-gen/prng';
import { answerOf, navAccuracy, navLine, navQuestions, NAV_KINDS, type NavKind, type NavQuestion, type NavRegion } from '../../shared/nav/questions';

const { values } = parseArgs({
  options: { base: { type: 'string' }, steps: { type: 'string' }, full: { type: 'boolean' }, out: { type: 'string' }, lr: { type: 'string' }, reuse: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('Usage: tsx scripts/nav/navigation.ts [--base MODEL.gguf (default: the default model)] [--steps N (default 400)] [--lr X] [--full] [--out DIR] [--reuse: measure the adapter already in DIR]');
  process.exit(0);
}
const base = resolve(values.base ?? 'resources/models/pxi-tinystories.gguf');
const steps = values.steps ?? '400';
const out = resolve(values.out ?? '/tmp/pxi-nav');
mkdirSync(out, { recursive: true });

interface MapSpec {
  name: string;
  preset: PresetName;
  overrides: ConfigOverrides;
}
const TRAIN_MAPS: MapSpec[] = [];
for (const blocks of [1, 2, 3, 4, 5, 6, 8]) {
  TRAIN_MAPS.push({ name: `llama-b${blocks}`, preset: 'tiny-llama', overrides: { blocks } });
  TRAIN_MAPS.push({ name: `qwen2-b${blocks}`, preset: 'tiny-qwen2', overrides: { blocks } });
}
// Never in the training text: block counts no training map has.
const HELD_OUT: MapSpec[] = [
  { name: 'llama-b7', preset: 'tiny-llama', overrides: { blocks: 7 } },
  { name: 'qwen2-b7', preset: 'tiny-qwen2', overrides: { blocks: 7 } },
];

function regionsOf(m: MapSpec): NavRegion[] {
  const plan = planModel({ preset: m.preset, type: 'F32', seed: 1, method: 'quantize', overrides: m.overrides });
  const layout = placeModel({ modelId: m.name, tensors: plan.tensors.map((t) => ({ name: t.name, ggmlType: t.type, dims: t.dims, byteSize: tensorBytes(t) })) }, { tileWidth: 1024, tileHeight: 1024 });
  return layout.regions.filter((r) => r.kind === 'weights').map((r) => ({ name: r.name, x: r.x, y: r.y, width: r.width, height: r.height }));
}

const rng = new Xoshiro128(7);
const shuffle = <T>(a: T[]): T[] => {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextInt(0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};
const trainQs = TRAIN_MAPS.flatMap((m, i) => navQuestions(m.name, regionsOf(m), 100 + i, 2));
const heldQs = HELD_OUT.flatMap((m, i) => navQuestions(m.name, regionsOf(m), 900 + i, 1));
const trainFile = join(out, 'nav-train.txt');
const heldFile = join(out, 'nav-heldout.txt');
writeFileSync(trainFile, shuffle([...trainQs]).map(navLine).join(''));
writeFileSync(heldFile, heldQs.map(navLine).join(''));
console.log(`questions: ${trainQs.length} from ${TRAIN_MAPS.length} training maps, ${heldQs.length} from ${HELD_OUT.length} held-out maps (${HELD_OUT.map((m) => m.name).join(', ')})`);

const adapter = join(out, values.full ? 'nav-full.gguf' : 'nav.lora.gguf');
const args = ['bin/pxi.js', 'finetune', base, '--data', trainFile, '--valid', heldFile, '--steps', steps, '--batch', '8', '--seq', '128', '--lr', values.lr ?? (values.full ? '1e-3' : '3e-3'), '--eval-every', '100', '--checkpoint-every', '100', '--name', values.full ? 'nav-full' : 'nav', '--fresh', '--out', adapter, '--volume', join(out, 'volume')];
if (values.full) args.push('--full');
else args.push('--rank', '16', '--alpha', '32');
if (!values.reuse || !existsSync(adapter)) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`pxi finetune failed (${r.status})`);
  console.log(`fine-tuned in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

const m = values.full ? await openNodeModel(adapter, { tuningFile: false }) : await openNodeModel(base, { tuningFile: false, loraPath: adapter });
async function ask(qs: readonly NavQuestion[]) {
  const results: { kind: NavKind; answer: string; got: string }[] = [];
  for (const q of qs) {
    m.model.rewind(0); // each question on its own
    const ids = m.tokenizer.encode(q.prompt);
    const g = await generate(m.model, m.tokenizer, ids, { temperature: 0, maxTokens: 40, stop: ['\n'] });
    results.push({ kind: q.kind, answer: q.answer, got: answerOf(g.text) });
  }
  return results;
}
try {
  const seenSample = shuffle([...trainQs]).slice(0, 150);
  const seen = navAccuracy(await ask(seenSample));
  const heldResults = await ask(heldQs);
  const held = navAccuracy(heldResults);
  const pct = (a: { right: number; total: number }) => `${a.right}/${a.total} (${((100 * a.right) / Math.max(1, a.total)).toFixed(0)} %)`;
  console.log(`\nexact-match accuracy (${values.full ? 'full fine-tune' : 'LoRA rank 16'} of ${base}, ${steps} steps):`);
  console.log(`  kind    training maps (sample)   held-out maps`);
  for (const k of [...NAV_KINDS, 'all'] as const) console.log(`  ${k.padEnd(6)}  ${pct(seen[k]).padEnd(22)}   ${pct(held[k])}`);
  console.log('\nheld-out examples:');
  for (const k of NAV_KINDS) {
    for (const x of heldResults.filter((h) => h.kind === k).slice(0, 2)) console.log(`  ${k}: index ${JSON.stringify(x.answer)}, model ${JSON.stringify(x.got)}`);
  }
} finally {
  await m.close();
}
process.exit(0);
