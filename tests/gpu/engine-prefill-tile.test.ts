/**
 * The engine's prefill through the tiled products (Model.load `prefillMatmul`: matmul_tile and
 * matmul_tile_wg, shaders/_matmul_tile.wgsl) against the same model with the default `matmul`
 * kernel, on generated tiny-llama models of each type that has them. Both are f32 with the same
 * decoded weights; only the order of the sums differs, so the prefill logits agree to f32
 * rounding carried through the model, and the greedy token at every position is the same unless
 * the two best were within that rounding of each other. Token counts 10 and 19 leave a ragged
 * last tile of 8. The kernels themselves are checked over many shapes in tests/gpu/matmul-tile.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Model } from '../../shared/engine/model';
import { TILE_VARIANTS, TILE_WEIGHT_TYPES, type TileWeightType } from '../../shared/engine/quant-matmul';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { useGpu } from '../support/gpu';
import { loadBytes } from '../node/engine-support';

const g = useGpu();

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
      if (!g.ctx) return t.skip(g.reason);
      const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type, seed: 3, method: 'direct' }));
      const base = await loadBytes(g.ctx, bytes, `tiny-llama-${type}.gguf`, { contextLength: 32 });
      try {
        const vocab = base.model.vocabSize;
        const text = 'Once upon a time, a small fox found a red kite in the tall grass, and it flew over the hill.';
        for (const n of [10, 19]) {
          const ids = base.tokenizer.encode(text).slice(0, n);
          expect(ids.length).toBe(n);
          const want = await prefill(base.model, ids);
          for (const v of TILE_VARIANTS) {
            const tiled = await loadBytes(g.ctx, bytes, `tiny-llama-${type}.gguf`, { contextLength: 32, prefillMatmul: { [type]: v } });
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

/** Log-softmax of each row (f64). */
function logSoftmax(l: Float32Array, rows: number, vocab: number): Float64Array {
  const out = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let v = 0; v < vocab; v++) m = Math.max(m, l[r * vocab + v]!);
    let s = 0;
    for (let v = 0; v < vocab; v++) s += Math.exp(l[r * vocab + v]! - m);
    const lse = m + Math.log(s);
    for (let v = 0; v < vocab; v++) out[r * vocab + v] = l[r * vocab + v]! - lse;
  }
  return out;
}

// The integer prefill product rounds x to 8 bits per block of 32, as llama.cpp's Q8_0 × Q8_0 does:
// the bound is the integer decode kernels' in the model (tests/node/int-matvec-model.test.ts),
// max |Δ log-prob| ≤ 0.6, and a greedy token may differ only at a near tie (the f32 path's own
// top-2 margin within twice the largest |Δ log-prob| of that row).
const INT_LOGPROB_BOUND = 0.6;

describe('prefill through the integer prefill product', () => {
  for (const type of ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const) {
    it(`tiny-llama ${type}: log-probs within the integer kernels' bound of the matmul kernel's, greedy tokens differ only at near ties`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type, seed: 3, method: 'direct' }));
      const base = await loadBytes(g.ctx, bytes, `tiny-llama-${type}.gguf`, { contextLength: 32 });
      try {
        const vocab = base.model.vocabSize;
        const ids = base.tokenizer.encode('Once upon a time, a small fox found a red kite in the tall grass, and it flew over the hill.').slice(0, 19);
        const want = await prefill(base.model, ids);
        const wl = logSoftmax(want, ids.length, vocab);
        const a = argmaxRows(want, ids.length, vocab);
        // Q4_K also has the subgroup-shaped product (Q4_K's only), Q4_K, Q8_0 and Q6_K the products
        // with x shared through the subgroup, where subgroups are 8 lanes.
        const variants = { Q4_K: ['i8', 'i8x', 'i8sg', 'i8xsg', 'i8sh', 'i8xsh'], Q8_0: ['i8', 'i8x', 'i8sh', 'i8xsh'], Q4_0: ['i8', 'i8x'], Q6_K: ['i8', 'i8x', 'i8sh', 'i8xsh'] } as const;
        for (const v of variants[type]) {
          let tiled;
          try {
            tiled = await loadBytes(g.ctx, bytes, `tiny-llama-${type}.gguf`, { contextLength: 32, prefillMatmul: { [type]: v } });
          } catch (e) {
            // 'i8' needs dot4I8Packed, 'i8sg'/'i8xsg'/'i8sh'/'i8xsh' subgroups of 8: refused by name on an adapter without them.
            expect(['i8', 'i8sg', 'i8xsg', 'i8sh', 'i8xsh'], (e as Error).message).toContain(v);
            expect((e as Error).message).toMatch(new RegExp(`no prefill kernel ${v} `));
            continue;
          }
          try {
            const got = await prefill(tiled.model, ids);
            const gl = logSoftmax(got, ids.length, vocab);
            const b = argmaxRows(got, ids.length, vocab);
            let maxAll = 0;
            for (let r = 0; r < ids.length; r++) {
              let maxRow = 0;
              for (let i = r * vocab; i < (r + 1) * vocab; i++) maxRow = Math.max(maxRow, Math.abs(gl[i]! - wl[i]!));
              maxAll = Math.max(maxAll, maxRow);
              if (a[r]!.best !== b[r]!.best) expect(a[r]!.margin, `${type} ${v} position ${r}: greedy token differs without a near tie`).toBeLessThan(2 * maxRow);
            }
            expect(maxAll, `${type} ${v}`).toBeLessThanOrEqual(INT_LOGPROB_BOUND);
            // Not vacuous: the 8-bit x moved the logits.
            expect(maxAll).toBeGreaterThan(0);
            worst[`${type} ${v} |Δ log-prob|`] = maxAll;
          } finally {
            tiled.model.destroy();
          }
        }
      } finally {
        base.model.destroy();
      }
    }, 300_000);
  }
  it("tiny-llama Q8_0 with FFN 544: ffn_down's rows of 544 values (not whole groups of 256) go through the plain integer product when 'i8sh' is chosen; same logits as 'i8' up to f32 rounding", async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 5, method: 'direct', overrides: { ff: 544 } }));
    const plain = await loadBytes(g.ctx, bytes, 'tiny-llama-ff544.gguf', { contextLength: 32, prefillMatmul: { Q8_0: 'i8' } });
    let shared;
    try {
      shared = await loadBytes(g.ctx, bytes, 'tiny-llama-ff544.gguf', { contextLength: 32, prefillMatmul: { Q8_0: 'i8sh' } });
    } catch (e) {
      // Refused by name where subgroups are not 8 lanes (or dot4I8Packed is missing).
      expect((e as Error).message).toMatch(/no prefill kernel i8sh /);
      plain.model.destroy();
      return;
    }
    try {
      expect(shared.model.describeWeights().some((w) => w.cols === 544 && w.type === 'Q8_0')).toBe(true);
      const ids = plain.tokenizer.encode('Once upon a time, a small fox found a red kite.').slice(0, 12);
      const a = await prefill(plain.model, ids);
      const b = await prefill(shared.model, ids);
      let scale = 0;
      let worstDiff = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i]!));
        worstDiff = Math.max(worstDiff, Math.abs(a[i]! - b[i]!));
      }
      expect(scale).toBeGreaterThan(0);
      expect(worstDiff).toBeLessThanOrEqual(1e-4 * scale);
    } finally {
      plain.model.destroy();
      shared.model.destroy();
    }
  }, 300_000);
  afterAll(() => console.log('integer prefill vs matmul:', Object.fromEntries(Object.entries(worst).filter(([k]) => k.includes('log-prob')))));
});
