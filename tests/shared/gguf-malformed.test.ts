/**
 * Malformed-file matrix (after ggml's tests/test-gguf.cpp): each corruption class builds bad
 * files from a valid seeded base written by our writer, and states the exact error code, the
 * field the message must name and the value it must show. Both the in-memory and the
 * streaming reader must refuse identically, and the streaming reader must never ask for a
 * byte past its header cap. A seeded mutation loop then checks that arbitrary damage gives a
 * GgufError (never another exception) quickly.
 */
import { describe, expect, it } from 'vitest';
import { GgufError, type GgufErrorCode } from '../../shared/gguf/errors';
import { GgmlType, ggmlType } from '../../shared/gguf/ggml-types';
import { getArray } from '../../shared/gguf/metadata';
import { DEFAULT_GGUF_LIMITS, type GgufLimits } from '../../shared/gguf/limits';
import { parseGgufBytes, readGgufHeader, type GgufHeader } from '../../shared/gguf/reader';
import { gv, type GgufArray } from '../../shared/gguf/values';
import { layoutGguf, writeGgufBytes } from '../../shared/gguf/writer';
import {
  build,
  CountingSource,
  fieldAt,
  genModel,
  int,
  patchU32,
  patchU64,
  pick,
  readU64,
  rng,
  type BuiltFile,
} from './gguf-gen';

enum Corruption {
  BadMagic = 'bad magic',
  BadVersion = 'bad version',
  HugeTensorCount = 'huge tensor count',
  HugeKvCount = 'huge kv count',
  StringPastEnd = 'string length past end',
  StringAbsurd = 'string length absurd',
  ArrayCountAbsurd = 'array count absurd / count × size overflowing',
  ArrayCountPastEnd = 'array count past end',
  ArrayTotalItems = 'array elements over the per-load cap',
  ArrayTooDeep = 'arrays nested too deep',
  ArrayTypeWrongForConsumer = 'array element type wrong for the consumer',
  BadNDims = 'dims count 0 or > 4',
  DimZero = 'dim zero',
  DimNegative = 'dim negative (huge uint64)',
  DimProductOverflow = 'dim product overflowing',
  ByteSizeOverflow = 'byte size overflowing (quantised and wide types)',
  UnknownType = 'unknown tensor type id',
  RowNotMultiple = 'row not a multiple of the block',
  BadAlignment = 'alignment 0 / not a power of two / enormous / wrong type',
  OffsetMisaligned = 'offset misaligned',
  OffsetOverlap = 'offset overlapping',
  OffsetOutOfOrder = 'offsets out of order',
  OffsetGap = 'offset leaving a gap',
  OffsetHuge = 'offset ≥ 2^53',
  DataPastEnd = 'tensor data past end of file',
  DuplicateKey = 'duplicate key',
  DuplicateTensor = 'duplicate tensor name',
  BadBool = 'bad bool value',
  UnknownValueType = 'unknown metadata value type',
  BadUtf8 = 'string not UTF-8',
  HeaderTooLarge = 'header past the header cap',
}

interface BadFile {
  readonly what: string;
  readonly bytes: Uint8Array;
  readonly code: GgufErrorCode;
  /** The field the error must name (omitted where it depends on where parsing stops). */
  readonly field?: string;
  /** The value as the message shows it. */
  readonly value?: string;
  readonly limits?: Partial<GgufLimits>;
  /** For consumer-side classes: the file parses, this use of it must fail. */
  readonly consume?: (h: GgufHeader) => unknown;
}

const U64_MAX = (1n << 64n) - 1n;
const keyIndex = (f: BuiltFile, key: string) => [...f.model.metadata.keys()].indexOf(key);
const lastTensor = (f: BuiltFile) => f.layout.tensors.length - 1;

function patchBytes(bytes: Uint8Array, at: number, src: ArrayLike<number>): Uint8Array {
  const out = bytes.slice();
  out.set(src, at);
  return out;
}

const GENERATORS: Record<Corruption, (f: BuiltFile, r: () => number) => BadFile[]> = {
  [Corruption.BadMagic]: (f) =>
    [
      [0x47, 0x47, 0x4d, 0x4c],
      [0x67, 0x67, 0x75, 0x66],
      [0, 0, 0, 0],
    ].map((m) => ({
      what: `magic ${m}`,
      bytes: patchBytes(f.bytes, 0, m),
      code: 'GGUF_BAD_MAGIC',
      field: 'magic',
      value: `<${m.map((b) => b.toString(16).padStart(2, '0')).join(' ')}>`,
    })),

  [Corruption.BadVersion]: (f) =>
    [0, 1, 4, 0x03000000, 0xffffffff].map((v) => ({
      what: `version ${v}`,
      bytes: patchU32(f.bytes, 4, v),
      code: 'GGUF_BAD_VERSION',
      field: 'version',
      value: String(v),
    })),

  [Corruption.HugeTensorCount]: (f) => [
    ...[1n << 63n, U64_MAX, BigInt(DEFAULT_GGUF_LIMITS.maxTensors) + 1n].map((v) => ({
      what: `tensor_count ${v}`,
      bytes: patchU64(f.bytes, 8, v),
      code: 'GGUF_TOO_MANY_TENSORS' as const,
      field: 'tensor_count',
      value: String(v),
    })),
    // Below the cap but needing more bytes than the file has.
    { what: 'tensor_count at cap', bytes: patchU64(f.bytes, 8, DEFAULT_GGUF_LIMITS.maxTensors), code: 'GGUF_TRUNCATED', field: 'tensor_count', value: String(DEFAULT_GGUF_LIMITS.maxTensors) },
  ],

  [Corruption.HugeKvCount]: (f) => [
    ...[1n << 63n, U64_MAX, BigInt(DEFAULT_GGUF_LIMITS.maxKvs) + 1n].map((v) => ({
      what: `kv_count ${v}`,
      bytes: patchU64(f.bytes, 16, v),
      code: 'GGUF_TOO_MANY_KVS' as const,
      field: 'kv_count',
      value: String(v),
    })),
    { what: 'kv_count at cap', bytes: patchU64(f.bytes, 16, DEFAULT_GGUF_LIMITS.maxKvs), code: 'GGUF_TRUNCATED', field: 'kv_count', value: String(DEFAULT_GGUF_LIMITS.maxKvs) },
  ],

  [Corruption.StringPastEnd]: (f) => {
    const n = f.bytes.length; // < maxKeyBytes: the base files are a few KB
    return [
      { what: 'key length', bytes: patchU64(f.bytes, fieldAt(f, 'kv[0].key'), n), code: 'GGUF_TRUNCATED', field: 'kv[0].key', value: String(n) },
      {
        what: 'string value length',
        bytes: patchU64(f.bytes, fieldAt(f, 'kv["test.string"]'), 2 * n),
        code: 'GGUF_TRUNCATED',
        field: 'kv["test.string"]',
        value: String(2 * n),
      },
      {
        what: 'string array element length',
        bytes: patchU64(f.bytes, fieldAt(f, 'kv["tokenizer.ggml.tokens"].count') + 8, 3 * n),
        code: 'GGUF_TRUNCATED',
        field: 'kv["tokenizer.ggml.tokens"][0]',
        value: String(3 * n),
      },
    ];
  },

  [Corruption.StringAbsurd]: (f) => [
    ...[U64_MAX, 1n << 53n, BigInt(DEFAULT_GGUF_LIMITS.maxKeyBytes) + 1n].map((v) => ({
      what: `key length ${v}`,
      bytes: patchU64(f.bytes, fieldAt(f, 'kv[0].key'), v),
      code: 'GGUF_STRING_TOO_LONG' as const,
      field: 'kv[0].key',
      value: String(v),
    })),
    { what: 'value length 2^40', bytes: patchU64(f.bytes, fieldAt(f, 'kv["test.string"]'), 1n << 40n), code: 'GGUF_STRING_TOO_LONG', field: 'kv["test.string"]', value: String(1n << 40n) },
    { what: 'tensor name of 64 bytes', bytes: patchU64(f.bytes, fieldAt(f, 'tensor[0].name'), 64), code: 'GGUF_STRING_TOO_LONG', field: 'tensor[0].name', value: '64' },
  ],

  [Corruption.ArrayCountAbsurd]: (f) =>
    [1n << 61n, U64_MAX, BigInt(DEFAULT_GGUF_LIMITS.maxArrayLength) + 1n].map((v) => ({
      what: `uint64 array count ${v}`,
      bytes: patchU64(f.bytes, fieldAt(f, 'kv["test.u64s"].count'), v),
      code: 'GGUF_ARRAY_TOO_LONG' as const,
      field: 'kv["test.u64s"].count',
      value: String(v),
    })),

  [Corruption.ArrayCountPastEnd]: (f) => [
    { what: 'uint64 array', bytes: patchU64(f.bytes, fieldAt(f, 'kv["test.u64s"].count'), 1 << 20), code: 'GGUF_TRUNCATED', field: 'kv["test.u64s"].count', value: String(1 << 20) },
    {
      what: 'string array',
      bytes: patchU64(f.bytes, fieldAt(f, 'kv["tokenizer.ggml.tokens"].count'), DEFAULT_GGUF_LIMITS.maxArrayLength),
      code: 'GGUF_TRUNCATED',
      field: 'kv["tokenizer.ggml.tokens"].count',
      value: String(DEFAULT_GGUF_LIMITS.maxArrayLength),
    },
  ],

  [Corruption.ArrayTotalItems]: (f) => {
    // test.bools is the first array in the base; a total cap below its length trips on it.
    const v = f.model.metadata.get('test.bools')!;
    const n = (v.value as GgufArray).items.length;
    return [{ what: 'total cap', bytes: f.bytes, limits: { maxTotalArrayItems: n - 1 }, code: 'GGUF_ARRAY_TOO_LONG', field: 'kv["test.bools"].count', value: String(n) }];
  },

  [Corruption.ArrayTooDeep]: (f) => {
    let deep: GgufArray = { itemType: 'uint8', items: Uint8Array.of(1) };
    for (let i = 0; i < 4; i++) deep = { itemType: 'array', items: [deep] };
    const meta = new Map(f.model.metadata).set('deep', { type: 'array', value: deep });
    const bytes = writeGgufBytes(meta, f.model.tensors, { limits: { maxArrayDepth: 8 } });
    return [{ what: 'depth 5', bytes, code: 'GGUF_ARRAY_TOO_DEEP', field: 'kv["deep"][0][0][0][0]', value: '5' }];
  },

  [Corruption.ArrayTypeWrongForConsumer]: (f) => {
    const n = (f.model.metadata.get('tokenizer.ggml.scores')!.value as GgufArray).items.length;
    const meta = new Map(f.model.metadata).set('tokenizer.ggml.scores', gv.array('int8', new Int8Array(n)));
    const bytes = writeGgufBytes(meta, f.model.tensors);
    return [
      {
        what: 'int8 scores read as float32',
        bytes,
        code: 'GGUF_WRONG_TYPE',
        field: 'kv["tokenizer.ggml.scores"]',
        value: '"array of int8"',
        consume: (h) => getArray(h, 'tokenizer.ggml.scores', 'float32'),
      },
      {
        what: 'string tokens read as int32',
        bytes: f.bytes,
        code: 'GGUF_WRONG_TYPE',
        field: 'kv["tokenizer.ggml.tokens"]',
        value: '"array of string"',
        consume: (h) => getArray(h, 'tokenizer.ggml.tokens', 'int32'),
      },
    ];
  },

  [Corruption.BadNDims]: (f, r) => {
    const k = int(r, 0, lastTensor(f));
    return [0, 5, 0xffffffff].map((v) => ({
      what: `n_dims ${v}`,
      bytes: patchU32(f.bytes, fieldAt(f, `tensor[${k}].n_dims`), v),
      code: 'GGUF_BAD_NDIMS' as const,
      field: `tensor[${k}].n_dims`,
      value: String(v),
    }));
  },

  [Corruption.DimZero]: (f, r) => {
    const k = int(r, 0, lastTensor(f));
    return [{ what: 'dims[0] = 0', bytes: patchU64(f.bytes, fieldAt(f, `tensor[${k}].dims[0]`), 0), code: 'GGUF_BAD_DIM', field: `tensor[${k}].dims[0]`, value: '0' }];
  },

  [Corruption.DimNegative]: (f) =>
    [U64_MAX, 1n << 63n, 1n << 53n].map((v) => ({
      what: `dims[1] = ${v}`,
      bytes: patchU64(f.bytes, fieldAt(f, 'tensor[0].dims[1]'), v),
      code: 'GGUF_BAD_DIM' as const,
      field: 'tensor[0].dims[1]',
      value: String(v),
    })),

  [Corruption.DimProductOverflow]: (f) => {
    const b = patchU64(patchU64(f.bytes, fieldAt(f, 'tensor[0].dims[0]'), 2 ** 30), fieldAt(f, 'tensor[0].dims[1]'), 2 ** 23);
    return [{ what: '2^30 × 2^23', bytes: b, code: 'GGUF_SIZE_OVERFLOW', field: 'tensor[0].dims', value: `"[${2 ** 30}, ${2 ** 23}]"` }];
  },

  [Corruption.ByteSizeOverflow]: (f) => {
    // tensor[1] is Q8_0 2-D: 2^53 - 32 elements (a whole number of blocks) need > 2^53 bytes.
    const q = patchU64(patchU64(f.bytes, fieldAt(f, 'tensor[1].dims[0]'), 2 ** 53 - 32), fieldAt(f, 'tensor[1].dims[1]'), 1);
    // As F64: 2^52 elements (fine) × 8 bytes (not).
    const wide = patchU32(
      patchU64(patchU64(f.bytes, fieldAt(f, 'tensor[1].dims[0]'), 2 ** 26), fieldAt(f, 'tensor[1].dims[1]'), 2 ** 26),
      fieldAt(f, 'tensor[1].type'),
      GgmlType.F64,
    );
    return [
      { what: 'Q8_0 row', bytes: q, code: 'GGUF_SIZE_OVERFLOW', field: 'tensor[1].dims[0]', value: String(2 ** 53 - 32) },
      { what: 'F64 tensor', bytes: wide, code: 'GGUF_SIZE_OVERFLOW', field: 'tensor[1].dims', value: `"[${2 ** 26}, ${2 ** 26}]"` },
    ];
  },

  [Corruption.UnknownType]: (f, r) => {
    const k = int(r, 0, lastTensor(f));
    return [4, 5, 31, 32, 33, 36, 37, 38, 40, 0xffffffff].map((v) => ({
      what: `type ${v}`,
      bytes: patchU32(f.bytes, fieldAt(f, `tensor[${k}].type`), v),
      code: 'GGUF_UNKNOWN_TYPE' as const,
      field: `tensor[${k}].type`,
      value: String(v),
    }));
  },

  [Corruption.RowNotMultiple]: (f) => {
    const row0 = f.model.tensors[0]!.dims[0]!;
    return [
      { what: 'Q8_0 row 33', bytes: patchU64(f.bytes, fieldAt(f, 'tensor[1].dims[0]'), 33), code: 'GGUF_BAD_ROW', field: 'tensor[1].dims[0]', value: '33' },
      { what: 'F32 retyped Q4_K', bytes: patchU32(f.bytes, fieldAt(f, 'tensor[0].type'), GgmlType.Q4_K), code: 'GGUF_BAD_ROW', field: 'tensor[0].dims[0]', value: String(row0) },
    ];
  },

  [Corruption.BadAlignment]: (f) => {
    const at = fieldAt(f, 'kv["general.alignment"]');
    const typeAt = fieldAt(f, 'kv["general.alignment"].type');
    return [
      ...[0, 3, 48, 2 ** 31, 2 ** 17].map((v) => ({
        what: `alignment ${v}`,
        bytes: patchU32(f.bytes, at, v),
        code: 'GGUF_BAD_ALIGNMENT' as const,
        field: 'kv["general.alignment"]',
        value: String(v),
      })),
      { what: 'alignment as int32', bytes: patchU32(f.bytes, typeAt, 5), code: 'GGUF_BAD_ALIGNMENT', field: 'kv["general.alignment"]', value: '"int32"' },
      { what: 'alignment as float32', bytes: patchU32(f.bytes, typeAt, 6), code: 'GGUF_BAD_ALIGNMENT', field: 'kv["general.alignment"]', value: '"float32"' },
    ];
  },

  [Corruption.OffsetMisaligned]: (f, r) => {
    const k = int(r, 0, lastTensor(f));
    const rel = f.layout.tensors[k]!.relOffset;
    return [1, f.layout.alignment / 2].map((d) => ({
      what: `+${d}`,
      bytes: patchU64(f.bytes, fieldAt(f, `tensor[${k}].offset`), rel + d),
      code: 'GGUF_MISALIGNED_OFFSET' as const,
      field: `tensor[${k}].offset`,
      value: String(rel + d),
    }));
  },

  [Corruption.OffsetOverlap]: (f, r) => {
    const k = int(r, 1, lastTensor(f));
    const prev = f.layout.tensors[k - 1]!.relOffset;
    return [{ what: `tensor ${k} on ${k - 1}`, bytes: patchU64(f.bytes, fieldAt(f, `tensor[${k}].offset`), prev), code: 'GGUF_BAD_OFFSET', field: `tensor[${k}].offset`, value: String(prev) }];
  },

  [Corruption.OffsetOutOfOrder]: (f) => {
    const a = f.layout.tensors[1]!.relOffset;
    const b = f.layout.tensors[2]!.relOffset;
    const swapped = patchU64(patchU64(f.bytes, fieldAt(f, 'tensor[1].offset'), b), fieldAt(f, 'tensor[2].offset'), a);
    return [{ what: 'swap 1 and 2', bytes: swapped, code: 'GGUF_BAD_OFFSET', field: 'tensor[1].offset', value: String(b) }];
  },

  [Corruption.OffsetGap]: (f) => {
    const k = lastTensor(f);
    const v = f.layout.tensors[k]!.relOffset + f.layout.alignment;
    return [{ what: 'one alignment unit late', bytes: patchU64(f.bytes, fieldAt(f, `tensor[${k}].offset`), v), code: 'GGUF_BAD_OFFSET', field: `tensor[${k}].offset`, value: String(v) }];
  },

  [Corruption.OffsetHuge]: (f) =>
    [1n << 53n, U64_MAX].map((v) => ({
      what: `offset ${v}`,
      bytes: patchU64(f.bytes, fieldAt(f, 'tensor[0].offset'), v),
      code: 'GGUF_BAD_OFFSET' as const,
      field: 'tensor[0].offset',
      value: String(v),
    })),

  [Corruption.DataPastEnd]: (f) => {
    const k = lastTensor(f);
    const t = f.layout.tensors[k]!;
    const nd = t.dims.length;
    const dimAt = fieldAt(f, `tensor[${k}].dims[${nd - 1}]`);
    return [
      { what: 'file cut inside the last tensor', bytes: f.bytes.slice(0, t.offset + 1), code: 'GGUF_DATA_PAST_END', field: `tensor[${k}].offset`, value: String(t.relOffset) },
      {
        what: 'last tensor grown',
        bytes: patchU64(f.bytes, dimAt, readU64(f.bytes, dimAt) * 1000n),
        code: 'GGUF_DATA_PAST_END',
        field: `tensor[${k}].offset`,
        value: String(t.relOffset),
      },
    ];
  },

  [Corruption.DuplicateKey]: (f) => {
    const j = keyIndex(f, 'test.dup.b');
    const at = fieldAt(f, `kv[${j}].key`) + 8 + 'test.dup.'.length;
    return [{ what: 'b → a', bytes: patchBytes(f.bytes, at, [0x61]), code: 'GGUF_DUPLICATE_KEY', field: `kv[${j}].key`, value: '"test.dup.a"' }];
  },

  [Corruption.DuplicateTensor]: (f) => {
    const at = fieldAt(f, 'tensor[2].name') + 8 + 'blk.'.length;
    return [{ what: 'blk.2.w → blk.1.w', bytes: patchBytes(f.bytes, at, [0x31]), code: 'GGUF_DUPLICATE_TENSOR', field: 'tensor[2].name', value: '"blk.1.w"' }];
  },

  [Corruption.BadBool]: (f, r) => {
    const n = (f.model.metadata.get('test.bools')!.value as GgufArray).items.length;
    const i = int(r, 0, n - 1);
    return [
      ...[2, 255].map((v) => ({
        what: `bool ${v}`,
        bytes: patchBytes(f.bytes, fieldAt(f, 'kv["test.bool"]'), [v]),
        code: 'GGUF_BAD_BOOL' as const,
        field: 'kv["test.bool"]',
        value: String(v),
      })),
      {
        what: 'bool array element',
        bytes: patchBytes(f.bytes, fieldAt(f, 'kv["test.bools"].count') + 8 + i, [7]),
        code: 'GGUF_BAD_BOOL',
        field: `kv["test.bools"][${i}]`,
        value: '7',
      },
    ];
  },

  [Corruption.UnknownValueType]: (f) => [
    ...[13, 0xffffffff].map((v) => ({
      what: `value type ${v}`,
      bytes: patchU32(f.bytes, fieldAt(f, 'kv["test.u8"].type'), v),
      code: 'GGUF_BAD_VALUE_TYPE' as const,
      field: 'kv["test.u8"].type',
      value: String(v),
    })),
    {
      what: 'array element type 13',
      bytes: patchU32(f.bytes, fieldAt(f, 'kv["test.u64s"].array_type'), 13),
      code: 'GGUF_BAD_VALUE_TYPE',
      field: 'kv["test.u64s"].array_type',
      value: '13',
    },
  ],

  [Corruption.BadUtf8]: (f) => {
    const at = fieldAt(f, 'kv["test.string"]') + 8; // first text byte, always 'x'
    return [
      { what: '0xff', bytes: patchBytes(f.bytes, at, [0xff]), code: 'GGUF_BAD_UTF8', field: 'kv["test.string"]' },
      { what: 'key byte 0x80', bytes: patchBytes(f.bytes, fieldAt(f, 'kv[0].key') + 8, [0x80]), code: 'GGUF_BAD_UTF8', field: 'kv[0].key' },
    ];
  },

  [Corruption.HeaderTooLarge]: (f) => [
    { what: 'cap one byte short of the tensor infos', bytes: f.bytes, limits: { maxHeaderBytes: f.layout.headerEnd - 1 }, code: 'GGUF_HEADER_TOO_LARGE' },
    { what: 'cap inside the metadata', bytes: f.bytes, limits: { maxHeaderBytes: fieldAt(f, 'kv["test.string"]') }, code: 'GGUF_HEADER_TOO_LARGE' },
  ],
};

function expectRefusal(bad: BadFile, run: () => unknown): GgufError {
  let err: unknown;
  try {
    run();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof GgufError)) {
    throw new Error(`${bad.what}: expected GgufError ${bad.code}, got ${err === undefined ? 'success' : String(err)}`);
  }
  expect(err.code, `${bad.what}: ${err.message}`).toBe(bad.code);
  if (bad.field !== undefined) {
    expect(err.field, err.message).toBe(bad.field);
    expect(err.message).toContain(bad.value !== undefined ? `${bad.field} = ${bad.value}` : `${bad.field} =`);
  }
  expect(err.message.startsWith('bad.gguf: ')).toBe(true);
  return err;
}

const BASE_SEEDS = [101, 202, 303];

describe('malformed GGUF matrix', () => {
  for (const cls of Object.values(Corruption)) {
    it(cls, async () => {
      for (const seed of BASE_SEEDS) {
        const base = build(genModel(seed, { alignment: true }));
        expect(() => parseGgufBytes(base.bytes)).not.toThrow(); // the base itself is valid
        const variants = GENERATORS[cls](base, rng(seed));
        expect(variants.length).toBeGreaterThan(0);
        for (const bad of variants) {
          if (bad.consume) {
            const h = parseGgufBytes(bad.bytes, 'bad.gguf', { limits: bad.limits });
            expectRefusal(bad, () => bad.consume!(h));
            continue;
          }
          const syncErr = expectRefusal(bad, () => parseGgufBytes(bad.bytes, 'bad.gguf', { limits: bad.limits }));

          // Streaming: tiny first read, cap just above the base header, every request counted.
          const cap = bad.limits?.maxHeaderBytes ?? base.layout.dataOffset + 64;
          const src = new CountingSource(bad.bytes);
          let asyncErr: unknown;
          await readGgufHeader(src, { name: 'bad.gguf', initialReadBytes: 64, limits: { ...bad.limits, maxHeaderBytes: cap } }).catch(
            (e: unknown) => (asyncErr = e),
          );
          expect(asyncErr, bad.what).toBeInstanceOf(GgufError);
          expect((asyncErr as GgufError).code, `${bad.what}: ${(asyncErr as GgufError).message}`).toBe(syncErr.code);
          // Bounded work is asserted by what was read (maxEnd), not by the wall clock.
          expect(src.maxEnd, bad.what).toBeLessThanOrEqual(cap);
        }
      }
    });
  }

  it('truncation at every point of the header and inside the data', async () => {
    const base = build(genModel(404, { alignment: true }));
    const { headerEnd } = base.layout;
    const last = base.layout.tensors.at(-1)!;
    const lastEnd = last.offset + last.byteSize;
    for (let cut = 0; cut < base.bytes.length; cut++) {
      const bytes = base.bytes.subarray(0, cut);
      if (cut >= lastEnd) {
        expect(parseGgufBytes(bytes).tensors.length).toBe(base.layout.tensors.length);
        continue;
      }
      let err: unknown;
      try {
        parseGgufBytes(bytes, 'cut.gguf');
      } catch (e) {
        err = e;
      }
      expect(err, `cut at ${cut}`).toBeInstanceOf(GgufError);
      const e = err as GgufError;
      expect(e.code, `cut at ${cut}: ${e.message}`).toBe(cut < headerEnd ? 'GGUF_TRUNCATED' : 'GGUF_DATA_PAST_END');
      expect(e.message).toContain(`cut.gguf: ${e.field} = `);
      if (cut % 41 === 0) {
        const src = new CountingSource(bytes);
        await expect(readGgufHeader(src, { initialReadBytes: 64 })).rejects.toMatchObject({ code: e.code });
        expect(src.maxEnd).toBeLessThanOrEqual(cut);
      }
    }
  });
});

describe('seeded random mutations', () => {
  it('parse or throw GgufError, never anything else, and quickly', async () => {
    const bases = [1, 2, 3, 4].map((s) => build(genModel(500 + s)));
    const r = rng(9001);
    const interesting = [0n, 1n, 2n, 3n, 4n, 5n, 13n, 31n, 64n, 255n, 256n, 0xffffffffn, 1n << 31n, 1n << 53n, 1n << 63n, U64_MAX];
    const outcomes = new Map<string, number>();
    for (let n = 0; n < 400; n++) {
      const base = pick(r, bases);
      let bytes: Uint8Array = base.bytes.slice();
      const fields = [...base.layout.fieldOffsets.values()];
      for (let m = int(r, 1, 3); m > 0; m--) {
        const kind = r();
        const inHeader = () => int(r, 0, Math.max(0, Math.min(bytes.length, base.layout.dataOffset) - 1));
        if (kind < 0.35) {
          const at = inHeader();
          if (at < bytes.length) bytes[at]! ^= 1 << int(r, 0, 7);
        } else if (kind < 0.7) {
          const at = pick(r, fields);
          const v = pick(r, interesting);
          if (r() < 0.5 && at + 8 <= bytes.length) bytes = patchU64(bytes, at, v);
          else if (at + 4 <= bytes.length) bytes = patchU32(bytes, at, Number(v & 0xffffffffn));
        } else if (kind < 0.85) {
          bytes = bytes.slice(0, int(r, 0, bytes.length));
        } else {
          const at = inHeader();
          const len = int(r, 1, 16);
          bytes = r() < 0.5
            ? new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + len)])
            : new Uint8Array([...bytes.subarray(0, at), ...new Uint8Array(len).map(() => int(r, 0, 255)), ...bytes.subarray(at)]);
        }
      }
      let outcome = 'ok';
      try {
        const h = parseGgufBytes(bytes, 'mut.gguf');
        for (const t of h.tensors) {
          expect(t.offset + t.byteSize).toBeLessThanOrEqual(bytes.length);
          expect(t.relOffset % h.alignment).toBe(0);
          expect(ggmlType(t.type).id).toBe(t.type);
        }
      } catch (e) {
        if (!(e instanceof GgufError)) throw new Error(`mutation ${n}: non-GgufError ${String(e)}`, { cause: e });
        outcome = e.code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (n % 20 === 0) {
        const src = new CountingSource(bytes);
        const cap = base.layout.dataOffset + 4096;
        const res = await readGgufHeader(src, { initialReadBytes: 64, limits: { maxHeaderBytes: cap } }).then(
          () => 'ok',
          (e: unknown) => (e instanceof GgufError ? e.code : `non-GgufError ${String(e)}`),
        );
        expect(res.startsWith('non-GgufError')).toBe(false);
        expect(src.maxEnd).toBeLessThanOrEqual(cap);
      }
    }
    // The loop really exercises the validator: many distinct refusals, and some survivors.
    expect(outcomes.size).toBeGreaterThanOrEqual(8);
    expect([...outcomes.keys()].filter((k) => k !== 'ok').length).toBeGreaterThanOrEqual(7);
  });
});

it('the matrix covers every corruption class with a generator', () => {
  expect(Object.keys(GENERATORS).sort()).toEqual(Object.values(Corruption).sort());
  // And the writer-recorded field names are the ones the reader reports.
  const f = build(genModel(7, { alignment: true }));
  expect(layoutGguf(f.model.metadata, f.model.tensors).fieldOffsets.get('tensor[0].dims[1]')).toBe(fieldAt(f, 'tensor[0].dims[1]'));
});
