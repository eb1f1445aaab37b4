/**
 * The ggml tensor types a GGUF file can name, with their storage geometry: a row of `n`
 * elements is stored as `n / blockSize` blocks of `blockBytes` bytes. Ids follow ggml's
 * `enum ggml_type`; ids ggml removed (4, 5, 31–33, 36–38) and anything newer than MXFP4 are
 * unknown here and refused by id.
 */
import { mulSafe } from '../binary/safe-int';
import { GgufError, type GgufWhere } from './errors';

export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;

export type GgmlTypeName = keyof typeof GgmlType;
export type GgmlTypeId = (typeof GgmlType)[GgmlTypeName];

export interface GgmlTypeInfo {
  readonly id: GgmlTypeId;
  readonly name: GgmlTypeName;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
}

// Block layouts from ggml-common.h (QK_K = 256); sizes are the packed struct sizes.
const GEOMETRY: Record<GgmlTypeName, readonly [blockSize: number, blockBytes: number]> = {
  F32: [1, 4],
  F16: [1, 2],
  Q4_0: [32, 2 + 16],
  Q4_1: [32, 2 + 2 + 16],
  Q5_0: [32, 2 + 4 + 16],
  Q5_1: [32, 2 + 2 + 4 + 16],
  Q8_0: [32, 2 + 32],
  Q8_1: [32, 2 + 2 + 32],
  Q2_K: [256, 2 + 2 + 256 / 16 + 256 / 4],
  Q3_K: [256, 2 + 256 / 4 + 256 / 8 + 12],
  Q4_K: [256, 2 + 2 + 12 + 256 / 2],
  Q5_K: [256, 2 + 2 + 12 + 256 / 8 + 256 / 2],
  Q6_K: [256, 2 + 256 / 2 + 256 / 4 + 256 / 16],
  Q8_K: [256, 4 + 256 + (256 / 16) * 2],
  IQ2_XXS: [256, 2 + 256 / 4],
  IQ2_XS: [256, 2 + 256 / 4 + 256 / 32],
  IQ3_XXS: [256, 2 + 256 / 4 + 256 / 8],
  IQ1_S: [256, 2 + 256 / 8 + 256 / 16],
  IQ4_NL: [32, 2 + 16],
  IQ3_S: [256, 2 + 256 / 4 + 256 / 8 + 256 / 32 + 4],
  IQ2_S: [256, 2 + 256 / 4 + 256 / 16],
  IQ4_XS: [256, 2 + 2 + 256 / 64 + 256 / 2],
  I8: [1, 1],
  I16: [1, 2],
  I32: [1, 4],
  I64: [1, 8],
  F64: [1, 8],
  IQ1_M: [256, 256 / 8 + 256 / 16 + 256 / 32],
  BF16: [1, 2],
  TQ1_0: [256, 2 + 4 * 13],
  TQ2_0: [256, 2 + 64],
  MXFP4: [32, 1 + 16],
};

export const GGML_TYPES: readonly GgmlTypeInfo[] = (Object.keys(GgmlType) as GgmlTypeName[]).map((name) => {
  const [blockSize, blockBytes] = GEOMETRY[name];
  return Object.freeze({ id: GgmlType[name], name, blockSize, blockBytes });
});

const BY_ID = new Map<number, GgmlTypeInfo>(GGML_TYPES.map((t) => [t.id, t]));

/** The type with this id, or `undefined` for an unknown or removed id. */
export function findGgmlType(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

const ANYWHERE: GgufWhere = { file: '<memory>', field: 'type' };

/** The type with this id; an unknown id is a `GGUF_UNKNOWN_TYPE` error naming the id. */
export function ggmlType(id: number, where: GgufWhere = ANYWHERE): GgmlTypeInfo {
  const t = BY_ID.get(id);
  if (!t) throw new GgufError('GGUF_UNKNOWN_TYPE', where, id, 'unknown or removed ggml tensor type id');
  return t;
}

function info(type: number | GgmlTypeInfo, where: GgufWhere): GgmlTypeInfo {
  return typeof type === 'number' ? ggmlType(type, where) : type;
}

/**
 * Bytes of one row of `rowLength` elements. The row length must be a positive multiple of the
 * block size (a quantised block never straddles rows).
 */
export function rowByteSize(type: number | GgmlTypeInfo, rowLength: number, where: GgufWhere = ANYWHERE): number {
  const t = info(type, where);
  if (!Number.isSafeInteger(rowLength) || rowLength < 1) {
    throw new GgufError('GGUF_BAD_DIM', where, rowLength, 'a row length must be a positive integer below 2^53');
  }
  if (rowLength % t.blockSize !== 0) {
    throw new GgufError(
      'GGUF_BAD_ROW',
      where,
      rowLength,
      `row length must be a multiple of ${t.name}'s block size ${t.blockSize}`,
    );
  }
  const bytes = mulSafe(rowLength / t.blockSize, t.blockBytes);
  if (bytes === undefined) {
    throw new GgufError('GGUF_SIZE_OVERFLOW', where, rowLength, `row of ${t.name} needs 2^53 bytes or more`);
  }
  return bytes;
}

/** Element count of a tensor; each dim a positive integer, the product below 2^53. */
export function tensorElementCount(dims: readonly number[], where: GgufWhere = ANYWHERE): number {
  let n = 1;
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i]!;
    if (!Number.isSafeInteger(d) || d < 1) {
      throw new GgufError('GGUF_BAD_DIM', { file: where.file, field: `${where.field}.dims[${i}]` }, d, 'a dimension must be a positive integer below 2^53');
    }
    const next = mulSafe(n, d);
    if (next === undefined) {
      throw new GgufError('GGUF_SIZE_OVERFLOW', { file: where.file, field: `${where.field}.dims` }, `[${dims.join(', ')}]`, 'element count is 2^53 or more');
    }
    n = next;
  }
  return n;
}

/**
 * Bytes of a whole tensor with ggml dims (`dims[0]` is the row length, the fastest-varying
 * dimension). `where.field` names the tensor, e.g. `tensor[3]`; errors name `.dims[i]`.
 */
export function tensorByteSize(type: number | GgmlTypeInfo, dims: readonly number[], where: GgufWhere = ANYWHERE): number {
  const t = info(type, { file: where.file, field: `${where.field}.type` });
  if (dims.length < 1 || dims.length > 4) {
    throw new GgufError('GGUF_BAD_NDIMS', { file: where.file, field: `${where.field}.n_dims` }, dims.length, 'a tensor has 1 to 4 dimensions');
  }
  const elements = tensorElementCount(dims, where);
  const row = rowByteSize(t, dims[0]!, { file: where.file, field: `${where.field}.dims[0]` });
  const bytes = mulSafe(row, elements / dims[0]!);
  if (bytes === undefined) {
    throw new GgufError('GGUF_SIZE_OVERFLOW', { file: where.file, field: `${where.field}.dims` }, `[${dims.join(', ')}]`, `byte size of this ${t.name} tensor is 2^53 or more`);
  }
  return bytes;
}
