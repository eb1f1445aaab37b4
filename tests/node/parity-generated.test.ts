/**
 * Parity with llama.cpp on generated tiny llama and qwen2 models (shared/model-gen, seed 0) in
 * every weight type the engine runs (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS), the engine on WebGPU (Dawn on lavapipe). Per model, over
 * the log-probabilities of all 1024 tokens at each of 32 positions:
 *
 *  1. ours vs the exact CPU reference (f64 dot products over the dequantised weights, f32
 *     activations): within 2e-4 for every type. The kernels compute what the file says.
 *  2. llama.cpp vs the same reference with llama.cpp's activation rounding emulated
 *     (reference/forward.ts: activations go to Q8_0 blocks before Q8_0/Q4_0/Q5_0/IQ4_NL weights,
 *     to Q8_K blocks before the K-quants and IQ4_XS, as ggml-cpu's vec_dot_type does; Q8_1 blocks
 *     before Q4_1 and Q5_1, whose dot product uses the block's f16 sum for the offset term): ~1e-6
 *     apart wherever no
 *     activation sits on a rounding tie of its Q8 step. Where one does, a few ulps of f32
 *     summation order decide which way llama.cpp rounds it, and a flip in the input of K and V
 *     reaches every later position through the KV cache (measured: 0 to 24 of 32 positions,
 *     at most 0.16 apart). Asserted robustly: the emulation removes most of the distance, its
 *     RMS over all log-probs at most half the exact reference's (measured 1e-5 to 0.32 of it).
 *     So the distance between us and llama.cpp on quantised models is llama.cpp's activation
 *     rounding, not our kernels.
 *  3. ours vs llama.cpp: within TOLERANCE[type], and the same top-1 token wherever llama.cpp's
 *     margin between its first and second token exceeds that tolerance.
 *
 * Why the tolerances are what they are. F32: both sides are exact f32 arithmetic (measured
 * ≤ 2.1e-5): the 1e-3 of the stories test. F16: llama.cpp rounds activations to f16 for F16
 * dot products (2^-11 relative); on these models that rounding alone moves log-probs by
 * 1.6e-2, and llama.cpp sits 1.4e-2 from us (measured; our f16 emulation explains about half
 * of it, see specs/engine.md) → 5e-2. Q8_0 / Q4_0 / Q4_K / Q6_K: a Q8 activation step is
 * 1/254 of its block's largest value and the generated models' gains (specs/model-gen.md:
 * sharp, not one-hot, next-token distributions) amplify it: llama.cpp sits 0.27–0.35 (Q8_0,
 * Q4_0) and 0.43–0.57 (Q4_K, Q6_K) from us (measured, both presets). The bounds, 0.6 and 0.8,
 * are ~1.4–2× that, while check 1 holds our kernels to 2e-4, three orders of magnitude below.
 * The types added later, measured the same way (tiny-llama / tiny-qwen2): Q4_1 0.37 / 0.29,
 * Q5_0 0.32 / 0.33, Q5_1 0.26 / 0.34, IQ4_NL 0.34 / 0.29 (bound 0.6); Q2_K 0.58 / 0.46, Q3_K
 * 0.45 / 0.42, Q5_K 0.55 / 0.51 (0.8); IQ4_XS 0.66 / 0.50 (1.0). BF16: llama.cpp rounds
 * activations to bf16 (2^-9 relative) for BF16 weights; measured 0.125 / 0.109 (bound 0.3).
 * Run with PXI_PARITY_REPORT=1 to print the measured numbers (specs/engine.md lists them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { llamaCppActivationRounding } from '../../shared/engine/reference/forward';
import { GEN_TYPES, type GenType } from '../../shared/model-gen';
import { useGpu } from '../support/gpu';
import { diffLogProbs, generatedBytes, referenceLogProbs } from './engine-support';
import { expectTop1Agrees, top1Agreement, withParityRun } from './parity-support';

const TYPES: readonly GenType[] = GEN_TYPES;
const TOLERANCE: Record<GenType, number> = {
  F32: 1e-3,
  F16: 5e-2,
  BF16: 0.3,
  Q8_0: 0.6,
  Q4_0: 0.6,
  Q4_1: 0.6,
  Q5_0: 0.6,
  Q5_1: 0.6,
  IQ4_NL: 0.6,
  Q2_K: 0.8,
  Q3_K: 0.8,
  Q4_K: 0.8,
  Q5_K: 0.8,
  Q6_K: 0.8,
  IQ4_XS: 1.0,
};
const EXACT_TOL = 2e-4;
const EMULATION_TOL = 1e-3; // for the report: positions where the emulation is not exact
/** The emulated reference's RMS distance to llama.cpp, as a fraction of the exact reference's. */
const EMULATION_RMS_RATIO = 0.5;
const TEXT =
  'The keeper wrote down what she learned about the river and the mill, and the children asked her why the water ran so fast ' +
  'in the spring, when the snow on the hills melted and the wheel turned all day long.';
const report = process.env.PXI_PARITY_REPORT === '1';

const g = useGpu();
const dir = mkdtempSync(join(tmpdir(), 'pxi-parity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['tiny-llama', 'tiny-qwen2'] as const)('parity with llama.cpp: generated %s', (preset) => {
  it.for(TYPES)('%s', async (type, t) => {
    if (!g.ctx) return t.skip(g.reason);
    // Block types straight from random valid blocks (fast, and every scale/min field varies).
    const float = type === 'F32' || type === 'F16' || type === 'BF16';
    const bytes = await generatedBytes(preset, type, float ? 'quantize' : 'direct');
    await withParityRun(g.ctx, bytes, join(dir, `${preset}-${type}.gguf`), TEXT, { sameTokens: true }, async ({ ours, ids, got, want, exact }) => {
      const vsExact = diffLogProbs(got, exact);
      const vsLlama = diffLogProbs(got, want);
      let emulated = null;
      const exactVsLlama = diffLogProbs(exact, want);
      if (!float) {
        emulated = diffLogProbs(await referenceLogProbs(ours.source, ours.model, ids, { activationRounding: llamaCppActivationRounding }), want);
      }
      const tol = TOLERANCE[type];
      const checked = expectTop1Agrees(got, want, tol);
      if (report) {
        const ties = emulated ? emulated.perPosition.filter((x) => x > EMULATION_TOL).length : 0;
        console.log(
          `${preset} ${type}: ours~exact ${vsExact.max.toExponential(2)}, ours~llama.cpp ${vsLlama.max.toExponential(2)}` +
            (emulated ? `, emulated~llama.cpp ${emulated.max.toExponential(2)} (${ties} positions past 1e-3; rms ${emulated.rms.toExponential(2)} vs exact ${exactVsLlama.rms.toExponential(2)})` : '') +
            `, top-1 agree ${top1Agreement(got, want)}/32, margin > tol at ${checked}`,
        );
      }
      expect(vsExact.max, `ours vs exact reference, worst at ${vsExact.at}`).toBeLessThan(EXACT_TOL);
      if (emulated) {
        expect(emulated.rms, 'emulated llama.cpp rounding vs llama.cpp (RMS)').toBeLessThan(EMULATION_RMS_RATIO * exactVsLlama.rms);
      }
      expect(vsLlama.max, `ours vs llama.cpp, worst at ${vsLlama.at}`).toBeLessThan(tol);
    });
  });
});
