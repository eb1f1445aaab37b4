/**
 * The PXI-LLM v1 manifest: what a volume knows about one imported model (specs/pxi_llm.md §4).
 * It names every PixelFS file of the model with its size and sha256, keeps every GGUF metadata
 * entry with its exact type, the tensor table, the model configuration and the map placement.
 * `parseManifest` validates untrusted JSON against the schema and the layout rules (offsets,
 * sizes and padding add up to the source file), so a reader never trusts a field it did not check.
 */
import { z } from 'zod';
import { alignUpSafe } from '../binary/safe-int';
import { GgmlType, tensorByteSize, tensorElementCount, type GgmlTypeName } from '../gguf/ggml-types';
import { SUPPORTED_ARCHITECTURES, type ModelConfig } from './config';
import { ModelError } from './errors';
import { decodeMetadata, type MetaEntryJson } from './metadata-json';

export const PXI_LLM_FORMAT = 'pxi-llm';
export const PXI_LLM_VERSION = 1;

/** One PixelFS file of the model. */
export interface StoredFile {
  /** PixelFS file name inside the volume. */
  readonly name: string;
  readonly size: number;
  /** sha256 (hex) of the file's bytes. */
  readonly sha256: string;
}

export interface ManifestTensor {
  /** Position in the GGUF tensor table (0-based); the PixelFS file is `models/<id>/tensors/<index>`. */
  readonly index: number;
  readonly name: string;
  readonly type: GgmlTypeName;
  readonly typeId: number;
  /** ggml order: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly elements: number;
  /** Absolute offset of the tensor's first byte in the GGUF file. */
  readonly offset: number;
  readonly bytes: number;
  readonly file: string;
  readonly sha256: string;
}

/** A rectangle of the model's map placement (map pixels; half-open [x, x+width) x [y, y+height)). */
export interface MapRegionRef {
  /** Tensor name for `weights`; a label (activations, kv-cache, kv-reserve) for reserved room. */
  readonly name: string;
  readonly kind: 'weights' | 'activations' | 'kv-cache' | 'free';
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** The tile grid anchored at (x, y): PixelFS tile i of the tensor's file is cell (i mod cols, i div cols). */
  readonly cols: number;
  readonly rows: number;
  /** Stored tiles (0 for reserved room). */
  readonly tiles: number;
}

/** Where the model sits on the Infinite Map (specs/map.md): the placement computed at import. */
export interface MapPlacement {
  /** The placement rules, e.g. `columns-by-block/1` (specs/map.md, "Placement"). */
  readonly strategy: string;
  /** One tile covers tileWidth x tileHeight map pixels. */
  readonly tileWidth: number;
  readonly tileHeight: number;
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** Weights in execution order, then the reserved bands. */
  readonly regions: readonly MapRegionRef[];
}

export interface ModelManifest {
  readonly format: typeof PXI_LLM_FORMAT;
  readonly formatVersion: typeof PXI_LLM_VERSION;
  readonly id: string;
  readonly name: string;
  /** ISO 8601 UTC. */
  readonly createdAt: string;
  /** The program that wrote it, e.g. `pixel-llm 0.1.0`. */
  readonly producer: string;
  readonly source: { readonly fileName: string; readonly size: number; readonly sha256: string };
  readonly gguf: {
    readonly version: 2 | 3;
    readonly alignment: number;
    readonly headerEnd: number;
    readonly dataOffset: number;
    readonly tensorCount: number;
    readonly kvCount: number;
  };
  /** PixelFS geometry the files were written with: byte i of a file is in tile floor(i / tileBytes). */
  readonly storage: { readonly tileWidth: number; readonly tileHeight: number; readonly tileBytes: number; readonly level: number };
  /** GGUF bytes [0, dataOffset) verbatim (header and its alignment padding). */
  readonly header: StoredFile;
  /**
   * The bytes after each tensor up to the next tensor (or the end of the file), concatenated in
   * file order. When they are all zero (what ggml writes) no file is stored.
   */
  readonly padding: { readonly bytes: number; readonly allZero: boolean; readonly file: StoredFile | null };
  readonly tensors: readonly ManifestTensor[];
  readonly metadata: readonly MetaEntryJson[];
  /**
   * The configuration of a model of a family we run; null for any other GGUF, which is stored
   * and explored all the same (the engine says why it cannot run it: shared/engine/support.ts).
   */
  readonly config: ModelConfig | null;
  readonly map: MapPlacement | null;
}

/** PixelFS file names of a model. */
export const modelPaths = {
  prefix: (id: string): string => `models/${id}/`,
  header: (id: string): string => `models/${id}/header`,
  padding: (id: string): string => `models/${id}/padding`,
  manifest: (id: string): string => `models/${id}/manifest.json`,
  tensor: (id: string, index: number): string => `models/${id}/tensors/${index}`,
};

/** Model ids: lowercase letters, digits and dashes, so they are safe in paths and on the command line. */
export const MODEL_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

// ---------------------------------------------------------------------------------------------
// Schema

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const sha = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const storedFile = z.strictObject({ name: z.string().min(1), size: uint, sha256: sha });
const typeNames = Object.keys(GgmlType) as [GgmlTypeName, ...GgmlTypeName[]];

const configSchema = z.strictObject({
  architecture: z.enum(SUPPORTED_ARCHITECTURES),
  name: z.string().nullable(),
  blockCount: uint.min(1),
  embeddingLength: uint.min(1),
  headCount: uint.min(1),
  headCountKv: uint.min(1),
  headDim: uint.min(1),
  feedForwardLength: uint.min(1),
  vocabSize: uint.min(1),
  contextLength: uint.min(1),
  ropeTheta: z.number().positive(),
  ropeType: z.enum(['normal', 'neox']),
  ropeDimensionCount: uint.min(2),
  rmsEps: z.number().positive().lt(1),
  tiedOutput: z.boolean(),
  qkvBias: z.boolean(),
  parameterCount: uint,
});

const manifestSchema = z.strictObject({
  format: z.literal(PXI_LLM_FORMAT),
  formatVersion: z.literal(PXI_LLM_VERSION),
  id: z.string().regex(MODEL_ID),
  name: z.string().min(1).max(256),
  createdAt: z.string().min(1),
  producer: z.string(),
  source: z.strictObject({ fileName: z.string(), size: uint, sha256: sha }),
  gguf: z.strictObject({
    version: z.union([z.literal(2), z.literal(3)]),
    alignment: uint.min(1).max(65536),
    headerEnd: uint,
    dataOffset: uint,
    tensorCount: uint,
    kvCount: uint,
  }),
  storage: z.strictObject({ tileWidth: uint.min(1), tileHeight: uint.min(1), tileBytes: uint.min(4), level: uint.max(9) }),
  header: storedFile,
  padding: z.strictObject({ bytes: uint, allZero: z.boolean(), file: storedFile.nullable() }),
  tensors: z.array(
    z.strictObject({
      index: uint,
      name: z.string().min(1),
      type: z.enum(typeNames),
      typeId: uint,
      dims: z.array(uint.min(1)).min(1).max(4),
      elements: uint,
      offset: uint,
      bytes: uint,
      file: z.string().min(1),
      sha256: sha,
    }),
  ),
  metadata: z.array(z.unknown()),
  config: configSchema.nullable(),
  map: z
    .strictObject({
      strategy: z.string(),
      tileWidth: uint.min(1),
      tileHeight: uint.min(1),
      box: z.strictObject({ x: z.number().int(), y: z.number().int(), width: uint, height: uint }),
      regions: z.array(
        z.strictObject({
          name: z.string(),
          kind: z.enum(['weights', 'activations', 'kv-cache', 'free']),
          x: z.number().int(),
          y: z.number().int(),
          width: uint,
          height: uint,
          cols: uint,
          rows: uint,
          tiles: uint,
        }),
      ),
    })
    .nullable(),
});

function fieldPath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s || '(root)';
}

/**
 * Validates a manifest (already JSON-parsed): schema, format version, the tensor table against
 * the GGUF layout rules, and every metadata entry. `file` names it in errors.
 */
export function parseManifest(json: unknown, file: string): ModelManifest {
  const fv = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof fv === 'number' && fv > PXI_LLM_VERSION) {
    throw new ModelError('MANIFEST_VERSION', { file, field: 'formatVersion' }, fv, `this reader knows PXI-LLM up to version ${PXI_LLM_VERSION}`);
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    let value: unknown = json;
    for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p];
    throw new ModelError('MANIFEST_INVALID', { file, field: fieldPath(issue.path) }, typeof value === 'object' ? JSON.stringify(value)?.slice(0, 80) : value, issue.message);
  }
  const m = r.data as ModelManifest;
  checkLayout(m, file);
  decodeMetadata(m.metadata, file); // throws on any bad entry
  return m;
}

/** The arithmetic a reader relies on: offsets, sizes and padding add up to the source file. */
function checkLayout(m: ModelManifest, file: string): void {
  const bad = (field: string, value: unknown, what: string): never => {
    throw new ModelError('MANIFEST_INVALID', { file, field }, value, what);
  };
  const { gguf } = m;
  if ((gguf.alignment & (gguf.alignment - 1)) !== 0) bad('gguf.alignment', gguf.alignment, 'must be a power of two');
  if (gguf.tensorCount !== m.tensors.length) bad('gguf.tensorCount', gguf.tensorCount, `the tensor table has ${m.tensors.length} entries`);
  if (gguf.kvCount !== m.metadata.length) bad('gguf.kvCount', gguf.kvCount, `the metadata has ${m.metadata.length} entries`);
  if (gguf.dataOffset !== alignUpSafe(gguf.headerEnd, gguf.alignment)) bad('gguf.dataOffset', gguf.dataOffset, `must be headerEnd (${gguf.headerEnd}) rounded up to the alignment`);
  if (m.storage.tileBytes !== m.storage.tileWidth * m.storage.tileHeight * 4) bad('storage.tileBytes', m.storage.tileBytes, 'must be tileWidth x tileHeight x 4');
  if (m.header.size !== Math.min(gguf.dataOffset, m.source.size)) bad('header.size', m.header.size, `must be the data offset ${gguf.dataOffset}`);
  let expected = gguf.dataOffset;
  let tensorBytes = 0;
  const names = new Set<string>();
  m.tensors.forEach((t, i) => {
    const f = `tensors[${i}]`;
    if (t.index !== i) bad(`${f}.index`, t.index, `must be ${i}`);
    if (names.has(t.name)) bad(`${f}.name`, t.name, 'duplicate tensor name');
    names.add(t.name);
    if (GgmlType[t.type] !== t.typeId) bad(`${f}.typeId`, t.typeId, `${t.type} has id ${GgmlType[t.type]}`);
    const where = { file, field: f };
    let bytes: number;
    try {
      bytes = tensorByteSize(t.typeId, t.dims, where);
      if (tensorElementCount(t.dims, where) !== t.elements) bad(`${f}.elements`, t.elements, 'does not match the dims');
    } catch (e) {
      if (e instanceof ModelError) throw e;
      return bad(`${f}.dims`, `[${t.dims.join(', ')}]`, (e as Error).message);
    }
    if (bytes !== t.bytes) bad(`${f}.bytes`, t.bytes, `a ${t.type} tensor of these dims has ${bytes} bytes`);
    if (t.offset !== expected) bad(`${f}.offset`, t.offset, `must be ${expected} (tensors back to back, each aligned)`);
    const next = alignUpSafe(t.offset + t.bytes, gguf.alignment);
    if (next === undefined) return bad(`${f}.bytes`, t.bytes, 'offset overflow');
    expected = next;
    tensorBytes += t.bytes;
  });
  if (m.tensors.length > 0 && m.source.size < m.tensors[m.tensors.length - 1]!.offset + m.tensors[m.tensors.length - 1]!.bytes) {
    bad('source.size', m.source.size, 'the last tensor ends past the end of the file');
  }
  const dataBytes = m.tensors.length > 0 ? m.source.size - gguf.dataOffset : 0;
  if (m.padding.bytes !== dataBytes - tensorBytes) bad('padding.bytes', m.padding.bytes, `must be ${dataBytes - tensorBytes} (file size minus header minus tensors)`);
  if (m.padding.allZero !== (m.padding.file === null)) bad('padding.file', m.padding.file?.name ?? null, 'present exactly when the padding is not all zero');
  if (m.padding.file && m.padding.file.size !== m.padding.bytes) bad('padding.file.size', m.padding.file.size, `must be ${m.padding.bytes}`);
  if (m.map) {
    if (m.map.tileWidth !== m.storage.tileWidth || m.map.tileHeight !== m.storage.tileHeight) {
      bad('map.tileWidth', m.map.tileWidth, `map tiles must be the storage tiles (${m.storage.tileWidth}x${m.storage.tileHeight})`);
    }
    const weights = new Map(m.map.regions.filter((r) => r.kind === 'weights').map((r) => [r.name, r] as const));
    m.tensors.forEach((t, i) => {
      const r = weights.get(t.name);
      const tiles = Math.ceil(t.bytes / m.storage.tileBytes);
      if (!r) return bad(`map.regions`, t.name, `tensor[${i}] has no weights region`);
      if (r.tiles !== tiles || r.cols * r.rows < tiles) bad(`map.regions[${JSON.stringify(t.name)}].tiles`, r.tiles, `the tensor has ${tiles} tiles`);
    });
    if (weights.size !== m.tensors.length) bad('map.regions', weights.size, `expected one weights region per tensor (${m.tensors.length})`);
  }
}

/** Where each padding segment goes: after tensor i, `gapAfter[i]` bytes (up to the next tensor or the end). */
export function paddingSegments(m: Pick<ModelManifest, 'tensors' | 'source'>): number[] {
  return m.tensors.map((t, i) => {
    const end = i + 1 < m.tensors.length ? m.tensors[i + 1]!.offset : m.source.size;
    return end - (t.offset + t.bytes);
  });
}
