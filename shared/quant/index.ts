/**
 * The ggml block formats the engine runs, keyed by ggml type name. Each entry decodes with
 * ggml's exact semantics and encodes with our own quantiser (valid ggml blocks; not bit-identical
 * to ggml's quantiser output).
 */
import { QuantError } from './errors';
import { BF16, F16, F32 } from './float';
import type { QuantFormat, QuantTypeName } from './format';
import { IQ4_NL } from './iq4_nl';
import { IQ4_XS } from './iq4_xs';
import { Q2_K } from './q2_k';
import { Q3_K } from './q3_k';
import { Q4_0 } from './q4_0';
import { Q4_1 } from './q4_1';
import { Q4_K } from './q4_k';
import { Q5_0 } from './q5_0';
import { Q5_1 } from './q5_1';
import { Q5_K } from './q5_k';
import { Q6_K } from './q6_k';
import { Q8_0 } from './q8_0';

export type { QuantFormat, QuantTypeName } from './format';
export { QuantError } from './errors';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32BitsToBf16Bits, f32BitsToF16Bits, roundToF16 } from './half';

export const QUANT_FORMATS: Readonly<Record<QuantTypeName, QuantFormat>> = Object.freeze({
  F32,
  F16,
  BF16,
  Q8_0,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K,
  IQ4_NL,
  IQ4_XS,
});

export const QUANT_TYPE_NAMES = Object.freeze(Object.keys(QUANT_FORMATS) as QuantTypeName[]);

export function isQuantTypeName(name: string): name is QuantTypeName {
  return Object.prototype.hasOwnProperty.call(QUANT_FORMATS, name);
}

/** The format for a ggml type name; a QuantError (QUANT_TYPE) for types the engine does not run. */
export function getQuantFormat(name: string): QuantFormat {
  if (!isQuantTypeName(name)) {
    throw new QuantError('QUANT_TYPE', `ggml type ${name} is not one the engine runs (${QUANT_TYPE_NAMES.join(', ')})`, {
      type: name,
    });
  }
  return QUANT_FORMATS[name];
}

/** Bytes that n elements of a type occupy (n a multiple of the block size). */
export function quantByteSize(name: QuantTypeName, n: number): number {
  const f = QUANT_FORMATS[name];
  if (!Number.isInteger(n) || n < 0 || n % f.blockSize !== 0) {
    throw new QuantError('QUANT_LENGTH', `${name}: ${n} elements is not a whole number of ${f.blockSize}-element blocks`, {
      type: name,
      n,
      blockSize: f.blockSize,
    });
  }
  return (n / f.blockSize) * f.bytesPerBlock;
}
