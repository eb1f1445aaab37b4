/**
 * Generated models against llama.cpp itself (node-llama-cpp, tests/support/llama-cpp.ts): every
 * type of both tiny presets loads, tokenizes like our tokenizer, and predicts a finite,
 * non-trivial next-token distribution; the quantised files of one seed predict what the F32 file
 * predicts, within each type's precision (so llama.cpp reads our blocks as the values we meant).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { GEN_TYPES, generateModelBytes, planModel, type GenMethod, type GenType } from '../../shared/model-gen';
import { VOCAB_CORPUS } from '../../shared/model-gen/corpus';
import { tokenizerFromGguf, type Tokenizer } from '../../shared/tokenizer';
import { openReference } from '../support/llama-cpp';
import { expectSameTokenizer, expectSaneDistribution, TOKENIZER_TEXTS } from '../support/llama-cpp-checks';
import { meanCorrelation } from '../support/compare';

const dir = mkdtempSync(join(tmpdir(), 'pxi-model-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROMPT = 'The keeper wrote down what she learned about the river and the mill.';

interface Outcome {
  /** log p over the vocabulary at each position of PROMPT. */
  logProbs: Float64Array[];
}

async function check(preset: 'tiny-llama' | 'tiny-qwen2', type: GenType, method: GenMethod, seed = 7): Promise<Outcome> {
  const plan = planModel({ preset, type, seed, method });
  const bytes = await generateModelBytes(plan);
  const h = parseGgufBytes(bytes, `${preset}-${type}.gguf`);
  expect(h.tensors).toHaveLength(plan.tensors.length);
  const tok: Tokenizer = tokenizerFromGguf(h.metadata);
  for (const t of TOKENIZER_TEXTS) expect(tok.decode(tok.encode(t, { addSpecial: false }))).toBe(t);

  const path = join(dir, `${preset}-${type}-${method}-${seed}.gguf`);
  writeFileSync(path, bytes);
  const ref = await openReference(path, 128);
  try {
    expectSameTokenizer(ref, tok, plan.config.vocab);
    const ids = [tok.bos!, ...tok.encode(PROMPT, { addSpecial: false })];
    const logProbs = await ref.logProbs(ids);
    // Neither one-hot nor flat: the top token is far likelier than uniform, and not certain.
    // IQ4's grid sharpens one position of tiny-llama (seed 7) to 0.994 (IQ4_NL) / 0.992
    // (IQ4_XS) in llama.cpp, which reads the file exactly as our engine does
    // (parity-generated.test.ts): a property of these random models, so a looser cap there.
    expectSaneDistribution(logProbs, plan.config.vocab, type.startsWith('IQ4') ? 0.998 : 0.98);
    return { logProbs };
  } finally {
    await ref.dispose();
  }
}

// How closely each type of the same (quantize-method) model must follow F32. llama.cpp also
// rounds activations to 8 bits for block types, so this measures both. Misread blocks (a wrong
// nibble order, a wrong scale) give correlations near 0.
// Measured: F16 0.999999, BF16 0.99992, Q8_0 0.9992, Q6_K 0.994, Q4_K 0.94, Q4_0 0.90; the
// later types (tiny-llama / tiny-qwen2): Q5_K 0.981 / 0.984, Q5_1 0.980 / 0.982, Q5_0 0.972 /
// 0.976, Q4_1 0.915 / 0.928, IQ4_NL 0.919 / 0.924, IQ4_XS 0.921 / 0.928, Q3_K 0.762 /
// 0.790, Q2_K 0.500 / 0.556 (2 bits per weight: a different model, but plainly not a misread one).
const MIN_CORRELATION: Record<GenType, number> = {
  F32: 1,
  F16: 0.99999,
  BF16: 0.9995,
  Q8_0: 0.997,
  Q6_K: 0.985,
  Q4_K: 0.85,
  Q4_0: 0.85,
  Q4_1: 0.85,
  Q5_0: 0.94,
  Q5_1: 0.95,
  Q2_K: 0.4,
  Q3_K: 0.65,
  Q5_K: 0.95,
  IQ4_NL: 0.85,
  IQ4_XS: 0.85,
};

for (const preset of ['tiny-llama', 'tiny-qwen2'] as const) {
  describe(`${preset} in llama.cpp`, () => {
    let f32: Outcome | undefined;
    for (const type of GEN_TYPES) {
      it(`${type}: loads, tokenizes as we do, predicts a sane distribution`, async () => {
        const out = await check(preset, type, 'quantize');
        if (type === 'F32') f32 = out;
        else {
          const corr = meanCorrelation(f32!.logProbs, out.logProbs);
          if (process.env.PXI_CORR_REPORT) console.log(`CORR ${preset} ${type} ${corr.toFixed(5)}`);
          expect(corr).toBeGreaterThan(MIN_CORRELATION[type]);
        }
      });
    }
    it('directly synthesised Q4_K and Q6_K blocks load and predict a sane distribution', async () => {
      await check(preset, 'Q4_K', 'direct');
      await check(preset, 'Q6_K', 'direct');
    });
    it('the correlation tells models apart: another seed is another model', async () => {
      const other = await check(preset, 'F32', 'quantize', 8);
      expect(Math.abs(meanCorrelation(f32!.logProbs, other.logProbs))).toBeLessThan(0.3);
    });
  });
}

describe('large generated vocabularies in llama.cpp', () => {
  // Past the corpus, pieces come from synthetic merges; llama.cpp must split text as we do.
  const corpusText = VOCAB_CORPUS.slice(0, 4000);
  for (const [preset, vocab] of [
    ['tiny-llama', 32000],
    ['tiny-qwen2', 152064],
  ] as const) {
    it(`${preset} with a ${vocab}-token vocabulary tokenizes as our tokenizer does`, async () => {
      const plan = planModel({ preset, type: 'Q4_0', seed: 1, method: 'direct', overrides: { vocab, blocks: 1, tied: true } });
      const bytes = await generateModelBytes(plan);
      const tok = tokenizerFromGguf(parseGgufBytes(bytes).metadata);
      const path = join(dir, `${preset}-${vocab}.gguf`);
      writeFileSync(path, bytes);
      const ref = await openReference(path, 64);
      try {
        expect(ref.vocabSize).toBe(vocab);
        for (const t of [...TOKENIZER_TEXTS, corpusText, 'thethethe keepersofthemaps ingingness 00000000']) {
          const ours = tok.encode(t, { addSpecial: false });
          expect(ref.tokenize(t)).toEqual(ours);
          expect(tok.decode(ours)).toBe(t);
        }
      } finally {
        await ref.dispose();
      }
    });
  }
});
