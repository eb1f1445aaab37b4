// The ggml type table and the checked tensor size arithmetic.
import { describe, expect, it } from 'vitest';
import { GgufError } from '../../shared/gguf/errors';
import {
  findGgmlType,
  GGML_TYPES,
  GgmlType,
  ggmlType,
  rowByteSize,
  tensorByteSize,
  tensorElementCount,
} from '../../shared/gguf/ggml-types';
import { FIXED_SIZE, GGUF_NUMERIC_ITEMS, GGUF_VALUE_TYPE_IDS, isGgufNumericType, numericItems } from '../../shared/gguf/values';

// Independent statement of ggml's table (id, block size, bytes per block), as listed in
// gguf-py's GGML_QUANT_SIZES; written out as plain numbers on purpose.
const EXPECTED: [string, number, number, number][] = [
  ['F32', 0, 1, 4],
  ['F16', 1, 1, 2],
  ['Q4_0', 2, 32, 18],
  ['Q4_1', 3, 32, 20],
  ['Q5_0', 6, 32, 22],
  ['Q5_1', 7, 32, 24],
  ['Q8_0', 8, 32, 34],
  ['Q8_1', 9, 32, 36],
  ['Q2_K', 10, 256, 84],
  ['Q3_K', 11, 256, 110],
  ['Q4_K', 12, 256, 144],
  ['Q5_K', 13, 256, 176],
  ['Q6_K', 14, 256, 210],
  ['Q8_K', 15, 256, 292],
  ['IQ2_XXS', 16, 256, 66],
  ['IQ2_XS', 17, 256, 74],
  ['IQ3_XXS', 18, 256, 98],
  ['IQ1_S', 19, 256, 50],
  ['IQ4_NL', 20, 32, 18],
  ['IQ3_S', 21, 256, 110],
  ['IQ2_S', 22, 256, 82],
  ['IQ4_XS', 23, 256, 136],
  ['I8', 24, 1, 1],
  ['I16', 25, 1, 2],
  ['I32', 26, 1, 4],
  ['I64', 27, 1, 8],
  ['F64', 28, 1, 8],
  ['IQ1_M', 29, 256, 56],
  ['BF16', 30, 1, 2],
  ['TQ1_0', 34, 256, 54],
  ['TQ2_0', 35, 256, 66],
  ['MXFP4', 39, 32, 17],
];

describe('ggml type table', () => {
  it('matches ggml ids and block geometry for every type', () => {
    expect(GGML_TYPES.map((t) => [t.name, t.id, t.blockSize, t.blockBytes])).toEqual(EXPECTED);
    for (const [name, id] of EXPECTED) {
      expect(findGgmlType(id)?.name).toBe(name);
      expect(GgmlType[name as keyof typeof GgmlType]).toBe(id);
    }
  });

  it('refuses removed, future and nonsense ids by id', () => {
    for (const id of [4, 5, 31, 32, 33, 36, 37, 38, 40, 41, -1, 1.5, 2 ** 32 - 1]) {
      expect(findGgmlType(id)).toBeUndefined();
      let err: unknown;
      try {
        ggmlType(id, { file: 'm.gguf', field: 'tensor[2].type' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GgufError);
      expect((err as GgufError).code).toBe('GGUF_UNKNOWN_TYPE');
      expect((err as GgufError).message).toContain(`m.gguf: tensor[2].type = ${id}`);
    }
  });
});

describe('row and tensor byte sizes', () => {
  it('computes sizes from blocks', () => {
    expect(rowByteSize(GgmlType.Q4_K, 4096)).toBe(16 * 144);
    expect(rowByteSize(GgmlType.F16, 3)).toBe(6);
    expect(tensorByteSize(GgmlType.Q8_0, [64, 3, 2])).toBe(2 * 34 * 6);
    expect(tensorByteSize(GgmlType.MXFP4, [32, 1, 1, 5])).toBe(17 * 5);
    expect(tensorElementCount([7, 3, 2])).toBe(42);
  });

  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return e instanceof GgufError ? e.code : `not a GgufError: ${String(e)}`;
    }
    return undefined;
  };

  it('refuses rows that are not a multiple of the block', () => {
    expect(code(() => rowByteSize(GgmlType.Q4_0, 33))).toBe('GGUF_BAD_ROW');
    expect(code(() => tensorByteSize(GgmlType.Q6_K, [128, 2]))).toBe('GGUF_BAD_ROW');
  });

  it('refuses bad dims and dim counts', () => {
    expect(code(() => tensorByteSize(GgmlType.F32, []))).toBe('GGUF_BAD_NDIMS');
    expect(code(() => tensorByteSize(GgmlType.F32, [1, 1, 1, 1, 1]))).toBe('GGUF_BAD_NDIMS');
    expect(code(() => tensorByteSize(GgmlType.F32, [4, 0]))).toBe('GGUF_BAD_DIM');
    expect(code(() => tensorByteSize(GgmlType.F32, [4, -1]))).toBe('GGUF_BAD_DIM');
    expect(code(() => tensorByteSize(GgmlType.F32, [2 ** 53]))).toBe('GGUF_BAD_DIM');
    expect(code(() => tensorByteSize(GgmlType.F32, [2.5]))).toBe('GGUF_BAD_DIM');
  });

  it('refuses element counts and byte sizes at or above 2^53', () => {
    expect(code(() => tensorElementCount([2 ** 30, 2 ** 23]))).toBe('GGUF_SIZE_OVERFLOW');
    expect(tensorElementCount([2 ** 30, 2 ** 22])).toBe(2 ** 52);
    // Elements below 2^53 but 8 bytes each.
    expect(code(() => tensorByteSize(GgmlType.F64, [2 ** 26, 2 ** 26]))).toBe('GGUF_SIZE_OVERFLOW');
    // Quantised: (2^53 - 32) elements of Q8_0 take 34/32 bytes each.
    expect(code(() => tensorByteSize(GgmlType.Q8_0, [2 ** 53 - 32]))).toBe('GGUF_SIZE_OVERFLOW');
    expect(code(() => rowByteSize(GgmlType.Q8_0, 2 ** 53 - 32))).toBe('GGUF_SIZE_OVERFLOW');
    expect(tensorByteSize(GgmlType.F32, [2 ** 25, 2 ** 25])).toBe(2 ** 52);
  });
});

// The metadata item-type table that the reader, the writer and the manifest JSON all use.
describe('GGUF_NUMERIC_ITEMS', () => {
  it('pairs each numeric type with its on-disk width, container and full integer range', () => {
    const types = Object.keys(GGUF_VALUE_TYPE_IDS).filter((t) => t !== 'bool' && t !== 'string' && t !== 'array');
    expect(Object.keys(GGUF_NUMERIC_ITEMS).sort()).toEqual(types.sort());
    for (const [name, item] of Object.entries(GGUF_NUMERIC_ITEMS)) {
      expect(new item.container(new ArrayBuffer(8)).BYTES_PER_ELEMENT, name).toBe(item.bytes);
      expect(FIXED_SIZE[name as keyof typeof FIXED_SIZE], name).toBe(item.bytes);
      if (item.range === null) {
        expect(new item.container(new ArrayBuffer(8))).toBeInstanceOf(name === 'float32' ? Float32Array : Float64Array);
        continue;
      }
      // The container wraps one past each end of the range: the range is exactly what it holds.
      const [lo, hi] = item.range as readonly [number | bigint, number | bigint];
      const one = typeof lo === 'bigint' ? 1n : 1;
      const a = new item.container(new ArrayBuffer(item.bytes * 4)) as unknown as (number | bigint)[];
      a[0] = lo;
      a[1] = hi;
      a[2] = (hi as number) + (one as number);
      a[3] = (lo as number) - (one as number);
      expect([a[0], a[1]], name).toEqual([lo, hi]);
      expect([a[2], a[3]], name).toEqual([lo, hi]);
    }
    expect(FIXED_SIZE.bool).toBe(1);
  });

  it('builds a fresh array of the named type over a buffer', () => {
    const buf = new Uint8Array([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).buffer;
    expect(numericItems('int32', buf)).toEqual(new Int32Array([1, -1]));
    expect(numericItems('uint16', buf, 2)).toEqual(new Uint16Array([1, 0]));
    expect(isGgufNumericType('float64')).toBe(true);
    expect(isGgufNumericType('bool')).toBe(false);
    expect(isGgufNumericType('toString')).toBe(false);
  });
});
