/**
 * Every way a GGUF file (or a request to write one) can be refused. Messages read
 * `<file>: <field> = <value>: <what is wrong>` so a person sees which file, which field and
 * which value; `details` carries the same three for programs.
 */
import { PxiError } from '../errors';

export type GgufErrorCode =
  | 'GGUF_BAD_SOURCE' // the ByteSource broke its contract (bad size, short read)
  | 'GGUF_TRUNCATED' // a field or claimed count runs past the end of the file
  | 'GGUF_HEADER_TOO_LARGE' // the header would need more than the header cap
  | 'GGUF_BAD_MAGIC'
  | 'GGUF_BAD_VERSION'
  | 'GGUF_TOO_MANY_TENSORS'
  | 'GGUF_TOO_MANY_KVS'
  | 'GGUF_STRING_TOO_LONG'
  | 'GGUF_BAD_UTF8'
  | 'GGUF_ARRAY_TOO_LONG'
  | 'GGUF_ARRAY_TOO_DEEP'
  | 'GGUF_BAD_VALUE_TYPE' // unknown metadata value type id
  | 'GGUF_BAD_BOOL' // a bool byte other than 0 or 1
  | 'GGUF_DUPLICATE_KEY'
  | 'GGUF_DUPLICATE_TENSOR'
  | 'GGUF_BAD_ALIGNMENT'
  | 'GGUF_BAD_NDIMS'
  | 'GGUF_BAD_DIM'
  | 'GGUF_SIZE_OVERFLOW' // element count or byte size not below 2^53
  | 'GGUF_UNKNOWN_TYPE' // unknown or removed ggml tensor type id
  | 'GGUF_BAD_ROW' // row length not a multiple of the type's block size
  | 'GGUF_MISALIGNED_OFFSET'
  | 'GGUF_BAD_OFFSET' // not the running expected offset: overlap, out of order, gap, ≥ 2^53
  | 'GGUF_DATA_PAST_END'
  | 'GGUF_MISSING_KEY' // accessor: required key absent
  | 'GGUF_WRONG_TYPE' // accessor: value (or array element) type not what the consumer reads
  | 'GGUF_BAD_VALUE'; // writer: a value that does not fit its declared type, or wrong data length

/** Where a value sits, for error messages: the file and the field path inside it. */
export interface GgufWhere {
  readonly file: string;
  readonly field: string;
}

export class GgufError extends PxiError {
  declare readonly code: GgufErrorCode;
  readonly file: string;
  readonly field: string;

  constructor(code: GgufErrorCode, where: GgufWhere, value: unknown, what: string) {
    const shown = showValue(value);
    super(code, `${where.file}: ${where.field} = ${shown}: ${what}`, {
      file: where.file,
      field: where.field,
      value: shown,
    });
    this.file = where.file;
    this.field = where.field;
  }
}

/**
 * The field name of a metadata entry, `kv["general.alignment"]`; a key too long to be useful in
 * a message (a hostile 64 KiB key) is clipped.
 */
export function kvField(key: string): string {
  return `kv[${JSON.stringify(key.length > 120 ? `${key.slice(0, 120)}…` : key)}]`;
}

/** A short, unambiguous rendering of a value for a message (strings quoted and clipped). */
export function showValue(v: unknown): string {
  if (typeof v === 'string') {
    const clipped = v.length > 80 ? `${v.slice(0, 80)}…` : v;
    return JSON.stringify(clipped);
  }
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) {
    const hex = Array.from(v.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return `<${hex}${v.length > 16 ? ' …' : ''}>`;
  }
  return String(v);
}
