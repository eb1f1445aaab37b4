import { PxiError } from '../errors';

/**
 * A quantise/dequantise call got input it cannot encode or decode: a length that is not a
 * whole number of blocks, a byte buffer shorter than the blocks it should hold, a value the
 * format cannot represent, or a type name the registry does not know.
 */
export class QuantError extends PxiError {
  constructor(code: QuantErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export type QuantErrorCode =
  | 'QUANT_LENGTH' // element count not a multiple of the block size
  | 'QUANT_BYTES' // byte buffer too short for the requested element count
  | 'QUANT_VALUE' // non-finite input to a block format that cannot hold it
  | 'QUANT_TYPE'; // unknown or unsupported ggml type name

export function checkLength(type: string, n: number, blockSize: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n % blockSize !== 0) {
    throw new QuantError(
      'QUANT_LENGTH',
      `${type}: ${what} ${n} is not a whole number of ${blockSize}-element blocks`,
      { type, n, blockSize },
    );
  }
}

export function checkBytes(type: string, bytes: Uint8Array, n: number, blockSize: number, bytesPerBlock: number): void {
  checkLength(type, n, blockSize, 'element count');
  const need = (n / blockSize) * bytesPerBlock;
  if (bytes.length < need) {
    throw new QuantError(
      'QUANT_BYTES',
      `${type}: ${n} elements need ${need} bytes, got ${bytes.length}`,
      { type, n, need, got: bytes.length },
    );
  }
}

export function checkFinite(type: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // v - v is NaN exactly for NaN and ±Infinity: one compare per value.
    if (v - v !== 0) {
      throw new QuantError('QUANT_VALUE', `${type}: value at index ${i} is ${v}; block formats hold finite values only`, {
        type,
        index: i,
        value: String(v),
      });
    }
  }
}

/** An output buffer handed to a decoder must hold the n values it is asked for. */
export function checkOut(type: string, out: Float32Array, n: number): void {
  if (out.length < n) {
    throw new QuantError('QUANT_LENGTH', `${type}: decoding ${n} elements into a buffer of ${out.length}`, { type, n, out: out.length });
  }
}
