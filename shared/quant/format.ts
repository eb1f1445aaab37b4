/** The ggml tensor types the engine runs (the names ggml and GGUF use). */
export type QuantTypeName =
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'Q8_0'
  | 'Q4_0'
  | 'Q4_1'
  | 'Q5_0'
  | 'Q5_1'
  | 'Q2_K'
  | 'Q3_K'
  | 'Q4_K'
  | 'Q5_K'
  | 'Q6_K'
  | 'IQ4_NL'
  | 'IQ4_XS';

/**
 * One ggml storage format: `blockSize` elements are stored in `bytesPerBlock` bytes, blocks
 * back to back with no padding, little-endian, exactly as in a GGUF tensor's data.
 */
export interface QuantFormat {
  readonly name: QuantTypeName;
  readonly blockSize: number;
  readonly bytesPerBlock: number;
  /** Encodes values (length a multiple of blockSize) into ggml blocks. */
  quantize(values: Float32Array): Uint8Array<ArrayBuffer>;
  /** Decodes the first n elements (n a multiple of blockSize) with ggml's exact semantics. */
  dequantize(bytes: Uint8Array, n: number): Float32Array<ArrayBuffer>;
  /**
   * The same decode into the first n entries of `out` (no allocation), where a format has one:
   * the map's pyramid decodes every value of every imported tensor through it.
   */
  dequantizeInto?(bytes: Uint8Array, n: number, out: Float32Array): void;
}

/** Little-endian u16 at any byte offset (blocks of 18, 34 or 210 bytes are not aligned). */
export function readU16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

/** C's roundf: half away from zero (ggml's nearest_int differs only at exact ties). */
export function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
