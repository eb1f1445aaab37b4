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
