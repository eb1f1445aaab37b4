/**
 * llama-quantize's type mixes (`pxi gen --mix`) against llama.cpp itself (node-llama-cpp,
 * tests/support/llama-cpp.ts): every mix loads and follows the F32 file with rows that are not
 * whole 256-blocks (tiny-llama with embd 320), whose tensors fall back to Q4_0, Q5_0, Q5_1, Q8_0
 * and IQ4_NL as llama-quantize's do (the quantize method draws the same values for every type, so
 * a wrongly read tensor type would show). Every mix of tiny-llama and a tied gemma3 is run by our
 * engine against llama.cpp in parity-archs.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { getU32 } from '../../shared/gguf/metadata';
import { ggmlType } from '../../shared/gguf/ggml-types';
import { GEN_MIXES, MIX_FILE_TYPE, generateModelBytes, planModel, type ConfigOverrides, type GenMix, type GenOptions } from '../../shared/model-gen';
import { tokenizerFromGguf } from '../../shared/tokenizer';
import { openReference } from '../support/llama-cpp';
import { meanCorrelation } from '../support/compare';

const dir = mkdtempSync(join(tmpdir(), 'pxi-model-gen-mix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPT = 'The keeper wrote down what she learned about the river and the mill, and then she walked home.';
const SEED = 7;

const report = (line: string): void => {
  if (process.env.PXI_GEN_REPORT) console.log(line);
};

/** Generates the file, loads it in llama.cpp and returns log p over the vocabulary at each prompt position. */
async function evaluate(opts: GenOptions): Promise<{ logProbs: Float64Array[]; types: Set<string> }> {
  const plan = planModel(opts);
  const bytes = await generateModelBytes(plan);
  const h = parseGgufBytes(bytes, 'mix.gguf');
  expect(getU32(h, 'general.file_type')).toBe(plan.fileType);
  const types = new Set(h.tensors.map((t) => ggmlType(t.type).name));
  const tok = tokenizerFromGguf(h.metadata);
  const path = join(dir, `${opts.preset}-${opts.mix ?? opts.type}-${Math.random().toString(36).slice(2)}.gguf`);
  writeFileSync(path, bytes);
  const ref = await openReference(path, 128);
  try {
    expect(ref.vocabSize).toBe(plan.config.vocab);
    const ids = [tok.bos!, ...tok.encode(PROMPT, { addSpecial: false })];
    expect(ref.tokenize(PROMPT)).toEqual(ids.slice(1));
    return { logProbs: await ref.logProbs(ids), types };
  } finally {
    await ref.dispose();
  }
}

/** Finite, normalised, neither flat nor one-hot at each position; returns the mean top-1 probability. */
function checkDistribution(label: string, logProbs: Float64Array[], V: number): number {
  let topSum = 0;
  for (const lp of logProbs) {
    expect(lp).toHaveLength(V);
    let sum = 0;
    let best = -Infinity;
    for (let i = 0; i < V; i++) {
      expect(Number.isFinite(lp[i]!), `${label}: log p of token ${i}`).toBe(true);
      sum += Math.exp(lp[i]!);
      best = Math.max(best, lp[i]!);
    }
    expect(sum, label).toBeCloseTo(1, 3);
    expect(Math.exp(best), label).toBeLessThan(0.999);
    expect(Math.exp(best), label).toBeGreaterThan(20 / V);
    topSum += Math.exp(best);
  }
  const meanTop = topSum / logProbs.length;
  expect(meanTop, label).toBeGreaterThan(0.03);
  expect(meanTop, label).toBeLessThan(0.7);
  return meanTop;
}

// Measured (seed 7; tiny-llama / with embd 320 / with ff 320): Q2_K 0.560 / 0.864 / 0.568, Q3_K_S
// 0.771 / 0.864 / 0.807, Q3_K_M 0.817 / 0.888 / 0.835, Q3_K_L 0.824 / 0.896 / 0.842, Q4_K_S 0.940 /
// 0.964 / 0.942, Q4_K_M 0.937 / 0.966 / 0.937, Q5_K_S 0.982 / 0.972 / 0.984, Q5_K_M 0.982 / 0.973 /
// 0.984, Q6_K 0.994 / 0.999 / 0.995, IQ4_XS 0.920 / 0.897 / 0.918. Deterministic (one thread,
// fixed seed); the bounds leave room for a change of quantiser.
const MIN_CORRELATION: Readonly<Record<GenMix, number>> = {
  Q2_K: 0.45,
  Q3_K_S: 0.6,
  Q3_K_M: 0.7,
  Q3_K_L: 0.7,
  Q4_K_S: 0.8,
  Q4_K_M: 0.8,
  Q5_K_S: 0.93,
  Q5_K_M: 0.93,
  Q6_K: 0.97,
  IQ4_XS: 0.8,
};

// Every mix of tiny-llama and a tied gemma3 also runs in parity-archs.test.ts against llama.cpp
// and our engine (to 2e-4 of the exact reference); here only the fallback shapes' llama.cpp check.

describe('tiny-llama mixes with fallback rows in llama.cpp', () => {
  const shapes: readonly [string, ConfigOverrides][] = [
    // embd 320 makes every K-quant row of 320 fall back: Q4_0, Q5_0, Q5_1, Q8_0 and IQ4_NL all appear.
    ['embd 320', { embd: 320 }],
  ];
  for (const [label, overrides] of shapes) {
    it(`${label}: every mix loads and follows the F32 file of that shape`, async () => {
      const f32 = (await evaluate({ preset: 'tiny-llama', type: 'F32', seed: SEED, overrides })).logProbs;
      const seen = new Set<string>();
      for (const mix of GEN_MIXES) {
        const { logProbs, types } = await evaluate({ preset: 'tiny-llama', mix, seed: SEED, overrides });
        for (const t of types) seen.add(t);
        const top = checkDistribution(`tiny-llama ${label} ${mix}`, logProbs, 1024);
        const corr = meanCorrelation(f32, logProbs);
        report(`FALLBACK ${label} ${mix} (file type ${MIX_FILE_TYPE[mix]}) types ${[...types].sort().join('/')} mean top-1 ${top.toFixed(3)} corr ${corr.toFixed(4)}`);
        expect(corr, mix).toBeGreaterThan(MIN_CORRELATION[mix]);
      }
      // Every fallback type llama-quantize uses for these mixes was in some file.
      for (const t of ['Q4_0', 'Q5_0', 'Q5_1', 'Q8_0', 'IQ4_NL']) expect(seen.has(t), t).toBe(true);
    });
  }
});
