import { checkBytes } from './errors';
import type { QuantFormat } from './format';
import { f16DecodeTable, f32BitsToBf16Bits, f32BitsToF16Bits } from './half';

// Typed-array views below assume a little-endian host, as every WebGPU platform is.

/** Plain little-endian f32, one element per "block". */
export const F32: QuantFormat = {
  name: 'F32',
  blockSize: 1,
  bytesPerBlock: 4,
  quantize(values) {
    return new Uint8Array(Float32Array.from(values).buffer);
  },
  dequantize(bytes, n) {
    checkBytes('F32', bytes, n, 1, 4);
    // Copy into a fresh, 4-aligned buffer whatever the view's offset was. Not bytes.slice():
    // on a Node Buffer (PixelFS reads) that is a view into a shared pool, not a copy.
    const copy = new Uint8Array(n * 4);
    copy.set(bytes.subarray(0, n * 4));
    return new Float32Array(copy.buffer);
  },
};

/** IEEE binary16. */
export const F16: QuantFormat = {
  name: 'F16',
  blockSize: 1,
  bytesPerBlock: 2,
  quantize(values) {
    const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out = new Uint16Array(values.length);
    for (let i = 0; i < u.length; i++) out[i] = f32BitsToF16Bits(u[i]);
    return new Uint8Array(out.buffer);
  },
  dequantize(bytes, n) {
    checkBytes('F16', bytes, n, 1, 2);
    const t = f16DecodeTable();
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = t[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    return out;
  },
};

/** bfloat16: the upper 16 bits of an f32. */
export const BF16: QuantFormat = {
  name: 'BF16',
  blockSize: 1,
  bytesPerBlock: 2,
  quantize(values) {
    const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out = new Uint16Array(values.length);
    for (let i = 0; i < u.length; i++) out[i] = f32BitsToBf16Bits(u[i]);
    return new Uint8Array(out.buffer);
  },
  dequantize(bytes, n) {
    checkBytes('BF16', bytes, n, 1, 2);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = ((bytes[2 * i] << 16) | (bytes[2 * i + 1] << 24)) >>> 0;
    return new Float32Array(out.buffer);
  },
};
