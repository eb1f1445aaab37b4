/**
 * The families beyond llama / qwen2 against llama.cpp: generated tiny qwen3, gemma2, gemma3,
 * phi3 (full and partial rotary), Mistral-shaped llama, SmolLM-shaped llama (byte-level BPE
 * "smollm") and Llama 3.1-shaped llama (BPE "llama-bpe", rope_freqs.weight), each in F32 and
 * two quantised types. Per model, over the log-probabilities of every token at 32 positions
 * (more than gemma's sliding window of 8, so sliding layers are exercised):
 *
 *  1. ours vs the exact CPU reference (reference/forward.ts, f64 dot products, the family's
 *     ArchSpec): within 2e-4. Our kernels compute what the family's graph says.
 *  2. ours vs llama.cpp: within TOLERANCE, and the same top-1 token wherever llama.cpp's margin
 *     between its first two tokens exceeds it (a smaller margin is a near-tie that llama.cpp's
 *     8-bit activations may flip; see parity-generated.test.ts for how those were measured).
 *  3. decoding token by token (the matrix-vector kernels) gives the prefill's logits;
 *  4. (F32) greedy decoding continues a prompt with llama.cpp's tokens, 24 of them, or differs
 *     only where our margin between the first two tokens is below the F32 tolerance (a near-tie).
 *
 * And Llama 3.1's RoPE factors at long positions: with rope_freqs.weight the logits follow
 * llama.cpp to position 300; with the factors replaced by 1 they do not (the factors matter,
 * and we apply them).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GEN_MIXES, generateModelBytes, planModel, type ConfigOverrides, type GenMix, type GenType, type PresetName } from '../../shared/model-gen';
import { tensorTypeName } from '../../shared/engine/tensor-source';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { useGpu } from '../support/gpu';
import { openReference } from '../support/llama-cpp';
import { diffLogProbs, greedyAgreement, loadBytes, logProbsOf, referenceLogProbs } from './engine-support';
import { expectTop1Agrees, top1Agreement, withParityRun } from './parity-support';

/**
 * Each family in F32 and a spread of the quantised types, so that every type meets at least one
 * new family (every type meets llama and qwen2 in parity-generated.test.ts). The product of
 * families and types is not needed: the weight kernels do not depend on the family.
 */
const CASES: readonly (readonly [PresetName, GenType])[] = (
  [
    ['tiny-qwen3', ['F32', 'Q8_0', 'Q4_K']],
    ['tiny-gemma2', ['F32', 'Q6_K', 'IQ4_XS']],
    ['tiny-gemma3', ['F32', 'Q5_K', 'Q4_0', 'Q4_K']],
    ['tiny-phi3', ['F32', 'Q3_K', 'BF16']],
    ['tiny-phi4-mini', ['F32', 'Q2_K', 'Q5_0']],
    ['tiny-mistral', ['F32', 'Q4_1', 'IQ4_NL']],
    ['tiny-smollm', ['F32', 'Q5_1', 'F16']],
    ['tiny-llama3', ['F32', 'Q8_0', 'Q4_K']],
  ] as const
).flatMap(([p, types]) => types.map((t) => [p, t] as const));
/**
 * ours vs llama.cpp. F32: exact f32 on both sides (measured ≤ 2.9e-5) → 1e-3, except for the
 * GELU families: llama.cpp's GELU is a table over f16 inputs (f16(gelu(f16(x)))), measured
 * 4.9e-3 (gemma2) and 1.1e-2 (gemma3) from us → 2e-2, and the reference with that table
 * emulated comes at least twice as close to llama.cpp (measured RMS 0.09× and 0.23× of ours),
 * so that table is the distance. Quantised: llama.cpp's 8-bit activations (parity-generated):
 * measured up to 0.54 (Q8_0, gemma3) and 0.90 (Q4_K, gemma3) → 0.8 and 1.2.
 */
const TOLERANCE: Record<GenType, number> = {
  F32: 1e-3,
  F16: 5e-2,
  BF16: 0.3,
  Q8_0: 0.8,
  Q4_0: 0.8,
  Q4_1: 0.8,
  Q5_0: 0.8,
  Q5_1: 0.8,
  IQ4_NL: 0.8,
  Q2_K: 1.2,
  Q3_K: 1.2,
  Q4_K: 1.2,
  Q5_K: 1.2,
  Q6_K: 1.2,
  IQ4_XS: 1.2,
};
const GELU_F32_TOLERANCE = 2e-2;
const GELU_TABLE_RMS_RATIO = 0.5;
const EXACT_TOL = 2e-4;
const TEXT =
  'The keeper wrote down what she learned about the river and the mill, and the children asked her why the water ran so fast ' +
  'in the spring, when the snow on the hills melted and the wheel turned all day long.';
const report = process.env.PXI_PARITY_REPORT === '1';

const g = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'pxi-parity-archs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function generated(preset: PresetName, type: GenType): Promise<Uint8Array> {
  const float = type === 'F32' || type === 'F16' || type === 'BF16';
  return generateModelBytes(planModel({ preset, type, seed: 0, method: float ? 'quantize' : 'direct' }));
}

describe('parity with llama.cpp: generated families', () => {
  it.for(CASES)('%s %s', async ([preset, type], t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generated(preset, type);
    await withParityRun(g.ctx, bytes, join(dir, `${preset}-${type}.gguf`), TEXT, { sameTokens: true }, async ({ ours, ids, got, want, exact }) => {
      const V = ours.model.vocabSize;
      const vsExact = diffLogProbs(got, exact);
      const vsLlama = diffLogProbs(got, want);
      const gelu = ours.model.arch.activation === 'gelu';
      // gemma: the reference with llama.cpp's f16-table GELU, to show that is the F32 distance.
      const tabled = gelu ? diffLogProbs(await referenceLogProbs(ours.source, ours.model, ids, { geluF16Table: true }), want) : null;

      // Decode path: one token at a time through the matrix-vector kernels.
      ours.model.rewind(0);
      const stepped: Float64Array[] = [];
      for (const id of ids) stepped.push(logProbsOf((await ours.model.forward([id], 'last')).logits!, 1, V)[0]!);
      const vsStepped = diffLogProbs(stepped, exact);

      const tol = gelu && type === 'F32' ? GELU_F32_TOLERANCE : TOLERANCE[type];
      const checked = expectTop1Agrees(got, want, tol);
      if (report) {
        console.log(
          `${preset} ${type}: ours~exact ${vsExact.max.toExponential(2)} (decode ${vsStepped.max.toExponential(2)}), ours~llama.cpp ${vsLlama.max.toExponential(2)} rms ${vsLlama.rms.toExponential(2)}` +
            (tabled ? `, f16-table GELU reference~llama.cpp ${tabled.max.toExponential(2)} rms ${tabled.rms.toExponential(2)}` : '') +
            `, top-1 agree ${top1Agreement(got, want)}/32, margin > tol at ${checked}`,
        );
      }
      expect(vsExact.max, `ours vs exact reference, worst at ${vsExact.at}`).toBeLessThan(EXACT_TOL);
      expect(vsStepped.max, `decode vs exact reference, worst at ${vsStepped.at}`).toBeLessThan(EXACT_TOL);
      expect(vsLlama.max, `ours vs llama.cpp, worst at ${vsLlama.at}`).toBeLessThan(tol);
      if (tabled && type === 'F32') expect(tabled.rms, "llama.cpp's f16-table GELU explains the F32 distance").toBeLessThan(GELU_TABLE_RMS_RATIO * vsLlama.rms);
    });
  });
});

/**
 * llama-quantize's mixes (`pxi gen --mix`: each tensor its own type, as llama-quantize chooses
 * them) on tiny-llama, the same with rows of 320 (every K-quant row falls back to Q4_0, Q5_0,
 * Q5_1, Q8_0 or IQ4_NL as llama-quantize's do) and a tied gemma3: ours vs the exact reference and
 * llama.cpp, as above. Bound 1.2, the largest of the types a mix holds.
 */
const MIX_CASES: readonly (readonly [PresetName, GenMix, ConfigOverrides])[] = [
  ...GEN_MIXES.map((m) => ['tiny-llama', m, {}] as const),
  ...(['Q2_K', 'Q4_K_M', 'Q5_K_M', 'IQ4_XS'] as const).map((m) => ['tiny-llama', m, { embd: 320 }] as const),
  ['tiny-gemma3', 'Q4_K_M', {}],
];
const MIX_TOLERANCE = 1.2;

describe('parity with llama.cpp: llama-quantize mixes', () => {
  it.for(MIX_CASES)('%s %s %o', async ([preset, mix, overrides], t) => {
    if (!g.ctx) return t.skip(g.reason);
    const plan = planModel({ preset, mix, seed: 0, method: 'direct', overrides });
    const bytes = await generateModelBytes(plan);
    const path = join(dir, `${preset}-${mix}-${overrides.embd ?? 'x'}.gguf`);
    await withParityRun(g.ctx, bytes, path, TEXT, { sameTokens: false }, async ({ ours, got, want, exact }) => {
      const types = new Set(ours.source.header.tensors.filter((x) => x.dims.length > 1 && x.dims[1]! > 1).map((x) => tensorTypeName(x)));
      const vsExact = diffLogProbs(got, exact);
      const vsLlama = diffLogProbs(got, want);
      if (report) console.log(`${preset} ${mix} ${JSON.stringify(overrides)} [${[...types].sort().join(' ')}]: ours~exact ${vsExact.max.toExponential(2)}, ours~llama.cpp ${vsLlama.max.toExponential(2)}`);
      // Every mix but Q6_K (all Q6_K in llama-quantize too) holds several types.
      if (mix !== 'Q6_K') expect(types.size, 'a mix holds more than one type').toBeGreaterThan(1);
      expectTop1Agrees(got, want, MIX_TOLERANCE);
      expect(vsExact.max, `ours vs exact reference, worst at ${vsExact.at}`).toBeLessThan(EXACT_TOL);
      expect(vsLlama.max, `ours vs llama.cpp, worst at ${vsLlama.at}`).toBeLessThan(MIX_TOLERANCE);
    });
  });
});

/** Tokens greedy decoding continues a prompt with in each family (F32), against llama.cpp's. */
const GREEDY_TOKENS = 24;

describe('greedy continuation, token by token, as llama.cpp (F32)', () => {
  it.for(CASES.filter(([, type]) => type === 'F32').map(([p]) => p))('%s', async (preset, t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generated(preset, 'F32');
    const path = join(dir, `${preset}-greedy.gguf`);
    writeFileSync(path, bytes);
    const ours = await loadBytes(g.ctx, bytes, path, { contextLength: 64 });
    const ref = await openReference(path, 64);
    try {
      const prompt = ours.tokenizer.encode('The keeper wrote down what she learned').slice(0, 16);
      const want = await ref.greedy(prompt, GREEDY_TOKENS);
      // A flip is allowed only at a near-tie: our own margin below the F32 distance to llama.cpp.
      const got = await greedyAgreement(ours.model, prompt, want, ours.model.arch.activation === 'gelu' ? GELU_F32_TOLERANCE : TOLERANCE.F32);
      if (report) console.log(`${preset} greedy: ${got.length}/${want.length} tokens agree`);
      expect(want).toHaveLength(GREEDY_TOKENS);
      expect(got.length).toBeGreaterThan(0);
    } finally {
      ours.model.destroy();
      await ref.dispose();
    }
  });
});

describe("Llama 3.1's rope_freqs.weight at long positions", () => {
  it('is applied: ours follows llama.cpp to position 300, and the same model with factors of 1 does not', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generated('tiny-llama3', 'F32');
    const path = join(dir, 'llama3-long.gguf');
    writeFileSync(path, bytes);
    // The same file with every factor set to 1 (the bug: factors ignored).
    const h = parseGgufBytes(bytes, path);
    const rf = h.tensors.find((x) => x.name === 'rope_freqs.weight')!;
    const factors = new Float32Array(bytes.slice(rf.offset, rf.offset + rf.byteSize).buffer);
    expect(Math.max(...factors)).toBeGreaterThan(1.5);
    const ones = bytes.slice();
    new Float32Array(ones.buffer, ones.byteOffset + rf.offset, rf.elementCount).fill(1);

    const N = 300;
    const ref = await openReference(path, 512);
    const ours = await loadBytes(g.ctx, bytes, path, { contextLength: 512 });
    const plain = await loadBytes(g.ctx, ones, `${path} (factors 1)`, { contextLength: 512 });
    try {
      let text = TEXT;
      while (ours.tokenizer.encode(text).length < N) text += ` ${TEXT}`;
      const ids = ours.tokenizer.encode(text).slice(0, N);
      const V = ours.model.vocabSize;
      const want = await ref.logProbs(ids);
      const got = logProbsOf((await ours.model.forward(ids, 'all')).logits!, N, V);
      const without = logProbsOf((await plain.model.forward(ids, 'all')).logits!, N, V);
      const late = (d: ReturnType<typeof diffLogProbs>) => Math.max(...d.perPosition.slice(200));
      const withFactors = diffLogProbs(got, want);
      const ignored = diffLogProbs(without, want);
      if (report) console.log(`llama3 rope_freqs: ours~llama.cpp late ${late(withFactors).toExponential(2)}, factors ignored~llama.cpp late ${late(ignored).toExponential(2)}`);
      expect(late(withFactors)).toBeLessThan(1e-3);
      expect(late(ignored)).toBeGreaterThan(20 * late(withFactors));
    } finally {
      ours.model.destroy();
      plain.model.destroy();
      await ref.dispose();
    }
  });
});
