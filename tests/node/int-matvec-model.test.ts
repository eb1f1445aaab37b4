import { afterAll, describe, expect, it } from 'vitest';
import type { GpuContext } from '../../shared/gpu';
import { intVariantsFor } from '../../shared/engine/int-matvec';
import { openTestContext } from '../support/gpu';
import { diffLogProbs, generatedBytes, loadBytes, logProbsOf, top2 } from './engine-support';

// The integer decode kernels inside the model: generated tiny models decoded token by token with
// `intMatvec` forced, against the same model's f32 kernels (prefill over the same ids). The
// difference is the Q8 activation rounding llama.cpp also makes: bound 0.6 on log-probs, the
// bound parity-generated.test.ts puts on ours vs llama.cpp for Q8_0/Q4_0.

const opened = await openTestContext();
const ctx: GpuContext | null = opened.ctx;
afterAll(() => ctx?.destroy());
const TEXT = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.';

describe.skipIf(!ctx)(ctx ? 'integer decode kernels in the model' : `integer decode kernels in the model (skipped: ${opened.reason})`, () => {
  for (const preset of ['tiny-llama', 'tiny-qwen2'] as const) {
    for (const type of ['Q8_0', 'Q4_0'] as const) {
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
          expect(d.max, `${variant} worst at ${d.at}`).toBeLessThan(0.6);
          // Not bit-identical: the integer path really ran.
          expect(d.max).toBeGreaterThan(0);
        }
      });
    }
  }
});
