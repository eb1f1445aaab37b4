/**
 * LoRA dropout's mask, as the `dropout` kernel of shaders/train_elementwise.wgsl computes it:
 * element i is kept when hash(seed ^ hash(i)) < keep, keep = ⌊(1 − p)·2^32⌋, and a kept element
 * is scaled by 1 / (1 − p) (so the expected value is unchanged). The hash is a PCG output
 * permutation over one LCG step, in u32 arithmetic here exactly as in WGSL: the same seed gives
 * the same mask on the GPU and in the reference, and the backward pass recomputes the mask
 * instead of storing it. Seeds are derived per (run seed, step, micro-batch, matrix), so a
 * resumed run draws the masks an uninterrupted one would.
 */

/** The 32-bit hash of the kernel (u32 in, u32 out). */
export function dropoutHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The keep threshold of probability p (0 ≤ p < 1): elements with hash < it are kept. */
export function dropoutKeep(p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability ${p} must be in [0, 1)`);
  return Math.min(0xffffffff, Math.floor((1 - p) * 2 ** 32));
}

/** The kernel's scale of a kept element, in f32. */
export function dropoutScale(p: number): number {
  return Math.fround(1 / (1 - p));
}

/** Whether element i is kept under `seed` at threshold `keep`. */
export function dropoutKept(seed: number, i: number, keep: number): boolean {
  return dropoutHash((seed ^ dropoutHash(i)) >>> 0) < keep;
}

/** The mask as factors (1/(1−p) where kept, 0 where dropped) over n elements. */
export function dropoutMask(seed: number, n: number, p: number): Float64Array {
  const keep = dropoutKeep(p);
  const s = dropoutScale(p);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = dropoutKept(seed, i, keep) ? s : 0;
  return out;
}

/** The seed of one matrix's mask in one micro-batch of one step of a run. */
export function dropoutSeed(runSeed: number, step: number, micro: number, matrix: number): number {
  let h = dropoutHash(runSeed >>> 0);
  h = dropoutHash((h ^ step) >>> 0);
  h = dropoutHash((h ^ micro) >>> 0);
  return dropoutHash((h ^ matrix) >>> 0);
}
