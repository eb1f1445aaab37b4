/** Reference argmax and temperature softmax (shaders/argmax.wgsl, shaders/softmax.wgsl). */

/** Index of the largest value (the first on ties); NaN never wins; -1 when there is none. */
export function argmaxRef(x: ArrayLike<number>, offset = 0, n = x.length - offset): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i]!;
    if (Number.isNaN(v)) continue;
    if (best < 0 || v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** Row-wise softmax(x / temperature) in f64; rows of n starting at rowOffset. */
export function softmaxRef(x: ArrayLike<number>, rows: number, n: number, temperature = 1, rowOffset = 0): Float32Array {
  const out = new Float32Array(rows * n);
  const invT = 1 / temperature;
  for (let r = 0; r < rows; r++) {
    const b = rowOffset + r * n;
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, x[b + i]! * invT);
    let sum = 0;
    const e = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      e[i] = Math.exp(x[b + i]! * invT - m);
      sum += e[i]!;
    }
    for (let i = 0; i < n; i++) out[r * n + i] = e[i]! / sum;
  }
  return out;
}
