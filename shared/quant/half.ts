/**
 * Exact conversions between numbers and IEEE binary16 (f16) / bfloat16 (bf16) bit patterns:
 * round to nearest, ties to even; subnormals kept (never flushed); ±Infinity kept; NaN becomes
 * a quiet NaN with the input's sign. Bit patterns travel as plain numbers 0..0xffff.
 *
 * Two encoders exist on purpose: `f32ToF16`/`f32ToBf16` round the exact value of any JS number
 * (no double rounding through f32), `f32BitsToF16Bits`/`f32BitsToBf16Bits` work on f32 bit
 * patterns for arrays. They agree on every f32 input, which the tests check against each other.
 */

const f64 = new Float64Array(1);
const f64bits = new DataView(f64.buffer);
const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);

/** floor(log2(a)) for finite a > 0, read from the double's exponent field (exact). */
function exponentOf(a: number): number {
  f64bits.setFloat64(0, a);
  const e = (f64bits.getUint16(0) >> 4) & 0x7ff;
  if (e === 0) return exponentOf(a * 2 ** 64) - 64; // double subnormal
  return e - 1023;
}

/** Round a non-negative double below 2^53 to an integer, ties to even. */
function rne(v: number): number {
  const f = Math.floor(v);
  const r = v - f; // exact: v and f share an exponent range
  if (r > 0.5) return f + 1;
  if (r < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Encodes x in a binary format with `mbits` stored mantissa bits and `ebits` exponent bits
 * (sign bit on top). Exact for every double.
 */
function encodeMinifloat(x: number, mbits: number, ebits: number): number {
  const signBit = 1 << (mbits + ebits);
  const expMax = (1 << ebits) - 1; // all-ones exponent: inf / NaN
  const bias = (1 << (ebits - 1)) - 1;
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  if (Number.isNaN(x)) return (expMax << mbits) | (1 << (mbits - 1)) | (x < 0 ? signBit : 0);
  const a = Math.abs(x);
  if (a === Infinity) return sign | (expMax << mbits);
  if (a === 0) return sign;
  let e = exponentOf(a);
  if (e < 1 - bias) {
    // Subnormal range: the unit is 2^(1 - bias - mbits). A result of 2^mbits is the smallest
    // normal, whose bit pattern follows on naturally.
    return sign | rne(a * 2 ** (bias - 1 + mbits));
  }
  let m = rne(a * 2 ** (mbits - e)); // in [2^mbits, 2^(mbits+1)], exact scaling by a power of 2
  if (m === 2 ** (mbits + 1)) {
    m /= 2;
    e += 1;
  }
  const field = e + bias;
  if (field >= expMax) return sign | (expMax << mbits);
  return sign | (field << mbits) | (m - 2 ** mbits);
}

/** The f16 bit pattern nearest to x (ties to even). */
export function f32ToF16(x: number): number {
  return encodeMinifloat(x, 10, 5);
}

/** The bf16 bit pattern nearest to x (ties to even). */
export function f32ToBf16(x: number): number {
  return encodeMinifloat(x, 7, 8);
}

/** The value of an f16 bit pattern. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** The value of a bf16 bit pattern (bf16 is the top half of an f32). */
export function bf16ToF32(h: number): number {
  f32u[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** f32 bit pattern -> f16 bit pattern, round to nearest even. */
export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00; // NaN
  if (a >= 0x477ff000) return sign | 0x7c00; // >= 65520 rounds to inf (and inf itself)
  if (a < 0x38800000) {
    // Below 2^-14: subnormal f16 (or zero). Rare; take the exact path.
    f32u[0] = a;
    return sign | encodeMinifloat(f32[0], 10, 5);
  }
  const mant = a & 0x7fffff;
  let h = ((((a >>> 23) - 112) << 10) | (mant >>> 13)) >>> 0; // rebias 127 -> 15
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // carry into exponent is correct
  return sign | h;
}

/** f32 bit pattern -> bf16 bit pattern, round to nearest even; NaN stays NaN (quiet). */
export function f32BitsToBf16Bits(u: number): number {
  u >>>= 0;
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
}

let f16Table: Float32Array | undefined;

/** All 65536 f16 values as f32 (256 KiB), built on first use; for bulk decoding. */
export function f16DecodeTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

/** Rounds x to f16 and back: the value a stored f16 scale really has. */
export function roundToF16(x: number): number {
  return f16ToF32(f32ToF16(x));
}
