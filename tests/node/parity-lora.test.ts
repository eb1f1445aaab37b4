/**
 * LoRA adapters (llama.cpp's GGUF format) applied by our engine, against llama.cpp applying the
 * same file (node-llama-cpp `createContext({ lora })`): generated tiny bases (F32 and quantised:
 * the base stays as stored) with seeded random adapters (shared/lora), 32 positions.
 *
 *  1. ours with the adapter vs the exact reference with it (f64, y = W·x + s·B·(A·x)): 2e-4;
 *  2. the adapter matters: it moves our log-probs by more than 0.05 somewhere;
 *  3. ours vs llama.cpp with the adapter: within the type's tolerance (parity-generated's), and
 *     the same top-1 token wherever llama.cpp's margin exceeds it; F32: greedy continuations of
 *     24 tokens identical (near-ties excepted by margin);
 *  4. rank 6 (not a multiple of the f32 kernels' 4: padded with zeros) and scale 0.5;
 *  5. an adapter made for another base is refused, naming the tensor;
 *  6. adapters trained by our engine (shared/train LoRA mode, 30 AdamW steps over the frozen
 *     base on TinyStories text, written by shared/lora/write.ts) meet the same checks, on an
 *     F32 and on a Q8_0 base.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openNodeModel } from '../../electron/engine';
import { readLoraValues } from '../../shared/engine/lora';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { generateLoraAdapterBytes, loraAdapterFromGguf } from '../../shared/lora';
import { generateModelBytes, planModel, type GenType, type PresetName } from '../../shared/model-gen';
import { useGpu } from '../support/gpu';
import { openReference } from '../support/llama-cpp';
import { diffLogProbs, greedyAgreement, logProbsOf, referenceLogProbs, sourceFromBytes, top2 } from './engine-support';
import { fixturePath } from '../support/fixtures';
import { tokenizerFromGguf } from '../../shared/tokenizer';
import { writeLoraAdapterBytes } from '../../shared/lora';
import { RandomWindows } from '../../shared/train/data';
import { FrozenBase, trainConfigOfBase } from '../../shared/train/frozen-base';
import { GpuTrainer } from '../../shared/train/gpu-trainer';
import { DEFAULT_LORA_TARGETS, initLoraParams, loraAName, loraBName, loraTargetNames, targetShape, type LoraSettings, type LoraTarget } from '../../shared/train/lora';

const TEXT = 'The keeper wrote down what she learned about the river and the mill, and the children asked her why the water ran so fast in the spring.';
const TOLERANCE: Partial<Record<GenType, number>> = { F32: 1e-3, Q8_0: 0.6, Q4_K: 0.8 };
const report = process.env.PXI_PARITY_REPORT === '1';

const g = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'pxi-lora-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function files(preset: PresetName, type: GenType, rank: number, seed = 1, trained = false): Promise<{ base: string; adapter: string }> {
  const float = type === 'F32' || type === 'F16';
  const bytes = await generateModelBytes(planModel({ preset, type, seed: 0, method: float ? 'quantize' : 'direct' }));
  const base = join(dir, `${preset}-${type}.gguf`);
  writeFileSync(base, bytes);
  const adapter = join(dir, `${preset}-${type}-r${rank}${trained ? '-trained' : ''}.lora.gguf`);
  writeFileSync(adapter, trained ? await trainAdapter(bytes, base, rank) : generateLoraAdapterBytes({ base: parseGgufBytes(bytes, base), rank, alpha: 2 * rank, seed }));
  return { base, adapter };
}

/** An adapter trained by our engine: 30 AdamW steps of LoRA over the frozen base on TinyStories text. */
async function trainAdapter(bytes: Uint8Array, name: string, rank: number): Promise<Uint8Array> {
  const source = await sourceFromBytes(bytes, name);
  const cfg = trainConfigOfBase(source.header);
  const lora: LoraSettings = { rank, alpha: 2 * rank, targets: DEFAULT_LORA_TARGETS };
  const text = readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8').slice(0, 20_000);
  const stream = Int32Array.from(tokenizerFromGguf(source.header.metadata, name).encode(text));
  const [B, T] = [4, 32];
  const windows = new RandomWindows(stream, B, T, 1, 1);
  const frozen = await FrozenBase.load(g.ctx!, source, cfg);
  const trainer = await GpuTrainer.create(g.ctx!, cfg, { batch: B, seqLen: T }, initLoraParams(cfg, lora, 1), { base: frozen, lora });
  try {
    for (let s = 1; s <= 30; s++) await trainer.step([windows.microBatch(s, 0)], s, { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxNorm: 1 });
    const p = await trainer.readParams();
    const pairs = loraTargetNames(cfg, lora).map((w) => {
      const { out, in: inDim } = targetShape(cfg, w.split('.')[2] as LoraTarget);
      return { target: w, inDim, outDim: out, a: p.get(loraAName(w))!, b: p.get(loraBName(w))! };
    });
    return writeLoraAdapterBytes({ base: source.header, rank, alpha: lora.alpha, pairs, title: 'trained' });
  } finally {
    trainer.destroy();
    frozen.destroy();
  }
}

const CASES: readonly (readonly [PresetName, GenType, number, number, 'generated' | 'trained'])[] = [
  ['tiny-llama', 'F32', 8, 1, 'generated'],
  ['tiny-llama', 'Q4_K', 8, 1, 'generated'],
  ['tiny-qwen2', 'Q8_0', 6, 0.5, 'generated'],
  ['tiny-llama', 'F32', 8, 1, 'trained'],
  ['tiny-qwen2', 'Q8_0', 8, 1, 'trained'],
];

describe('LoRA adapters as llama.cpp applies them', () => {
  it.for(CASES)('%s %s, rank %s, scale %s, %s adapter', async ([preset, type, rank, scale, kind], t) => {
    if (!g.ctx) return t.skip(g.reason);
    const f = await files(preset, type, rank, 1, kind === 'trained');
    const ours = await openNodeModel(f.base, { ctx: g.ctx, contextLength: 64, loraPath: f.adapter, loraScale: scale, tuningFile: false });
    const plain = await openNodeModel(f.base, { ctx: g.ctx, contextLength: 64, tuningFile: false });
    const ref = await openReference(f.base, 64, { lora: { filePath: f.adapter, scale } });
    try {
      const ids = ours.tokenizer.encode(TEXT).slice(0, 32);
      const V = ours.model.vocabSize;
      const got = logProbsOf((await ours.model.forward(ids, 'all')).logits!, ids.length, V);
      const without = logProbsOf((await plain.model.forward(ids, 'all')).logits!, ids.length, V);
      const adapterSource = await sourceFromBytes(new Uint8Array(readFileSync(f.adapter)), f.adapter);
      const lora = await readLoraValues(adapterSource, loraAdapterFromGguf(adapterSource.header, ours.source.header), scale);
      const exact = await referenceLogProbs(ours.source, ours.model, ids, { lora });
      const want = await ref.logProbs(ids);
      const vsExact = diffLogProbs(got, exact);
      const moved = diffLogProbs(got, without);
      const vsLlama = diffLogProbs(got, want);
      const tol = TOLERANCE[type]!;
      if (report) console.log(`${preset} ${type} r${rank} s${scale} ${kind}: ours~exact ${vsExact.max.toExponential(2)}, adapter moves ${moved.max.toFixed(3)}, ours~llama.cpp ${vsLlama.max.toExponential(2)}`);
      expect(vsExact.max, `ours vs exact reference, worst at ${vsExact.at}`).toBeLessThan(2e-4);
      expect(moved.max).toBeGreaterThan(0.05);
      for (let i = 0; i < ids.length; i++) {
        const w = top2(want[i]!);
        if (w.margin > tol) expect(top2(got[i]!).top, `top-1 at ${i} (llama.cpp margin ${w.margin.toFixed(3)})`).toBe(w.top);
      }
      expect(vsLlama.max, `ours vs llama.cpp, worst at ${vsLlama.at}`).toBeLessThan(tol);
      if (type === 'F32') {
        const prompt = ids.slice(0, 12);
        await greedyAgreement(ours.model, prompt, await ref.greedy(prompt, 24), tol);
      }
    } finally {
      await ours.close();
      await plain.close();
      await ref.dispose();
    }
  });

  it('refuses an adapter made for another base, naming the tensor', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const llama = await files('tiny-llama', 'F32', 4);
    const qwen = await files('tiny-qwen2', 'F32', 4);
    await expect(openNodeModel(llama.base, { ctx: g.ctx, contextLength: 16, loraPath: qwen.adapter, tuningFile: false })).rejects.toThrow(/lora/i);
  });
});
