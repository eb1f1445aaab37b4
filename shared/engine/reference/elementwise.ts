/** Reference element-wise ops (shaders/elementwise.wgsl). Each returns a new array. */

export function silu(g: number): number {
  return g / (1 + Math.exp(-g));
}

/** GELU, tanh approximation (ggml_gelu): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function addRef(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, i) => v + b[i]!);
}

export function swigluRef(gate: Float32Array, up: Float32Array): Float32Array {
  return gate.map((g, i) => silu(g) * up[i]!);
}

/** out = gelu(gate) * up (Gemma's FFN). */
export function gegluRef(gate: Float32Array, up: Float32Array): Float32Array {
  return gate.map((g, i) => gelu(g) * up[i]!);
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

/** x -> cap * tanh(x / cap), cap > 0 (Gemma 2's final logit soft-capping). */
export function softcapRef(x: Float32Array, cap: number): Float32Array {
  return x.map((v) => cap * Math.tanh(v / cap));
}
