import { describe, expect, it } from 'vitest';
import { CoreKernels } from '../../shared/gpu';
import { argmaxRef, softmaxRef } from '../../shared/engine/reference/sampling-ops';
import { compareClose, randomF32, rng } from '../support/compare';
import { useKernelSuite } from '../support/gpu';

// Argmax must be exact (index and value). Softmax: f32 exp is allowed 3 + 2|x| ulp (|x| <= ~40
// here: ~80 ulp ≈ 5e-6 relative), the f32 sum over n <= 152k values in 256 strided partial sums
// adds up to ~(n/256 + 8)·2^-24 ≈ 4e-5 relative in the worst case: rtol 1e-4. atol 1e-12 only
// absorbs values that underflow differently.
const SOFTMAX = { atol: 1e-12, rtol: 1e-4 };
const CHUNK = 4096; // argmax first-pass chunk (kernels.ts)

const g = useKernelSuite();

async function gpuArgmax(x: Float32Array, offset = 0, n = x.length - offset): Promise<{ index: number; value: number }> {
  const { ctx, k } = g;
  const xb = ctx!.storage(x);
  const out = ctx!.storage(8);
  const scratch = ctx!.storage(CoreKernels.argmaxScratchBytes(n));
  const b = ctx!.batch();
  k!.argmax(b, { x: xb, n, offset, out, scratch });
  b.submit();
  const raw = await ctx!.read(out);
  [xb, out, scratch].forEach((z) => z.destroy());
  return { value: new Float32Array(raw)[0]!, index: new Uint32Array(raw)[1]! };
}

describe('argmax kernel vs reference', () => {
  it('finds the maximum over edge and vocabulary sizes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    for (const n of [1, 2, 255, 256, 257, CHUNK - 1, CHUNK, CHUNK + 1, 32000, 151936]) {
      const x = randomF32(n, rng(n), -20, 20);
      const want = argmaxRef(x);
      const got = await gpuArgmax(x);
      expect(got.index, `n=${n}`).toBe(want);
      expect(got.value).toBe(x[want]);
    }
  });

  it('breaks ties toward the lower index, ignores NaN, handles -Infinity and an offset row', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const n = 3 * CHUNK + 5;
    const x = randomF32(n, rng(1), -1, 1);
    x[CHUNK + 17] = 5;
    x[2 * CHUNK + 3] = 5; // same value later: the first must win across workgroups
    x[10] = NaN;
    expect((await gpuArgmax(x)).index).toBe(CHUNK + 17);
    const y = new Float32Array(300).fill(-Infinity);
    y[299] = -1e30;
    expect((await gpuArgmax(y)).index).toBe(299);
    const z = new Float32Array(600).fill(NaN);
    z[123] = -3;
    expect((await gpuArgmax(z)).index).toBe(123);
    // last row of [3, 1000] logits
    const rows = randomF32(3000, rng(2));
    rows[1000 + 7] = 9; // row 1 max: must not be seen
    rows[2000 + 999] = 8;
    const got = await gpuArgmax(rows, 2000, 1000);
    expect(got.index).toBe(argmaxRef(rows, 2000, 1000));
    expect(got.index).toBe(999);
  });
});

describe('softmax kernel vs reference', () => {
  it('matches over shapes and temperatures', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [1, 255, 1],
      [2, 256, 0.5],
      [3, 257, 2],
      [1, 32000, 0.7],
      [1, 151936, 1],
      [4, 1000, 1.3],
    ];
    for (const [rows, n, temp] of shapes) {
      const x = randomF32(rows * n, rng(rows * n), -15, 15);
      const [xb, ob] = [ctx!.storage(x), ctx!.storage(rows * n * 4)];
      const b = ctx!.batch();
      k!.softmax(b, { x: xb, out: ob, rows, n, temperature: temp });
      b.submit();
      const got = await ctx!.readF32(ob);
      [xb, ob].forEach((z) => z.destroy());
      expect(compareClose(got, softmaxRef(x, rows, n, temp), SOFTMAX, `softmax rows=${rows} n=${n} T=${temp}`)).toBeNull();
      let s = 0;
      for (let i = 0; i < n; i++) s += got[i]!;
      expect(Math.abs(s - 1)).toBeLessThan(1e-4);
    }
  });

  it('reads a row at an offset and rejects temperature 0', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const { ctx, k } = g;
    const x = randomF32(3 * 500, rng(8), -5, 5);
    const [xb, ob] = [ctx!.storage(x), ctx!.storage(500 * 4)];
    const b = ctx!.batch();
    k!.softmax(b, { x: xb, out: ob, rows: 1, n: 500, rowOffset: 1000, temperature: 0.8 });
    expect(() => k!.softmax(b, { x: xb, out: ob, rows: 1, n: 500, temperature: 0 })).toThrow(/temperature/);
    b.submit();
    expect(compareClose(await ctx!.readF32(ob), softmaxRef(x, 1, 500, 0.8, 1000), SOFTMAX, 'softmax offset row')).toBeNull();
  });
});
