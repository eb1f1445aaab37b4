/**
 * Seeded generators for GGUF tests: a small valid model exercising every metadata value type
 * and several tensor types, a byte source that records what was asked of it, and byte patch
 * helpers. Every file is built by the project's own writer.
 */
import type { ByteSource } from '../../shared/binary/byte-source';
import { GgmlType, ggmlType, type GgmlTypeId } from '../../shared/gguf/ggml-types';
import { gv, type GgufArray, type GgufValue } from '../../shared/gguf/values';
import { layoutGguf, writeGgufBytes, type GgufLayout, type GgufTensorSpec } from '../../shared/gguf/writer';
import { createRng as rng } from '../../shared/engine/sampling';

// The project's one seeded PRNG (mulberry32) drives reproducible test data too.
export { rng };

export const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomBytes(r: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

function randomBig(r: () => number, bits: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(Math.floor(r() * 65536));
  v &= (1n << BigInt(bits)) - 1n;
  return signed ? BigInt.asIntN(bits, v) : v;
}

const WORDS = ['▁the', '<0x0A>', 'héllo', '日本', '🙂', '\uFEFFbom', '', 'a b', '"q"', 'Ġworld', '<|im_end|>'];

function randomString(r: () => number): string {
  const n = int(r, 0, 3);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, WORDS);
  return s;
}

function randomArray(r: () => number, depth: number): GgufArray {
  const n = int(r, 0, 6);
  const kinds = depth < 2 ? ARRAY_KINDS : ARRAY_KINDS.filter((k) => k !== 'array');
  const kind = pick(r, kinds);
  switch (kind) {
    case 'uint8':
      return { itemType: kind, items: randomBytes(r, n) };
    case 'int8':
      return { itemType: kind, items: Int8Array.from(randomBytes(r, n), (b) => (b << 24) >> 24) };
    case 'uint16':
      return { itemType: kind, items: Uint16Array.from({ length: n }, () => int(r, 0, 0xffff)) };
    case 'int16':
      return { itemType: kind, items: Int16Array.from({ length: n }, () => int(r, -0x8000, 0x7fff)) };
    case 'uint32':
      return { itemType: kind, items: Uint32Array.from({ length: n }, () => int(r, 0, 0xffffffff)) };
    case 'int32':
      return { itemType: kind, items: Int32Array.from({ length: n }, () => int(r, -0x80000000, 0x7fffffff)) };
    case 'float32':
      return { itemType: kind, items: Float32Array.from({ length: n }, () => (r() - 0.5) * 1e6) };
    case 'float64':
      return { itemType: kind, items: Float64Array.from({ length: n }, () => (r() - 0.5) * 1e300) };
    case 'uint64':
      return { itemType: kind, items: BigUint64Array.from({ length: n }, () => randomBig(r, 64, false)) };
    case 'int64':
      return { itemType: kind, items: BigInt64Array.from({ length: n }, () => randomBig(r, 64, true)) };
    case 'bool':
      return { itemType: kind, items: Array.from({ length: n }, () => r() < 0.5) };
    case 'string':
      return { itemType: kind, items: Array.from({ length: n }, () => randomString(r)) };
    case 'array':
      return { itemType: kind, items: Array.from({ length: n }, () => randomArray(r, depth + 1)) };
  }
}

const ARRAY_KINDS = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'float64',
  'uint64',
  'int64',
  'bool',
  'string',
  'array',
] as const;

const EXTRA_TYPES: readonly GgmlTypeId[] = [
  GgmlType.F32,
  GgmlType.F16,
  GgmlType.BF16,
  GgmlType.Q4_0,
  GgmlType.Q8_0,
  GgmlType.Q4_K,
  GgmlType.Q6_K,
  GgmlType.IQ4_XS,
  GgmlType.I8,
  GgmlType.F64,
  GgmlType.MXFP4,
  GgmlType.TQ1_0,
];

export interface GenModel {
  readonly metadata: Map<string, GgufValue>;
  readonly tensors: (GgufTensorSpec & { data: Uint8Array })[];
}

export interface GenOptions {
  /** Add a general.alignment key (random power of two 8..64); otherwise the default 32 applies. */
  readonly alignment?: boolean;
}

/**
 * A valid model with fixed anchors the malformed-file matrix relies on:
 * - keys `test.dup.a` / `test.dup.b` (same length), `test.bool`, `test.string` (non-empty),
 *   `test.bools` (bool array), `test.u64s` (uint64 array), `tokenizer.ggml.scores` (float32
 *   array), `general.alignment` when asked;
 * - tensor[0]: F32 2-D with a row length not a multiple of 256; tensor[1]: Q8_0 2-D;
 *   tensor names `blk.<i>.w` (same length for i < 10); at least 3 tensors.
 */
export function genModel(seed: number, opts: GenOptions = {}): GenModel {
  const r = rng(seed);
  const m = new Map<string, GgufValue>();
  m.set('general.architecture', gv.str('llama'));
  if (opts.alignment ?? r() < 0.5) m.set('general.alignment', gv.u32(pick(r, [8, 16, 32, 64])));
  m.set('test.dup.a', gv.u32(int(r, 0, 0xffffffff)));
  m.set('test.u8', gv.u8(int(r, 0, 255)));
  m.set('test.i8', gv.i8(int(r, -128, 127)));
  m.set('test.u16', gv.u16(int(r, 0, 0xffff)));
  m.set('test.i16', gv.i16(int(r, -0x8000, 0x7fff)));
  m.set('test.i32', gv.i32(int(r, -0x80000000, 0x7fffffff)));
  m.set('test.f32', gv.f32(Math.fround((r() - 0.5) * 1e3)));
  m.set('test.f32.special', gv.f32(pick(r, [Infinity, -Infinity, -0, Math.fround(1e-45)])));
  m.set('test.f64', gv.f64((r() - 0.5) * 1e300));
  m.set('test.u64', gv.u64(randomBig(r, 64, false)));
  m.set('test.i64', gv.i64(randomBig(r, 64, true)));
  m.set('test.bool', gv.bool(r() < 0.5));
  m.set('test.string', gv.str(`x${randomString(r)}`));
  m.set('test.dup.b', gv.str(randomString(r)));
  m.set('test.bools', gv.array('bool', Array.from({ length: int(r, 1, 9) }, () => r() < 0.5)));
  m.set('test.u64s', gv.array('uint64', BigUint64Array.from({ length: int(r, 1, 5) }, () => randomBig(r, 64, false))));
  m.set('test.nested', gv.array('array', [randomArray(r, 2), randomArray(r, 2)]));
  for (let i = int(r, 0, 4); i > 0; i--) m.set(`test.random.${i}`, { type: 'array', value: randomArray(r, 1) });
  const vocab = int(r, 4, 40);
  m.set('tokenizer.ggml.tokens', gv.array('string', Array.from({ length: vocab }, (_, i) => `${i}${randomString(r)}`)));
  m.set('tokenizer.ggml.scores', gv.array('float32', Float32Array.from({ length: vocab }, () => -r() * 20)));

  const tensors: GenModel['tensors'] = [];
  const add = (type: GgmlTypeId, dims: number[]) => {
    const t = ggmlType(type);
    const byteSize = (dims.reduce((a, b) => a * b, 1) / t.blockSize) * t.blockBytes;
    tensors.push({ name: `blk.${tensors.length}.w`, type, dims, data: randomBytes(r, byteSize) });
  };
  add(GgmlType.F32, [pick(r, [8, 16, 24, 40]), int(r, 1, 4)]);
  add(GgmlType.Q8_0, [32 * int(r, 1, 3), int(r, 1, 3)]);
  for (let i = int(r, 1, 4); i > 0; i--) {
    const type = pick(r, EXTRA_TYPES);
    const block = ggmlType(type).blockSize;
    const nd = int(r, 1, 4);
    const dims = [block * int(r, 1, 3)];
    for (let d = 1; d < nd; d++) dims.push(int(r, 1, 3));
    add(type, dims);
  }
  return { metadata: m, tensors };
}

export interface BuiltFile {
  readonly model: GenModel;
  readonly layout: GgufLayout;
  readonly bytes: Uint8Array;
}

export function build(model: GenModel, version: 2 | 3 = 3): BuiltFile {
  const layout = layoutGguf(model.metadata, model.tensors, { version });
  const bytes = writeGgufBytes(model.metadata, model.tensors, { version });
  return { model, layout, bytes };
}

/** Offset of a named header field, failing loudly if the writer did not record it. */
export function fieldAt(f: BuiltFile, field: string): number {
  const at = f.layout.fieldOffsets.get(field);
  if (at === undefined) throw new Error(`test setup: no field ${field} in the generated file`);
  return at;
}

export function patchU32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(at, v >>> 0, true);
  return out;
}

export function patchU64(bytes: Uint8Array, at: number, v: bigint | number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
  return out;
}

export function readU64(bytes: Uint8Array, at: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at, true);
}

/** A ByteSource that records every request, to assert how far a parser read. */
export class CountingSource implements ByteSource {
  readonly requests: { offset: number; length: number }[] = [];
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  get maxEnd(): number {
    return Math.max(0, ...this.requests.map((q) => q.offset + q.length));
  }
  get totalRequested(): number {
    return this.requests.reduce((a, q) => a + q.length, 0);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.requests.push({ offset, length });
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      return Promise.reject(new Error(`CountingSource: read past size (${offset}+${length} > ${this.bytes.length})`));
    }
    return Promise.resolve(this.bytes.slice(offset, offset + length));
  }
}
