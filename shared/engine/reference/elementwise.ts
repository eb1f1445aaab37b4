/** Reference element-wise ops (shaders/elementwise.wgsl). Each returns a new array. */

export function silu(g: number): number {
  return g / (1 + Math.exp(-g));
}

export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]!);
}

export function swigluRef(gate: Float32Array, up: Float32Array): Float32Array {
  return gate.map((g, i) => silu(g) * up[i]!);
}

/** x = [T, 2 * cols] with the gate in the first half of each row and up in the second. */
export function swigluFusedRef(x: Float32Array, T: number, cols: number): Float32Array {
  const out = new Float32Array(T * cols);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < cols; c++) out[t * cols + c] = silu(x[t * 2 * cols + c]!) * x[t * 2 * cols + cols + c]!;
  }
  return out;
}

/** x = [T, cols]; bias = [cols]. */
export function biasAddRef(x: Float32Array, bias: Float32Array, cols: number): Float32Array {
  return x.map((v, i) => v + bias[i % cols]!);
}

export function scaleRef(x: Float32Array, s: number): Float32Array {
  return x.map((v) => v * s);
}
