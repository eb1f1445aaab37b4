/**
 * The generator's pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018), a 32-bit
 * generator with 128 bits of state, period 2^128 − 1. Every tensor draws from its own stream,
 * seeded from (seed, tensor name), so a tensor's values depend neither on the order tensors are
 * written in, nor on chunk sizes, nor on the tensor type (an F32 and a Q8_0 file of the same
 * seed hold the same underlying weights, quantised differently).
 *
 * Only 32-bit integer arithmetic and exact double arithmetic are used (no Math.log/cos, whose
 * last bits differ between JavaScript engines), so the same seed gives the same bytes everywhere.
 */

/** murmur3's 32-bit finaliser: a bijective mixer that spreads every input bit over the output. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string (tensor names are ASCII). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * Seeds the four state words from (seed, stream) with a SplitMix-style sequence: a Weyl
   * sequence (step 0x9e3779b9, the golden ratio) passed through fmix32.
   */
  constructor(seed: number, stream = 0) {
    let x = (fmix32(seed >>> 0) ^ Math.imul(stream >>> 0, 0x9e3779b9) ^ 0x5bd1e995) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return fmix32(x);
    };
    // Kept as int32 (bitwise ops read them so), which V8 stores unboxed.
    this.s0 = next() | 0;
    this.s1 = next() | 0;
    this.s2 = next() | 0;
    this.s3 = next() | 0;
    // The all-zero state is the one state xoshiro never leaves.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator in exactly this state (known-answer tests against the reference algorithm). */
  static fromState(s0: number, s1: number, s2: number, s3: number): Xoshiro128 {
    const r = new Xoshiro128(0);
    r.s0 = s0 | 0;
    r.s1 = s1 | 0;
    r.s2 = s2 | 0;
    r.s3 = s3 | 0;
    return r;
  }

  /** The stream of one named tensor under a seed. */
  static forTensor(seed: number, name: string): Xoshiro128 {
    return new Xoshiro128(seed, fnv1a32(name));
  }

  /** Next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextU32() * 2 ** -32;
  }

  /** Uniform integer in lo..hi (inclusive); the range is small, so modulo bias is below 2^-24. */
  nextInt(lo: number, hi: number): number {
    return lo + Math.floor(this.nextFloat() * (hi - lo + 1));
  }

  /**
   * Fills `out` with 32-bit words. The state lives in locals for the loop (the hot path of the
   * multi-GB presets), which V8 keeps in registers.
   */
  fillU32(out: Uint32Array, from = 0, to = out.length): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = from; i < to; i++) {
      const m = Math.imul(s1, 5);
      out[i] = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  /** Fills bytes (4 per draw, little-endian order of each word; a tail takes the low bytes). */
  fillBytes(out: Uint8Array, from = 0, to = out.length): void {
    let i = from;
    for (; i + 4 <= to; i += 4) {
      const r = this.nextU32();
      out[i] = r;
      out[i + 1] = r >>> 8;
      out[i + 2] = r >>> 16;
      out[i + 3] = r >>> 24;
    }
    if (i < to) {
      let r = this.nextU32();
      for (; i < to; i++, r >>>= 8) out[i] = r;
    }
  }

  /**
   * Approximately normal values with mean `mean` and standard deviation `std`: the Irwin–Hall sum
   * of four uniform 16-bit integers (two draws), centred and scaled to unit variance. The tails
   * stop at ±√12 ≈ 3.46σ, which spares quantised blocks from rare huge outliers.
   */
  fillNormal(out: Float32Array, std: number, mean = 0, from = 0, to = out.length): void {
    // Each 16-bit uniform has variance (2^32 − 1)/12; four of them (2^32 − 1)/3.
    const k = std / Math.sqrt((2 ** 32 - 1) / 3);
    // Two draws per value, with the state in locals as in fillU32 (same sequence as nextU32).
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = from; i < to; i++) {
      let m = Math.imul(s1, 5);
      const a = Math.imul((m << 7) | (m >>> 25), 9);
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      m = Math.imul(s1, 5);
      const b = Math.imul((m << 7) | (m >>> 25), 9);
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const sum = (a & 0xffff) + (a >>> 16) + (b & 0xffff) + (b >>> 16);
      out[i] = mean + (sum - 131070) * k;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}
