// Writer ⇄ reader on seeded generated models, the typed getters, and the writer's refusals.
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/binary/byte-source';
import {
  getArray,
  getBool,
  getI32,
  getString,
  getU32,
  getU64,
  getValue,
  GgmlType,
  GgufError,
  gv,
  layoutGguf,
  parseGgufBytes,
  readGgufHeader,
  writeGgufBytes,
  type GgufValue,
} from '../../shared/gguf';
import { build, CountingSource, genModel } from './gguf-gen';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof GgufError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('generated models round-trip', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
    const version = seed % 3 === 0 ? 2 : 3;
    it(`seed ${seed} (v${version})`, async () => {
      const f = build(genModel(seed), version);
      const h = parseGgufBytes(f.bytes, `gen-${seed}.gguf`);
      expect(h.version).toBe(version);
      expect(h.metadata).toEqual(f.model.metadata);
      expect([...h.metadata.keys()]).toEqual([...f.model.metadata.keys()]);
      expect(h.alignment).toBe(f.layout.alignment);
      expect(h.dataOffset).toBe(f.layout.dataOffset);
      expect(h.tensors.map(({ name, dims, type, offset, byteSize }) => ({ name, dims, type, offset, byteSize }))).toEqual(
        f.layout.tensors.map(({ name, dims, type, offset, byteSize }) => ({ name, dims, type, offset, byteSize })),
      );
      for (const [i, t] of h.tensors.entries()) {
        expect(Buffer.from(f.bytes.subarray(t.offset, t.offset + t.byteSize)).equals(Buffer.from(f.model.tensors[i]!.data))).toBe(true);
      }
      // Rewriting what was read reproduces the file exactly.
      const again = writeGgufBytes(
        h.metadata,
        h.tensors.map((t) => ({ ...t, data: f.bytes.subarray(t.offset, t.offset + t.byteSize) })),
        { version },
      );
      expect(Buffer.from(again).equals(Buffer.from(f.bytes))).toBe(true);
      // The streaming reader agrees and reads only the header region.
      const src = new CountingSource(f.bytes);
      expect(await readGgufHeader(src, { name: `gen-${seed}.gguf`, initialReadBytes: 64 })).toEqual(h);
      expect(src.maxEnd).toBeLessThanOrEqual(Math.max(64, 2 * h.headerEnd));
    });
  }

  it('keeps exact value types and bit patterns', () => {
    const nanBits = new Float32Array(new Uint32Array([0x7fc00001, 0xffc12345]).buffer);
    const meta = new Map<string, GgufValue>([
      ['u64.max', gv.u64((1n << 64n) - 1n)],
      ['i64.min', gv.i64(-(1n << 63n))],
      ['f32.neg0', gv.f32(-0)],
      ['f32.nan', gv.array('float32', nanBits)],
      ['bom', gv.str('\uFEFFx')],
      ['empty', gv.str('')],
      ['e.arr', gv.array('string', [])],
      ['deep', gv.array('array', [{ itemType: 'array', items: [{ itemType: 'int16', items: Int16Array.of(-1, 2) }] }])],
      ['u32.as.i32', gv.i32(-1)],
    ]);
    const bytes = writeGgufBytes(meta, []);
    const h = parseGgufBytes(bytes);
    expect(getValue(h, 'u64.max')).toEqual({ type: 'uint64', value: (1n << 64n) - 1n });
    expect(getValue(h, 'i64.min')).toEqual({ type: 'int64', value: -(1n << 63n) });
    expect(Object.is(getValue(h, 'f32.neg0').value, -0)).toBe(true);
    expect(Array.from(new Uint32Array(getArray(h, 'f32.nan', 'float32').slice().buffer))).toEqual([0x7fc00001, 0xffc12345]);
    expect(getString(h, 'bom')).toBe('\uFEFFx');
    expect(getValue(h, 'u32.as.i32').type).toBe('int32');
    expect(Buffer.from(writeGgufBytes(h.metadata, [])).equals(Buffer.from(bytes))).toBe(true);
  });

  it('grows the streamed prefix geometrically for a large header', async () => {
    const tokens = Array.from({ length: 60000 }, (_, i) => `tok_${i}_${'x'.repeat(i % 13)}`);
    const meta = new Map<string, GgufValue>([['tokenizer.ggml.tokens', gv.array('string', tokens)]]);
    const f = writeGgufBytes(meta, [{ name: 'w', dims: [32], type: GgmlType.F32, data: new Uint8Array(128) }]);
    const src = new CountingSource(f);
    const h = await readGgufHeader(src, { initialReadBytes: 4096 });
    expect(getArray(h, 'tokenizer.ggml.tokens', 'string')).toEqual(tokens);
    expect(src.requests.length).toBeLessThanOrEqual(Math.ceil(Math.log2(h.dataOffset / 4096)) + 1);
    expect(src.totalRequested).toBe(src.maxEnd);
    expect(src.maxEnd).toBeLessThanOrEqual(Math.min(f.length, 2 * h.headerEnd));
  });

  it('says why a version is refused', () => {
    const f = build(genModel(4)).bytes;
    const withVersion = (v: number[]) => {
      const b = f.slice();
      b.set(v, 4);
      return b;
    };
    expect(() => parseGgufBytes(withVersion([0, 0, 0, 3]), 'be.gguf')).toThrow('be.gguf: version = 50331648: big-endian GGUF is not supported');
    expect(() => parseGgufBytes(withVersion([1, 0, 0, 0]), 'v1.gguf')).toThrow('GGUF v1');
  });

  it('streams with any first-read size', async () => {
    const f = build(genModel(8));
    const h = parseGgufBytes(f.bytes);
    for (const initialReadBytes of [NaN, -5, 0, 1, 63, 64, 1e9, Infinity]) {
      expect(await readGgufHeader(memorySource(f.bytes), { name: '<memory>', initialReadBytes })).toEqual(h);
    }
  });

  it('refuses a byte source that reports a bad size or reads short', async () => {
    const f = build(genModel(3));
    await expect(readGgufHeader({ size: -1, read: () => Promise.resolve(new Uint8Array()) })).rejects.toMatchObject({
      code: 'GGUF_BAD_SOURCE',
    });
    const short = { size: f.bytes.length, read: (o: number, n: number) => Promise.resolve(f.bytes.slice(o, o + n - 1)) };
    await expect(readGgufHeader(short, { name: 'short.gguf' })).rejects.toMatchObject({ code: 'GGUF_BAD_SOURCE' });
    await expect(readGgufHeader(memorySource(f.bytes))).resolves.toMatchObject({ version: 3 });
  });
});

describe('typed getters', () => {
  const h = parseGgufBytes(build(genModel(5, { alignment: true })).bytes, 'getters.gguf');

  it('return values of the expected type', () => {
    expect(getString(h, 'general.architecture')).toBe('llama');
    expect(typeof getU32(h, 'test.dup.a')).toBe('number');
    expect(typeof getBool(h, 'test.bool')).toBe('boolean');
    expect(typeof getU64(h, 'test.u64')).toBe('bigint');
    expect(getI32(h, 'test.i32')).toBe(h.metadata.get('test.i32')!.value);
    expect(getArray(h, 'tokenizer.ggml.scores', 'float32')).toBeInstanceOf(Float32Array);
    expect(getArray(h, 'test.u64s', 'uint64')).toBeInstanceOf(BigUint64Array);
  });

  it('use a fallback only when the key is absent', () => {
    expect(getU32(h, 'no.such.key', 7)).toBe(7);
    expect(getString(h, 'no.such.key', 'd')).toBe('d');
    expect(getArray(h, 'no.such.key', 'int32', Int32Array.of(1))).toEqual(Int32Array.of(1));
    expect(codeOf(() => getU32(h, 'general.architecture', 7))).toBe('GGUF_WRONG_TYPE');
  });

  it('refuse missing keys and wrong types, naming the file, key and type found', () => {
    expect(codeOf(() => getU32(h, 'no.such.key'))).toBe('GGUF_MISSING_KEY');
    expect(codeOf(() => getU32(h, 'test.u16'))).toBe('GGUF_WRONG_TYPE');
    expect(codeOf(() => getU32(h, 'test.u64'))).toBe('GGUF_WRONG_TYPE');
    expect(codeOf(() => getString(h, 'test.bools'))).toBe('GGUF_WRONG_TYPE');
    expect(() => getArray(h, 'tokenizer.ggml.scores', 'int8')).toThrow(
      'getters.gguf: kv["tokenizer.ggml.scores"] = "array of float32": expected an array of int8',
    );
    expect(codeOf(() => getArray(h, 'test.bool', 'bool'))).toBe('GGUF_WRONG_TYPE');
  });
});

describe('writer refusals', () => {
  const one = (v: GgufValue) => new Map([['k', v]]);
  const f32 = { name: 't', dims: [4], type: GgmlType.F32 };
  const cases: [string, () => unknown, string][] = [
    ['u8 out of range', () => layoutGguf(one(gv.u8(256)), []), 'GGUF_BAD_VALUE'],
    ['u32 negative', () => layoutGguf(one(gv.u32(-1)), []), 'GGUF_BAD_VALUE'],
    ['i32 fractional', () => layoutGguf(one(gv.i32(1.5)), []), 'GGUF_BAD_VALUE'],
    ['u64 as number', () => layoutGguf(one({ type: 'uint64', value: 5 as unknown as bigint }), []), 'GGUF_BAD_VALUE'],
    ['i64 too big', () => layoutGguf(one(gv.i64(1n << 63n)), []), 'GGUF_BAD_VALUE'],
    ['bool not boolean', () => layoutGguf(one({ type: 'bool', value: 1 as unknown as boolean }), []), 'GGUF_BAD_VALUE'],
    ['unknown value type', () => layoutGguf(one({ type: 'uint128', value: 1 } as unknown as GgufValue), []), 'GGUF_BAD_VALUE_TYPE'],
    ['wrong array container', () => layoutGguf(one(gv.array('float32', [1, 2] as unknown as Float32Array)), []), 'GGUF_BAD_VALUE'],
    ['bool array element', () => layoutGguf(one(gv.array('bool', [true, 0 as unknown as boolean])), []), 'GGUF_BAD_VALUE'],
    ['lone surrogate', () => layoutGguf(one(gv.str('a\uD800b')), []), 'GGUF_BAD_UTF8'],
    ['duplicate key', () => layoutGguf([['a', gv.u8(1)], ['a', gv.u8(2)]], []), 'GGUF_DUPLICATE_KEY'],
    ['duplicate tensor', () => layoutGguf(new Map(), [f32, f32]), 'GGUF_DUPLICATE_TENSOR'],
    ['tensor name too long', () => layoutGguf(new Map(), [{ ...f32, name: 'n'.repeat(64) }]), 'GGUF_STRING_TOO_LONG'],
    ['zero dim', () => layoutGguf(new Map(), [{ ...f32, dims: [4, 0] }]), 'GGUF_BAD_DIM'],
    ['five dims', () => layoutGguf(new Map(), [{ ...f32, dims: [1, 1, 1, 1, 1] }]), 'GGUF_BAD_NDIMS'],
    ['unknown type', () => layoutGguf(new Map(), [{ ...f32, type: 31 }]), 'GGUF_UNKNOWN_TYPE'],
    ['row not a multiple of block', () => layoutGguf(new Map(), [{ ...f32, type: GgmlType.Q4_K }]), 'GGUF_BAD_ROW'],
    ['alignment not power of two', () => layoutGguf(new Map([['general.alignment', gv.u32(24)]]), []), 'GGUF_BAD_ALIGNMENT'],
    ['alignment wrong type', () => layoutGguf(new Map([['general.alignment', gv.u64(32n)]]), []), 'GGUF_BAD_ALIGNMENT'],
    ['data length mismatch', () => writeGgufBytes(new Map(), [{ ...f32, data: new Uint8Array(15) }]), 'GGUF_BAD_VALUE'],
    ['version 4', () => layoutGguf(new Map(), [], { version: 4 as 3 }), 'GGUF_BAD_VERSION'],
    ['too deep', () => layoutGguf(one(gv.array('array', [{ itemType: 'array', items: [] }])), [], { limits: { maxArrayDepth: 1 } }), 'GGUF_ARRAY_TOO_DEEP'],
    ['header over cap', () => layoutGguf(one(gv.str('x'.repeat(100))), [], { limits: { maxHeaderBytes: 64 } }), 'GGUF_HEADER_TOO_LARGE'],
  ];
  for (const [name, f, code] of cases) {
    it(name, () => expect(codeOf(f)).toBe(code));
  }
});
