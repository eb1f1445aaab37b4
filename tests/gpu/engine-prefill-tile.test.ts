/**
 * The engine's prefill through the tiled products (Model.load `prefillMatmul`: matmul_tile and
 * matmul_tile_wg, shaders/_matmul_tile.wgsl) against the same model with the default `matmul`
 * kernel, on generated tiny-llama models of each type that has them. Both are f32 with the same
 * decoded weights; only the order of the sums differs, so the prefill logits agree to f32
 * rounding carried through the model, and the greedy token at every position is the same unless
 * the two best were within that rounding of each other. Token counts 10 and 19 leave a ragged
 * last tile of 8. The kernels themselves are checked over many shapes in tests/gpu/matmul-tile.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../shared/engine/model';
import { PREFILL_VARIANTS, TILE_WEIGHT_TYPES, type TileWeightType } from '../../shared/engine/quant-matmul';
import type { GpuContext } from '../../shared/gpu';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { openTestContext } from '../support/gpu';
import { loadBytes } from '../node/engine-support';

let ctx: GpuContext | null = null;
let reason = '';
beforeAll(async () => {
  const r = await openTestContext();
  if (r.ctx) ctx = r.ctx;
  else reason = r.reason;
});
afterAll(() => ctx?.destroy());

// |Δlogit| ≤ TOL · max(1, max |logit|): f32 reordering of sums through two blocks gives ~1e-6
// relative (worst seen printed below); one wrong weight or token moves logits by far more.
const TOL = 1e-4;

async function prefill(m: Model, ids: number[]): Promise<Float32Array> {
  m.rewind(0);
  return (await m.forward(ids, 'all')).logits!;
}

function argmaxRows(l: Float32Array, rows: number, vocab: number): { best: number; margin: number }[] {
  const out: { best: number; margin: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let a = -Infinity;
    let b = -Infinity;
    let best = 0;
    for (let v = 0; v < vocab; v++) {
      const x = l[r * vocab + v]!;
      if (x > a) {
        b = a;
        a = x;
        best = v;
      } else if (x > b) b = x;
    }
    out.push({ best, margin: a - b });
  }
  return out;
}

const worst: Record<string, number> = {};

describe('prefill through the tiled products', () => {
  for (const type of TILE_WEIGHT_TYPES as readonly TileWeightType[]) {
    it(`tiny-llama ${type}: logits within f32 rounding of the matmul kernel's, same greedy tokens`, async (t) => {
      if (!ctx) return t.skip(reason);
      const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type, seed: 3, method: 'direct' }));
      const base = await loadBytes(ctx, bytes, `tiny-llama-${type}.gguf`, { contextLength: 32 });
      try {
        const vocab = base.model.vocabSize;
        const text = 'Once upon a time, a small fox found a red kite in the tall grass, and it flew over the hill.';
        for (const n of [10, 19]) {
          const ids = base.tokenizer.encode(text).slice(0, n);
          expect(ids.length).toBe(n);
          const want = await prefill(base.model, ids);
          for (const v of PREFILL_VARIANTS) {
            const tiled = await loadBytes(ctx, bytes, `tiny-llama-${type}.gguf`, { contextLength: 32, prefillMatmul: { [type]: v } });
            try {
              const got = await prefill(tiled.model, ids);
              let scale = 1;
              for (const x of want) scale = Math.max(scale, Math.abs(x));
              let maxD = 0;
              let differs = 0;
              for (let i = 0; i < want.length; i++) {
                const d = Math.abs(got[i]! - want[i]!);
                if (!(d <= TOL * scale)) throw new Error(`${type} ${v} T=${n}: logit ${i} ${got[i]} vs ${want[i]} (|Δ| ${d} > ${TOL * scale})`);
                maxD = Math.max(maxD, d);
                if (got[i] !== want[i]) differs++;
              }
              // Not vacuous: another kernel ran (its sums round differently somewhere).
              expect(differs, `${type} ${v}: every logit identical: was the tiled kernel used?`).toBeGreaterThan(0);
              worst[type] = Math.max(worst[type] ?? 0, maxD / scale);
              const a = argmaxRows(want, n, vocab);
              const b = argmaxRows(got, n, vocab);
              for (let r = 0; r < n; r++) {
                if (a[r]!.best !== b[r]!.best) expect(a[r]!.margin, `${type} ${v} T=${n} position ${r}: greedy token differs without a near tie`).toBeLessThanOrEqual(2 * maxD);
              }
            } finally {
              tiled.model.destroy();
            }
          }
        }
      } finally {
        base.model.destroy();
      }
    }, 300_000);
  }
  afterAll(() => console.log('prefill tiled vs matmul, worst |Δlogit| / max|logit|:', worst));
});
