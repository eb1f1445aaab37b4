/**
 * Reference RMSNorm (shaders/rmsnorm.wgsl), computed in f64 and rounded once to f32:
 * y[r, i] = x[r, i] / sqrt(mean(x[r, :]^2) + eps) * w[i].
 */
export function rmsnormRef(x: Float32Array, w: Float32Array, rows: number, n: number, eps: number): Float32Array {
  const y = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i]! * x[r * n + i]!;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i]! * inv * w[i]!;
  }
  return y;
}
