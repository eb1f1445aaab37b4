/**
 * Element-wise comparison with an explicit tolerance |got - want| <= atol + rtol * |want|
 * (llm.c style). Returns null when everything matches, else a message with the first mismatches
 * and the worst error, so a failing test says where and by how much.
 */
export function compareClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: { atol: number; rtol: number },
  label = 'values',
  maxReport = 5,
): string | null {
  if (got.length !== want.length) return `${label}: length ${got.length}, expected ${want.length}`;
  const bad: string[] = [];
  let nBad = 0;
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const err = Math.abs(g - w);
    // NaN matches only NaN; equal infinities match; otherwise the tolerance (a NaN error fails it).
    const ok = Number.isNaN(w) ? Number.isNaN(g) : g === w || err <= tol.atol + tol.rtol * Math.abs(w);
    if (!ok) {
      nBad++;
      if (bad.length < maxReport) bad.push(`  [${i}] got ${g}, want ${w}, |err| ${err.toExponential(2)}`);
    }
    if (err > worst) {
      worst = err;
      worstAt = i;
    }
  }
  if (nBad === 0) return null;
  return `${label}: ${nBad}/${want.length} outside atol ${tol.atol} + rtol ${tol.rtol}·|ref|; worst |err| ${worst.toExponential(2)} at [${worstAt}]\n${bad.join('\n')}`;
}

// The project's one seeded PRNG (mulberry32) drives reproducible test data too.
export { createRng as rng } from '../../shared/engine/sampling';

/** Uniform random f32 values in [lo, hi). */
export function randomF32(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Pearson correlation of two models' log-probabilities over the vocabulary, averaged over positions. */
export function meanCorrelation(a: Float64Array[], b: Float64Array[]): number {
  let total = 0;
  a.forEach((x, pos) => {
    const y = b[pos]!;
    const n = x.length;
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      mx += x[i]! / n;
      my += y[i]! / n;
    }
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += (x[i]! - mx) * (y[i]! - my);
      sxx += (x[i]! - mx) ** 2;
      syy += (y[i]! - my) ** 2;
    }
    total += sxy / Math.sqrt(sxx * syy);
  });
  return total / a.length;
}

/**
 * Central differences (loss(x + h·eᵢ) − loss(x − h·eᵢ)) / 2h of a scalar loss in every coordinate
 * of x, perturbing x in place (each coordinate is restored before the next). `loss` reads x
 * however it holds it (directly, or through a map of parameters that holds this array).
 */
export function centralDifferences(x: Float64Array, loss: () => number, h: number): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = v + h;
    const up = loss();
    x[i] = v - h;
    const dn = loss();
    x[i] = v;
    g[i] = (up - dn) / (2 * h);
  }
  return g;
}
