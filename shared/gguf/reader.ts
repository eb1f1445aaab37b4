/**
 * GGUF v2/v3 header reader. It parses from a bounded prefix of the file that grows on demand
 * (never past the header cap) and never touches tensor data. Every field is checked before it
 * feeds any size arithmetic, following ggml's gguf.cpp; see specs/gguf.md for the rules.
 */
import { ByteRangeError, ByteReader } from '../binary/byte-reader';
import { readExact, type ByteSource } from '../binary/byte-source';
import { leCopy } from '../binary/endian';
import { alignUpSafe, MAX_SAFE_BIG } from '../binary/safe-int';
import { GgufError, kvField, type GgufWhere } from './errors';
import { findGgmlType, tensorByteSize, tensorElementCount, type GgmlTypeId } from './ggml-types';
import { alignmentOf, resolveLimits, type GgufLimits } from './limits';
import {
  FIXED_SIZE,
  ggufValueTypeName,
  numericItems,
  type GgufArray,
  type GgufMetadata,
  type GgufNumericType,
  type GgufValue,
  type GgufValueType,
} from './values';

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: `dims[0]` is the row length (fastest-varying). */
  readonly dims: readonly number[];
  readonly type: GgmlTypeId;
  readonly elementCount: number;
  readonly byteSize: number;
  /** Offset inside the data section, as stored in the file. */
  readonly relOffset: number;
  /** Absolute file offset of the first byte of the tensor's data. */
  readonly offset: number;
}

export interface GgufHeader {
  readonly file: string;
  readonly version: 2 | 3;
  readonly fileSize: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Offset just past the last tensor info. */
  readonly headerEnd: number;
  /** Absolute offset of the data section (`headerEnd` rounded up to `alignment`). */
  readonly dataOffset: number;
}

export interface GgufReadOptions {
  /** Names the file in errors (default `<memory>` / `<source>`). */
  readonly name?: string;
  readonly limits?: Partial<GgufLimits>;
  /** Size of the first prefix read by `readGgufHeader` (default 1 MiB, at least 64); it grows as needed. */
  readonly initialReadBytes?: number;
}

const MAGIC = [0x47, 0x47, 0x55, 0x46]; // "GGUF"
const MIN_KV_BYTES = 8 + 4 + 1; // empty key, type, smallest value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // empty name, n_dims, one dim, type, offset
const MIN_ARRAY_BYTES = 4 + 8;

/**
 * Reads and validates the header of a GGUF file through `src`, loading a prefix that starts at
 * `initialReadBytes` and grows (at least doubling) until the header fits or the cap is hit.
 */
export async function readGgufHeader(src: ByteSource, opts: GgufReadOptions = {}): Promise<GgufHeader> {
  const file = opts.name ?? '<source>';
  const lim = resolveLimits(opts.limits);
  const size = src.size;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new GgufError('GGUF_BAD_SOURCE', { file, field: 'size' }, size, 'the byte source reports an invalid size');
  }
  const cap = Math.min(size, lim.maxHeaderBytes);
  const want = Number.isNaN(opts.initialReadBytes) ? undefined : opts.initialReadBytes;
  const first = Math.min(cap, Math.max(64, Math.floor(want ?? 1 << 20)));
  let prefix = await fetch(src, 0, first, file);
  for (;;) {
    try {
      return parseHeader(prefix, size, file, lim);
    } catch (e) {
      if (!(e instanceof ByteRangeError)) throw e;
      const refusal = refusalFor(e, file, size, lim);
      if (refusal) throw refusal;
      // The needed end lies inside both the file and the cap: grow (at least double) and reparse.
      const next = Math.min(cap, Math.max(e.end, prefix.length * 2));
      if (!(next > prefix.length)) throw truncated(e, file, size); // no progress possible: never loop
      const more = await fetch(src, prefix.length, next - prefix.length, file);
      const grown = new Uint8Array(next);
      grown.set(prefix);
      grown.set(more, prefix.length);
      prefix = grown;
    }
  }
}

/** Parses the header of a whole file held in memory (same rules as `readGgufHeader`). */
export function parseGgufBytes(bytes: Uint8Array, name = '<memory>', opts: Omit<GgufReadOptions, 'name'> = {}): GgufHeader {
  const lim = resolveLimits(opts.limits);
  const prefix = bytes.subarray(0, Math.min(bytes.length, lim.maxHeaderBytes));
  try {
    return parseHeader(prefix, bytes.length, name, lim);
  } catch (e) {
    if (!(e instanceof ByteRangeError)) throw e;
    // The prefix is everything we may read, so any shortfall is final.
    throw refusalFor(e, name, bytes.length, lim) ?? truncated(e, name, bytes.length);
  }
}

async function fetch(src: ByteSource, offset: number, length: number, file: string): Promise<Uint8Array> {
  try {
    return await readExact(src, offset, length, file);
  } catch (e) {
    if (e instanceof ByteRangeError) {
      throw new GgufError('GGUF_BAD_SOURCE', { file, field: 'read' }, `${length} bytes at offset ${offset}`, `the byte source returned ${e.available} bytes`);
    }
    throw e;
  }
}

/** A final refusal for a read past the prefix, or `undefined` when fetching more can satisfy it. */
function refusalFor(e: ByteRangeError, file: string, fileSize: number, lim: GgufLimits): GgufError | undefined {
  if (e.end > fileSize) return truncated(e, file, fileSize);
  if (e.end > lim.maxHeaderBytes) {
    return new GgufError(
      'GGUF_HEADER_TOO_LARGE',
      { file, field: e.field },
      `${e.need} bytes at offset ${e.offset}`,
      `the header would exceed the cap of ${lim.maxHeaderBytes} bytes`,
    );
  }
  return undefined;
}

function truncated(e: ByteRangeError, file: string, fileSize: number): GgufError {
  return new GgufError(
    'GGUF_TRUNCATED',
    { file, field: e.field },
    `${e.need} bytes at offset ${e.offset}`,
    `unexpected end of file (the file is ${fileSize} bytes)`,
  );
}

/** Parses from `prefix` (the file's first bytes); throws ByteRangeError when it needs more. */
function parseHeader(prefix: Uint8Array, fileSize: number, file: string, lim: GgufLimits): GgufHeader {
  return new HeaderParser(new ByteReader(prefix, file), file, fileSize, lim).parse();
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class HeaderParser {
  private arrayItems = 0;

  constructor(
    private readonly r: ByteReader,
    private readonly file: string,
    private readonly fileSize: number,
    private readonly lim: GgufLimits,
  ) {}

  private at(field: string): GgufWhere {
    return { file: this.file, field };
  }

  parse(): GgufHeader {
    const { r, lim } = this;
    const magic = r.bytesView(4, 'magic');
    if (MAGIC.some((b, i) => magic[i] !== b)) {
      throw new GgufError('GGUF_BAD_MAGIC', this.at('magic'), magic.slice(), 'not a GGUF file (expected "GGUF")');
    }
    const version = r.u32('version');
    if (version !== 2 && version !== 3) throw this.badVersion(version);

    const tensorCount = this.count('tensor_count', lim.maxTensors, 'GGUF_TOO_MANY_TENSORS');
    const kvCount = this.count('kv_count', lim.maxKvs, 'GGUF_TOO_MANY_KVS');

    this.claim(kvCount, MIN_KV_BYTES, 'kv_count');
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = this.readString(`kv[${i}].key`, lim.maxKeyBytes);
      const field = kvField(key);
      if (metadata.has(key)) {
        throw new GgufError('GGUF_DUPLICATE_KEY', this.at(`kv[${i}].key`), key, 'key appears more than once');
      }
      const typeId = r.u32(`${field}.type`);
      metadata.set(key, this.readValue(this.valueType(typeId, `${field}.type`), field, 0));
    }
    const alignment = alignmentOf(metadata, this.file, lim);

    this.claim(tensorCount, MIN_TENSOR_INFO_BYTES, 'tensor_count');
    const infos: { name: string; dims: number[]; type: GgmlTypeId; elementCount: number; byteSize: number; relOffset: number }[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const f = `tensor[${i}]`;
      const name = this.readString(`${f}.name`, lim.maxTensorNameBytes);
      if (names.has(name)) {
        throw new GgufError('GGUF_DUPLICATE_TENSOR', this.at(`${f}.name`), name, 'tensor name appears more than once');
      }
      names.add(name);
      const nDims = r.u32(`${f}.n_dims`);
      if (nDims < 1 || nDims > 4) {
        throw new GgufError('GGUF_BAD_NDIMS', this.at(`${f}.n_dims`), nDims, 'a tensor has 1 to 4 dimensions');
      }
      const dims: number[] = [];
      for (let j = 0; j < nDims; j++) {
        const d = r.u64(`${f}.dims[${j}]`);
        if (d === 0n || d > MAX_SAFE_BIG) {
          throw new GgufError('GGUF_BAD_DIM', this.at(`${f}.dims[${j}]`), d, 'a dimension must be at least 1 and below 2^53 (negative as int64 is refused)');
        }
        dims.push(Number(d));
      }
      const typeId = r.u32(`${f}.type`);
      const type = findGgmlType(typeId);
      if (!type) throw new GgufError('GGUF_UNKNOWN_TYPE', this.at(`${f}.type`), typeId, 'unknown or removed ggml tensor type id');
      const where = this.at(f);
      const elementCount = tensorElementCount(dims, where);
      const byteSize = tensorByteSize(type, dims, where);
      const off = r.u64(`${f}.offset`);
      if (off > MAX_SAFE_BIG) {
        throw new GgufError('GGUF_BAD_OFFSET', this.at(`${f}.offset`), off, 'offset must be below 2^53');
      }
      infos.push({ name, dims, type: type.id, elementCount, byteSize, relOffset: Number(off) });
    }

    const headerEnd = r.offset;
    const dataOffset = alignUpSafe(headerEnd, alignment)!; // headerEnd < 2^53 - 2^16: it is a prefix length
    const tensors = this.place(infos, dataOffset, alignment);
    return { file: this.file, version, fileSize: this.fileSize, metadata, tensors, alignment, headerEnd, dataOffset };
  }

  /**
   * ggml lays tensors out back to back, each padded to the alignment, in header order; any
   * other offset means overlap, reordering or a gap, and is refused as ggml does.
   */
  private place(
    infos: readonly { name: string; dims: number[]; type: GgmlTypeId; elementCount: number; byteSize: number; relOffset: number }[],
    dataOffset: number,
    alignment: number,
  ): GgufTensorInfo[] {
    const out: GgufTensorInfo[] = [];
    let expected = 0;
    for (let i = 0; i < infos.length; i++) {
      const t = infos[i]!;
      const field = `tensor[${i}].offset`;
      if (t.relOffset % alignment !== 0) {
        throw new GgufError('GGUF_MISALIGNED_OFFSET', this.at(field), t.relOffset, `offset must be a multiple of the alignment ${alignment}`);
      }
      if (t.relOffset !== expected) {
        const why = t.relOffset < expected ? 'overlaps an earlier tensor (or is out of order)' : 'leaves a gap after the previous tensor';
        throw new GgufError('GGUF_BAD_OFFSET', this.at(field), t.relOffset, `expected ${expected}: ${why}`);
      }
      const offset = dataOffset + t.relOffset;
      const end = offset + t.byteSize; // both < 2^53 and end ≤ fileSize is checked next
      if (end > this.fileSize) {
        throw new GgufError(
          'GGUF_DATA_PAST_END',
          this.at(field),
          t.relOffset,
          `tensor "${t.name}" data [${offset}, ${end}) runs past the end of the file (${this.fileSize} bytes)`,
        );
      }
      out.push({ ...t, offset });
      expected = alignUpSafe(t.relOffset + t.byteSize, alignment)!; // ≤ end + alignment, safe
    }
    return out;
  }

  private badVersion(version: number): GgufError {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    const what =
      version === 1
        ? 'GGUF v1 (32-bit counts) is not supported; convert the model again'
        : swapped >= 1 && swapped <= 3
          ? 'big-endian GGUF is not supported'
          : 'unsupported GGUF version (versions 2 and 3 are read)';
    return new GgufError('GGUF_BAD_VERSION', this.at('version'), version, what);
  }

  private count(field: string, cap: number, code: 'GGUF_TOO_MANY_TENSORS' | 'GGUF_TOO_MANY_KVS'): number {
    const n = this.r.u64(field);
    if (n > BigInt(cap)) throw new GgufError(code, this.at(field), n, `more than the cap of ${cap}`);
    return Number(n);
  }

  /**
   * A claimed count of items each at least `minBytes` long must fit in the rest of the file;
   * checking before the loop refuses absurd counts without iterating or allocating.
   */
  private claim(count: number, minBytes: number, field: string): void {
    const need = count * minBytes; // count ≤ 2^25 and minBytes ≤ 32: exact
    if (this.r.offset + need > this.fileSize) {
      throw new GgufError(
        'GGUF_TRUNCATED',
        this.at(field),
        count,
        `${count} entries need at least ${need} bytes but only ${this.fileSize - this.r.offset} remain in the file`,
      );
    }
    this.r.ensure(need, field);
  }

  private valueType(id: number, field: string): GgufValueType {
    const t = ggufValueTypeName(id);
    if (t === undefined) throw new GgufError('GGUF_BAD_VALUE_TYPE', this.at(field), id, 'unknown metadata value type (0..12 are defined)');
    return t;
  }

  private readString(field: string, cap: number): string {
    const len = this.r.u64(field);
    if (len > BigInt(cap)) {
      throw new GgufError('GGUF_STRING_TOO_LONG', this.at(field), len, `string length exceeds the cap of ${cap} bytes`);
    }
    const n = Number(len);
    if (this.r.offset + n > this.fileSize) {
      throw new GgufError(
        'GGUF_TRUNCATED',
        this.at(field),
        len,
        `string of ${n} bytes runs past the end of the file (${this.fileSize - this.r.offset} bytes remain)`,
      );
    }
    const bytes = this.r.bytesView(n, field);
    try {
      return decodeUtf8(bytes);
    } catch {
      throw new GgufError('GGUF_BAD_UTF8', this.at(field), bytes, 'string is not valid UTF-8');
    }
  }

  private readValue(type: GgufValueType, field: string, depth: number): GgufValue {
    const r = this.r;
    switch (type) {
      case 'uint8':
        return { type, value: r.u8(field) };
      case 'int8':
        return { type, value: r.i8(field) };
      case 'uint16':
        return { type, value: r.u16(field) };
      case 'int16':
        return { type, value: r.i16(field) };
      case 'uint32':
        return { type, value: r.u32(field) };
      case 'int32':
        return { type, value: r.i32(field) };
      case 'float32':
        return { type, value: r.f32(field) };
      case 'float64':
        return { type, value: r.f64(field) };
      case 'uint64':
        return { type, value: r.u64(field) };
      case 'int64':
        return { type, value: r.i64(field) };
      case 'bool': {
        const b = r.u8(field);
        if (b > 1) throw new GgufError('GGUF_BAD_BOOL', this.at(field), b, 'a bool must be 0 or 1');
        return { type, value: b === 1 };
      }
      case 'string':
        return { type, value: this.readString(field, this.lim.maxStringBytes) };
      case 'array':
        return { type, value: this.readArray(field, depth + 1) };
    }
  }

  private readArray(field: string, depth: number): GgufArray {
    const { r, lim } = this;
    if (depth > lim.maxArrayDepth) {
      throw new GgufError('GGUF_ARRAY_TOO_DEEP', this.at(field), depth, `arrays nested deeper than ${lim.maxArrayDepth}`);
    }
    const itemType = this.valueType(r.u32(`${field}.array_type`), `${field}.array_type`);
    const count = r.u64(`${field}.count`);
    if (count > BigInt(lim.maxArrayLength)) {
      throw new GgufError('GGUF_ARRAY_TOO_LONG', this.at(`${field}.count`), count, `array length exceeds the cap of ${lim.maxArrayLength}`);
    }
    const n = Number(count);
    this.arrayItems += n;
    if (this.arrayItems > lim.maxTotalArrayItems) {
      throw new GgufError(
        'GGUF_ARRAY_TOO_LONG',
        this.at(`${field}.count`),
        count,
        `arrays in this header exceed the cap of ${lim.maxTotalArrayItems} elements in total`,
      );
    }
    const minBytes = itemType === 'string' ? 8 : itemType === 'array' ? MIN_ARRAY_BYTES : FIXED_SIZE[itemType];
    this.claim(n, minBytes, `${field}.count`);

    switch (itemType) {
      case 'string': {
        const items: string[] = [];
        for (let i = 0; i < n; i++) items.push(this.readString(`${field}[${i}]`, lim.maxStringBytes));
        return { itemType, items };
      }
      case 'array': {
        const items: GgufArray[] = [];
        for (let i = 0; i < n; i++) items.push(this.readArray(`${field}[${i}]`, depth + 1));
        return { itemType, items };
      }
      case 'bool': {
        const bytes = r.bytesView(n, field);
        const items: boolean[] = [];
        for (let i = 0; i < n; i++) {
          const b = bytes[i]!;
          if (b > 1) throw new GgufError('GGUF_BAD_BOOL', this.at(`${field}[${i}]`), b, 'a bool must be 0 or 1');
          items.push(b === 1);
        }
        return { itemType, items };
      }
      default:
        return numericArray(itemType, r.bytesView(n * FIXED_SIZE[itemType], field), n);
    }
  }
}

/** Copies little-endian element bytes into a fresh typed array of the item type. */
function numericArray(itemType: GgufNumericType, bytes: Uint8Array, n: number): GgufArray {
  const buf = leCopy(bytes, FIXED_SIZE[itemType]).buffer as ArrayBuffer; // own, aligned buffer; never a view into the file
  return { itemType, items: numericItems(itemType, buf, n) } as GgufArray;
}

/** UTF-8 decode; short ASCII strings (most vocabulary entries) skip the decoder call. */
function decodeUtf8(bytes: Uint8Array): string {
  if (bytes.length <= 24) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) return utf8.decode(bytes);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return utf8.decode(bytes);
}
