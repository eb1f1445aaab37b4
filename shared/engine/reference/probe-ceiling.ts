/**
 * Reference of shaders/probe_ceiling.wgsl: the adapter-ceiling probes' outputs (wrapping u32
 * sums), so that a probe which reads the wrong bytes, or none, fails its test before its speed
 * is believed (scripts/bench/adapter-ceiling.ts).
 */

/** read_rows: out[r] = the wrapping sum of row r's words. */
export function readRowsRef(words: Uint32Array, rows: number, wordsPerRow: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < wordsPerRow; i++) s = (s + words[r * wordsPerRow + i]!) >>> 0;
    out[r] = s;
  }
  return out;
}

/** read_strided: out[inv] = the wrapping sum of the words of quads inv, inv + invocations, ... below vec4s. */
export function readStridedRef(words: Uint32Array, vec4s: number, invocations: number): Uint32Array {
  const out = new Uint32Array(invocations);
  for (let inv = 0; inv < invocations; inv++) {
    let s = 0;
    for (let q = inv; q < vec4s; q += invocations) {
      for (let k = 0; k < 4; k++) s = (s + words[4 * q + k]!) >>> 0;
    }
    out[inv] = s;
  }
  return out;
}

/** dot4I8Packed: the sum of the 4 signed byte products of a and b. */
export function dot4I8PackedRef(a: number, b: number): number {
  let s = 0;
  for (let i = 0; i < 4; i++) s += ((a << (24 - 8 * i)) >> 24) * ((b << (24 - 8 * i)) >> 24);
  return s;
}

/** idot_rate: out[i] from seeds a = words[8i..8i+4), b = words[8i+4..8i+8), `iterations` steps (wrapping i32 sums, as u32). */
export function idotRateRef(words: Uint32Array, invocations: number, iterations: number): Uint32Array {
  const out = new Uint32Array(invocations);
  for (let inv = 0; inv < invocations; inv++) {
    const a = Array.from(words.subarray(8 * inv, 8 * inv + 4));
    let b = Array.from(words.subarray(8 * inv + 4, 8 * inv + 8));
    const acc = [0, 0, 0, 0];
    for (let it = 0; it < iterations; it++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += dot4I8PackedRef(a[j]!, b[k]!);
        acc[j] = (acc[j]! + s) | 0;
      }
      for (let j = 0; j < 4; j++) a[j] = (a[j]! + 0x01010101) >>> 0;
      b = [b[1]!, b[2]!, b[3]!, b[0]!];
    }
    out[inv] = (acc[0]! + acc[1]! + acc[2]! + acc[3]!) >>> 0;
  }
  return out;
}

/**
 * product_strided (shaders/probe_product.wgsl): invocation inv sums, over quads inv, inv +
 * invocations, ... below vec4s, the k products dot4I8Packed(operand j, x word j) with x's 8 words
 * seeded from inv and rotated every step; out[inv] = the wrapping i32 sum as u32.
 */
export function productStridedRef(words: Uint32Array, vec4s: number, invocations: number, k: number, nibbles: boolean): Uint32Array {
  const out = new Uint32Array(invocations);
  for (let inv = 0; inv < invocations; inv++) out[inv] = productWalk(words, inv, invocations, vec4s, inv, k, nibbles);
  return out;
}

/** One invocation's walk in the product probes: words first, first + step, .. below end, k products each, x seeded from `seed` and rotated every word. */
function productWalk(words: Uint32Array, first: number, step: number, end: number, seed: number, k: number, nibbles: boolean): number {
  const LOW = 0x0f0f0f0f;
  let xa = [Math.imul(seed, 0x01020304) >>> 0, (seed ^ 0x7f7f7f7f) >>> 0, (seed + 0x10203040) >>> 0, ~seed >>> 0];
  let xb = xa.map((v) => Math.imul(v, 3) >>> 0);
  let s = 0;
  for (let q = first; q < end; q += step) {
    for (let j = 0; j < k; j++) {
      const v = words[4 * q + (j & 3)]!;
      const op = !nibbles ? v : j < 4 ? v & LOW : (v >>> 4) & LOW;
      s = (s + dot4I8PackedRef(op, j < 4 ? xa[j]! : xb[j - 4]!)) | 0;
    }
    xa = [xa[1]!, xa[2]!, xa[3]!, xa[0]!];
    xb = [xb[3]!, xb[0]!, xb[1]!, xb[2]!];
  }
  return s >>> 0;
}

/**
 * product_rows and product_rows_out (shaders/probe_product.wgsl): row r sums, over its words r ·
 * vec4sPerRow .. (r + 1) · vec4sPerRow - 1 in turn, the k products of product_strided with x
 * seeded from r and rotated every word; out[r] = the wrapping i32 sum as u32.
 */
export function productRowsRef(words: Uint32Array, rows: number, vec4sPerRow: number, k: number, nibbles: boolean): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = productWalk(words, r * vec4sPerRow, 1, (r + 1) * vec4sPerRow, r, k, nibbles);
  return out;
}
