import { describe, expect, it } from 'vitest';
import { intVariantsFor } from '../../shared/engine/int-matvec';
import { openGpuAtCollection } from '../support/gpu';
import { diffLogProbs, generatedBytes, loadBytes, logProbsOf, top2 } from './engine-support';

// The integer decode kernels inside the model: generated tiny models decoded token by token with
// `intMatvec` forced, against the same model's f32 kernels (prefill over the same ids). The
// difference is the Q8 activation rounding llama.cpp also makes: bound 0.6 on log-probs, the
// bound parity-generated.test.ts puts on ours vs llama.cpp for Q8_0/Q4_0. Greedy tokens:
// every position's top-1 must match the f32 path's, or be a near tie there: the f32 path's own
// margin between its top two under NEAR_TIE (a quarter of a nat; the random tiny models have flat
// distributions, measured disagreements sit at margins 0.02–0.21), and within what the integer path
// moved the log-probs there (2 · max |Δ|: the flip is explained by its margin).
const NEAR_TIE = 0.25;

const { ctx, title: SUITE } = await openGpuAtCollection('integer decode kernels in the model');
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';

describe.skipIf(!ctx)(SUITE, () => {
  const cases = [
    ...(['tiny-llama', 'tiny-qwen2'] as const).flatMap((preset) => (['Q8_0', 'Q4_0'] as const).map((type) => [preset, type] as const)),
    // The super-block types on the llama preset (width 256, FFN 512: whole super-blocks).
    ['tiny-llama', 'Q4_K'] as const,
    ['tiny-llama', 'Q6_K'] as const,
  ];
  for (const [preset, type] of cases) {
    {
      it(`${preset} ${type}: decode through every offered variant vs the f32 kernels`, async () => {
        const bytes = await generatedBytes(preset, type);
        const f32 = await loadBytes(ctx!, bytes, `${preset}-${type}.gguf`, { intMatvec: {} });
        const ids = f32.tokenizer.encode(TEXT).slice(0, 24);
        const V = f32.model.config.vocabSize;
        const want = logProbsOf((await f32.model.forward(ids, 'all')).logits!, ids.length, V);
        f32.model.destroy();
        for (const variant of intVariantsFor(ctx!, type)) {
          const m = await loadBytes(ctx!, bytes, `${preset}-${type}.gguf`, { intMatvec: { [type]: variant } });
          const rows: Float32Array[] = [];
          for (const id of ids) rows.push((await m.model.forward([id], 'last')).logits!.slice());
          m.model.destroy();
          const got = rows.map((r) => logProbsOf(r, 1, V)[0]!);
          const d = diffLogProbs(got, want);
          const agree = got.filter((r, t) => top2(r).top === top2(want[t]!).top).length;
          console.log(`${preset} ${type} ${variant}: max |Δ log-prob| ${d.max.toExponential(2)}, RMS ${d.rms.toExponential(2)}, top-1 ${agree}/${ids.length}`);
          for (const [t, r] of got.entries()) {
            const f = top2(want[t]!);
            if (top2(r).top !== f.top) {
              console.log(`  position ${t}: integer path picks ${top2(r).top}, f32 ${f.top} (f32 margin ${f.margin.toExponential(2)}, max |Δ| there ${d.perPosition[t]!.toExponential(2)})`);
              expect(f.margin, `${variant} position ${t}: a greedy disagreement that is not a near tie`).toBeLessThan(Math.min(NEAR_TIE, 2 * d.perPosition[t]!));
            }
          }
          expect(d.max, `${variant} worst at ${d.at}`).toBeLessThan(0.6);
          // Not bit-identical: the integer path really ran.
          expect(d.max).toBeGreaterThan(0);
        }
      });
    }
  }
});
