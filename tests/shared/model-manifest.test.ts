import { describe, expect, it } from 'vitest';
import { layoutGguf } from '../../shared/gguf/writer';
import { gv } from '../../shared/gguf/values';
import { fromBase64, toBase64 } from '../../shared/model/base64';
import { ModelError } from '../../shared/model/errors';
import { parseManifest, type ModelManifest } from '../../shared/model/manifest';
import { decodeMetadata, encodeMetadata } from '../../shared/model/metadata-json';
import { genModel, rng } from './gguf-gen';

const sha = (c: string): string => c.repeat(64);

/** A small valid manifest: two F32 tensors, 32-byte alignment, zero padding. */
function manifest(): ModelManifest {
  const meta = new Map([
    ['general.architecture', gv.str('llama')],
    ['llama.block_count', gv.u32(1)],
  ]);
  const layout = layoutGguf(meta, [
    { name: 'a', dims: [10], type: 0 },
    { name: 'b', dims: [4, 2], type: 0 },
  ]);
  return {
    format: 'pxi-llm',
    formatVersion: 1,
    id: 'tiny-0a1b2c3d',
    name: 'tiny',
    createdAt: '2026-01-01T00:00:00.000Z',
    producer: 'test',
    source: { fileName: 'tiny.gguf', size: layout.fileSize, sha256: sha('a') },
    gguf: { version: 3, alignment: 32, headerEnd: layout.headerEnd, dataOffset: layout.dataOffset, tensorCount: 2, kvCount: 2 },
    storage: { tileWidth: 4, tileHeight: 4, tileBytes: 64, level: 0 },
    header: { name: 'models/tiny-0a1b2c3d/header', size: layout.dataOffset, sha256: sha('b') },
    padding: { bytes: layout.fileSize - layout.dataOffset - 40 - 32, allZero: true, file: null },
    tensors: layout.tensors.map((t, i) => ({
      index: i,
      name: t.name,
      type: 'F32' as const,
      typeId: 0,
      dims: [...t.dims],
      elements: t.elementCount,
      offset: t.offset,
      bytes: t.byteSize,
      file: `models/tiny-0a1b2c3d/tensors/${i}`,
      sha256: sha('c'),
    })),
    metadata: encodeMetadata(meta),
    config: {
      architecture: 'llama',
      name: null,
      blockCount: 1,
      embeddingLength: 4,
      headCount: 1,
      headCountKv: 1,
      headDim: 4,
      feedForwardLength: 4,
      vocabSize: 2,
      contextLength: 8,
      ropeTheta: 10000,
      ropeType: 'normal',
      ropeDimensionCount: 4,
      rmsEps: 1e-5,
      tiedOutput: true,
      qkvBias: false,
      parameterCount: 18,
    },
    map: null,
  };
}

describe('GGUF metadata as JSON', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('keeps every value type exactly (seed %i): the header rebuilds byte for byte', (seed) => {
    const m = genModel(seed);
    const original = layoutGguf(m.metadata, m.tensors).header;
    const json = JSON.parse(JSON.stringify(encodeMetadata(m.metadata))) as unknown;
    const back = decodeMetadata(json, 'm.json');
    expect([...back.keys()]).toEqual([...m.metadata.keys()]);
    const rebuilt = layoutGguf(back, m.tensors).header;
    expect(Buffer.compare(Buffer.from(rebuilt), Buffer.from(original))).toBe(0);
  });

  it('writes 64-bit integers as decimal strings, special floats as strings, numeric arrays as base64', () => {
    const meta = new Map([
      ['u64', gv.u64(18446744073709551615n)],
      ['i64', gv.i64(-9223372036854775808n)],
      ['nan', gv.f32(NaN)],
      ['negzero', gv.f64(-0)],
      ['inf', gv.f64(-Infinity)],
      ['f', gv.f32(Math.fround(0.1))],
      ['arr', gv.array('float32', Float32Array.of(1.5, -2))],
      ['bools', gv.array('bool', [true, false])],
    ]);
    const enc = encodeMetadata(meta);
    expect(enc).toEqual([
      { key: 'u64', type: 'uint64', value: '18446744073709551615' },
      { key: 'i64', type: 'int64', value: '-9223372036854775808' },
      { key: 'nan', type: 'float32', value: 'NaN' },
      { key: 'negzero', type: 'float64', value: '-0' },
      { key: 'inf', type: 'float64', value: '-Infinity' },
      { key: 'f', type: 'float32', value: Math.fround(0.1) },
      { key: 'arr', type: 'array', value: { itemType: 'float32', count: 2, base64: 'AADAPwAAAMA=' } },
      { key: 'bools', type: 'array', value: { itemType: 'bool', items: [true, false] } },
    ]);
    const back = decodeMetadata(JSON.parse(JSON.stringify(enc)), 'x');
    expect(Object.is(back.get('negzero')!.value, -0)).toBe(true);
    expect(Number.isNaN(back.get('nan')!.value as number)).toBe(true);
    expect(back.get('u64')!.value).toBe(18446744073709551615n);
  });

  it.each([
    [[{ key: 'a', type: 'uint8', value: 256 }], 'metadata["a"]', '256'],
    [[{ key: 'a', type: 'uint64', value: 1 }], 'metadata["a"]', '1'],
    [[{ key: 'a', type: 'int64', value: '9223372036854775808' }], 'metadata["a"]', '"9223372036854775808"'],
    [[{ key: 'a', type: 'float32', value: 'nan' }], 'metadata["a"]', '"nan"'],
    [[{ key: 'a', type: 'array', value: { itemType: 'int32', count: 2, base64: 'AAAA' } }], 'metadata["a"].count', '2'],
    [[{ key: 'a', type: 'array', value: { itemType: 'int32', count: 1, base64: 'AAAB' } }], 'metadata["a"].count', '1'],
    [[{ key: 'a', type: 'array', value: { itemType: 'int32', count: 1, base64: 'AA==' } }], 'metadata["a"].count', '1'],
    [[{ key: 'a', type: 'array', value: { itemType: 'uint8', count: 1, base64: 'AB==' } }], 'metadata["a"].base64', '"AB=="'],
    [[{ key: 'a', type: 'array', value: { itemType: 'string', items: ['x', 3] } }], 'metadata["a"][1]', '"number"'],
    [[{ key: 'a', type: 'blob', value: 1 }], 'metadata["a"].type', '"blob"'],
    [
      [
        { key: 'a', type: 'bool', value: true },
        { key: 'a', type: 'bool', value: true },
      ],
      'metadata[1].key',
      '"a"',
    ],
  ] as const)('refuses a bad entry %#, naming the field and value', (entries, field, value) => {
    let err: unknown;
    try {
      decodeMetadata(entries, 'bad.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe('MANIFEST_INVALID');
    expect((err as ModelError).field).toBe(field);
    expect((err as ModelError).details?.value).toBe(value);
  });

  it('base64 round-trips random bytes of every length and refuses non-canonical text', () => {
    const r = rng(9);
    for (let n = 0; n < 40; n++) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
      const s = toBase64(b);
      expect(s).toBe(Buffer.from(b).toString('base64'));
      expect(Buffer.compare(Buffer.from(fromBase64(s)!), Buffer.from(b))).toBe(0);
    }
    for (const bad of ['A', 'AB=', 'A===', 'AB=C', '@@@@', 'AQ=x', 'AR==']) expect(fromBase64(bad), bad).toBeUndefined();
  });
});

describe('manifest validation', () => {
  it('accepts a valid manifest', () => {
    const m = manifest();
    expect(parseManifest(JSON.parse(JSON.stringify(m)), 'm.json')).toEqual(m);
  });

  it.each([
    ['a newer format version', (m: Record<string, unknown>) => (m.formatVersion = 2), 'MANIFEST_VERSION', 'formatVersion'],
    ['an unknown field', (m: Record<string, unknown>) => (m.extra = 1), 'MANIFEST_INVALID', '(root)'],
    ['a bad sha256', (m: ModelManifest) => ((m.source as { sha256: string }).sha256 = 'xyz'), 'MANIFEST_INVALID', 'source.sha256'],
    ['a tensor at the wrong offset', (m: ModelManifest) => ((m.tensors[1] as { offset: number }).offset += 32), 'MANIFEST_INVALID', 'tensors[1].offset'],
    ['a byte size that does not match the dims', (m: ModelManifest) => ((m.tensors[0] as { bytes: number }).bytes = 44), 'MANIFEST_INVALID', 'tensors[0].bytes'],
    ['a type name and id that disagree', (m: ModelManifest) => ((m.tensors[0] as { typeId: number }).typeId = 1), 'MANIFEST_INVALID', 'tensors[0].typeId'],
    ['padding that does not add up', (m: ModelManifest) => ((m.padding as { bytes: number }).bytes += 1), 'MANIFEST_INVALID', 'padding.bytes'],
    ['a kv count that disagrees', (m: ModelManifest) => ((m.gguf as { kvCount: number }).kvCount = 3), 'MANIFEST_INVALID', 'gguf.kvCount'],
    ['a bad metadata entry', (m: ModelManifest) => ((m.metadata as unknown[])[1] = { key: 'x', type: 'uint32', value: -1 }), 'MANIFEST_INVALID', 'metadata["x"]'],
    ['a model id with a slash', (m: ModelManifest) => ((m as { id: string }).id = 'a/b'), 'MANIFEST_INVALID', 'id'],
  ] as const)('refuses %s', (_label, edit, code, field) => {
    const m = JSON.parse(JSON.stringify(manifest())) as ModelManifest & Record<string, unknown>;
    (edit as (m: ModelManifest & Record<string, unknown>) => void)(m);
    let err: unknown;
    try {
      parseManifest(m, 'm.json');
    } catch (e) {
      err = e;
    }
    expect(err, _label).toBeInstanceOf(ModelError);
    expect((err as ModelError).code).toBe(code);
    expect((err as ModelError).field).toBe(field);
    expect((err as ModelError).message).toMatch(/^m\.json: /);
  });
});
