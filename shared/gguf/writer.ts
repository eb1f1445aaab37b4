/**
 * GGUF writer (v3 by default, v2 on request). It lays out the header and the tensor offsets
 * the way ggml and gguf-py do (tensors back to back in header order, each padded to the
 * alignment), so writing back what the reader read reproduces the header byte for byte.
 * Tensor data is streamed by the caller to the returned offsets; `writeGgufBytes` assembles a
 * whole file in memory for small models and tests. It refuses anything the reader would.
 */
import { ByteWriter } from '../binary/byte-writer';
import { leCopy, LITTLE_ENDIAN_HOST } from '../binary/endian';
import { alignUpSafe } from '../binary/safe-int';
import { GgufError, kvField, type GgufWhere } from './errors';
import { tensorByteSize, tensorElementCount, type GgmlTypeId } from './ggml-types';
import { alignmentOf, resolveLimits, type GgufLimits } from './limits';
import {
  FIXED_SIZE,
  GGUF_NUMERIC_ITEMS,
  GGUF_VALUE_TYPE_IDS,
  isGgufNumericType,
  type GgufArray,
  type GgufBigIntType,
  type GgufMetadata,
  type GgufValue,
  type GgufValueType,
} from './values';

export interface GgufTensorSpec {
  readonly name: string;
  /** ggml order: `dims[0]` is the row length. */
  readonly dims: readonly number[];
  readonly type: number;
}

export interface GgufTensorPlacement {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: GgmlTypeId;
  readonly elementCount: number;
  readonly byteSize: number;
  /** Offset inside the data section (what the header stores). */
  readonly relOffset: number;
  /** Absolute file offset where the caller writes this tensor's bytes. */
  readonly offset: number;
}

export interface GgufLayout {
  readonly version: 2 | 3;
  readonly alignment: number;
  /**
   * Header bytes including the zero padding up to `dataOffset`; without tensors, the bytes up
   * to `headerEnd` only (the whole file).
   */
  readonly header: Uint8Array;
  readonly headerEnd: number;
  readonly dataOffset: number;
  readonly tensors: readonly GgufTensorPlacement[];
  /** Total file size: data section includes padding after every tensor, the last one too. */
  readonly fileSize: number;
  /**
   * Absolute offset of each top-level header field, named as the reader names them in errors
   * (`tensor_count`, `kv[0].key`, `kv["general.alignment"]`, `tensor[2].dims[1]`, ...).
   */
  readonly fieldOffsets: ReadonlyMap<string, number>;
}

export interface GgufWriteOptions {
  readonly version?: 2 | 3;
  /** Names the output in errors. */
  readonly name?: string;
  readonly limits?: Partial<GgufLimits>;
}

/** The integer value types that fit a JS number. */
type IntType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32';

const LONE_SURROGATE = /\p{Surrogate}/u;
const utf8 = new TextEncoder();

/** Computes the header bytes and where each tensor's data goes. */
export function layoutGguf(
  metadata: GgufMetadata | Iterable<readonly [string, GgufValue]>,
  tensors: readonly GgufTensorSpec[],
  opts: GgufWriteOptions = {},
): GgufLayout {
  return new HeaderWriter(opts).layout(metadata, tensors);
}

/** A whole GGUF file in memory: header, then each tensor's data followed by its padding. */
export function writeGgufBytes(
  metadata: GgufMetadata | Iterable<readonly [string, GgufValue]>,
  tensors: readonly (GgufTensorSpec & { readonly data: Uint8Array })[],
  opts: GgufWriteOptions = {},
): Uint8Array {
  const layout = layoutGguf(metadata, tensors, opts);
  const file = opts.name ?? '<output>';
  const out = new Uint8Array(layout.fileSize); // zero-filled: padding needs no writes
  out.set(layout.header);
  layout.tensors.forEach((t, i) => {
    const data = tensors[i]!.data;
    if (data.length !== t.byteSize) {
      throw new GgufError('GGUF_BAD_VALUE', { file, field: `tensor[${i}].data` }, data.length, `tensor "${t.name}" needs exactly ${t.byteSize} bytes`);
    }
    out.set(data, t.offset);
  });
  return out;
}

class HeaderWriter {
  private readonly file: string;
  private readonly version: 2 | 3;
  private readonly lim: GgufLimits;
  private readonly w = new ByteWriter(1 << 16);
  private readonly fields = new Map<string, number>();
  private arrayItems = 0;

  constructor(opts: GgufWriteOptions) {
    this.file = opts.name ?? '<output>';
    this.version = opts.version ?? 3;
    this.lim = resolveLimits(opts.limits);
    if (this.version !== 2 && this.version !== 3) {
      throw new GgufError('GGUF_BAD_VERSION', this.at('version'), this.version, 'the writer writes versions 2 and 3');
    }
  }

  private at(field: string): GgufWhere {
    return { file: this.file, field };
  }

  private bad(field: string, value: unknown, what: string): GgufError {
    return new GgufError('GGUF_BAD_VALUE', this.at(field), value, what);
  }

  private mark(field: string): void {
    this.fields.set(field, this.w.length);
  }

  layout(metadataIn: GgufMetadata | Iterable<readonly [string, GgufValue]>, tensors: readonly GgufTensorSpec[]): GgufLayout {
    const { w, lim } = this;
    const metadata = this.collect(metadataIn);
    const alignment = alignmentOf(metadata, this.file, lim);
    if (tensors.length > lim.maxTensors) {
      throw new GgufError('GGUF_TOO_MANY_TENSORS', this.at('tensor_count'), tensors.length, `more than the cap of ${lim.maxTensors}`);
    }

    // Validate and place tensors before writing, so a bad tensor fails before any work.
    const placed: Omit<GgufTensorPlacement, 'offset'>[] = [];
    const names = new Set<string>();
    let rel = 0;
    tensors.forEach((t, i) => {
      const f = `tensor[${i}]`;
      this.checkString(t.name, `${f}.name`, lim.maxTensorNameBytes);
      if (names.has(t.name)) throw new GgufError('GGUF_DUPLICATE_TENSOR', this.at(`${f}.name`), t.name, 'tensor name appears more than once');
      names.add(t.name);
      const where = this.at(f);
      const byteSize = tensorByteSize(t.type, t.dims, where); // checks n_dims, dims, type, row, overflow
      const elementCount = tensorElementCount(t.dims, where);
      placed.push({ name: t.name, dims: [...t.dims], type: t.type as GgmlTypeId, elementCount, byteSize, relOffset: rel });
      const next = alignUpSafe(rel + byteSize, alignment);
      if (next === undefined) throw new GgufError('GGUF_SIZE_OVERFLOW', where, byteSize, 'data section would reach 2^53 bytes');
      rel = next;
    });

    this.mark('magic');
    w.bytes(new Uint8Array([0x47, 0x47, 0x55, 0x46]));
    this.mark('version');
    w.u32(this.version);
    this.mark('tensor_count');
    w.u64(tensors.length);
    this.mark('kv_count');
    w.u64(metadata.size);

    let i = 0;
    for (const [key, value] of metadata) {
      this.mark(`kv[${i}].key`);
      this.writeString(key, `kv[${i}].key`, lim.maxKeyBytes);
      const field = kvField(key);
      this.mark(`${field}.type`);
      w.u32(this.typeId(value.type, `${field}.type`));
      this.writeValue(value, field, 0);
      i++;
    }

    placed.forEach((t, k) => {
      const f = `tensor[${k}]`;
      this.mark(`${f}.name`);
      this.writeString(t.name, `${f}.name`, lim.maxTensorNameBytes);
      this.mark(`${f}.n_dims`);
      w.u32(t.dims.length);
      t.dims.forEach((d, j) => {
        this.mark(`${f}.dims[${j}]`);
        w.u64(d);
      });
      this.mark(`${f}.type`);
      w.u32(t.type);
      this.mark(`${f}.offset`);
      w.u64(t.relOffset);
    });

    const headerEnd = w.length;
    const dataOffset = alignUpSafe(headerEnd, alignment)!;
    // A file without tensors ends at the header (as gguf-py writes vocabulary-only files).
    if (placed.length > 0) w.padTo(alignment);
    if (dataOffset > lim.maxHeaderBytes) {
      throw new GgufError('GGUF_HEADER_TOO_LARGE', this.at('header'), dataOffset, `header exceeds the cap of ${lim.maxHeaderBytes} bytes`);
    }
    const fileSize = placed.length > 0 ? dataOffset + rel : headerEnd;
    if (!Number.isSafeInteger(fileSize)) throw new GgufError('GGUF_SIZE_OVERFLOW', this.at('data'), rel, 'file would reach 2^53 bytes');
    return {
      version: this.version,
      alignment,
      header: w.finish(),
      headerEnd,
      dataOffset,
      tensors: placed.map((t) => ({ ...t, offset: dataOffset + t.relOffset })),
      fileSize,
      fieldOffsets: this.fields,
    };
  }

  /** Copies the entries into an ordered Map, refusing duplicate keys and too many entries. */
  private collect(input: GgufMetadata | Iterable<readonly [string, GgufValue]>): Map<string, GgufValue> {
    const out = new Map<string, GgufValue>();
    let i = 0;
    for (const [key, value] of input) {
      if (typeof key !== 'string') throw this.bad(`kv[${i}].key`, key, 'a key must be a string');
      if (out.has(key)) throw new GgufError('GGUF_DUPLICATE_KEY', this.at(`kv[${i}].key`), key, 'key appears more than once');
      out.set(key, value);
      i++;
    }
    if (out.size > this.lim.maxKvs) {
      throw new GgufError('GGUF_TOO_MANY_KVS', this.at('kv_count'), out.size, `more than the cap of ${this.lim.maxKvs}`);
    }
    return out;
  }

  private typeId(type: GgufValueType, field: string): number {
    const id = (GGUF_VALUE_TYPE_IDS as Record<string, number>)[type];
    if (id === undefined || !Object.hasOwn(GGUF_VALUE_TYPE_IDS, type)) {
      throw new GgufError('GGUF_BAD_VALUE_TYPE', this.at(field), type, 'unknown metadata value type');
    }
    return id;
  }

  private checkString(s: unknown, field: string, cap: number): Uint8Array {
    if (typeof s !== 'string') throw this.bad(field, s, 'expected a string');
    if (LONE_SURROGATE.test(s)) throw new GgufError('GGUF_BAD_UTF8', this.at(field), s, 'string has a lone surrogate (not encodable as UTF-8)');
    const bytes = utf8.encode(s);
    if (bytes.length > cap) throw new GgufError('GGUF_STRING_TOO_LONG', this.at(field), bytes.length, `string length exceeds the cap of ${cap} bytes`);
    return bytes;
  }

  private writeString(s: string, field: string, cap: number): void {
    const bytes = this.checkString(s, field, cap);
    this.w.u64(bytes.length);
    this.w.bytes(bytes);
  }

  private writeValue(v: GgufValue, field: string, depth: number): void {
    const w = this.w;
    this.mark(field);
    switch (v.type) {
      case 'uint8':
        return w.u8(this.int(v.value, 'uint8', field));
      case 'int8':
        return w.i8(this.int(v.value, 'int8', field));
      case 'uint16':
        return w.u16(this.int(v.value, 'uint16', field));
      case 'int16':
        return w.i16(this.int(v.value, 'int16', field));
      case 'uint32':
        return w.u32(this.int(v.value, 'uint32', field));
      case 'int32':
        return w.i32(this.int(v.value, 'int32', field));
      case 'float32':
        return w.f32(this.num(v.value, field));
      case 'float64':
        return w.f64(this.num(v.value, field));
      case 'uint64':
        return w.u64(this.big(v.value, 'uint64', field));
      case 'int64':
        return w.i64(this.big(v.value, 'int64', field));
      case 'bool': {
        const b: unknown = v.value;
        if (typeof b !== 'boolean') throw this.bad(field, b, 'expected a boolean');
        return w.u8(b ? 1 : 0);
      }
      case 'string':
        return this.writeString(v.value, field, this.lim.maxStringBytes);
      case 'array':
        return this.writeArray(v.value, field, depth + 1);
      default:
        throw new GgufError('GGUF_BAD_VALUE_TYPE', this.at(`${field}.type`), (v as { type: unknown }).type, 'unknown metadata value type');
    }
  }

  private int(v: unknown, type: IntType, field: string): number {
    const [lo, hi] = GGUF_NUMERIC_ITEMS[type].range;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw this.bad(field, v, `expected an integer in [${lo}, ${hi}]`);
    }
    return v;
  }

  private num(v: unknown, field: string): number {
    if (typeof v !== 'number') throw this.bad(field, v, 'expected a number');
    return v;
  }

  private big(v: unknown, type: GgufBigIntType, field: string): bigint {
    const [lo, hi] = GGUF_NUMERIC_ITEMS[type].range;
    if (typeof v !== 'bigint' || v < lo || v > hi) throw this.bad(field, v, `expected a bigint in [${lo}, ${hi}]`);
    return v;
  }

  private writeArray(a: GgufArray, field: string, depth: number): void {
    const { w, lim } = this;
    if (depth > lim.maxArrayDepth) {
      throw new GgufError('GGUF_ARRAY_TOO_DEEP', this.at(field), depth, `arrays nested deeper than ${lim.maxArrayDepth}`);
    }
    const items = a.items as ArrayLike<unknown>;
    this.checkContainer(a, field);
    const n = items.length;
    if (n > lim.maxArrayLength) {
      throw new GgufError('GGUF_ARRAY_TOO_LONG', this.at(`${field}.count`), n, `array length exceeds the cap of ${lim.maxArrayLength}`);
    }
    this.arrayItems += n;
    if (this.arrayItems > lim.maxTotalArrayItems) {
      throw new GgufError('GGUF_ARRAY_TOO_LONG', this.at(`${field}.count`), n, `arrays exceed the cap of ${lim.maxTotalArrayItems} elements in total`);
    }
    if (depth === 1) this.mark(`${field}.array_type`);
    w.u32(this.typeId(a.itemType, `${field}.array_type`));
    if (depth === 1) this.mark(`${field}.count`);
    w.u64(n);
    switch (a.itemType) {
      case 'string':
        for (let i = 0; i < n; i++) this.writeString(a.items[i]!, `${field}[${i}]`, lim.maxStringBytes);
        return;
      case 'array':
        for (let i = 0; i < n; i++) this.writeArray(a.items[i]!, `${field}[${i}]`, depth + 1);
        return;
      case 'bool':
        for (let i = 0; i < n; i++) {
          const b = a.items[i];
          if (typeof b !== 'boolean') throw this.bad(`${field}[${i}]`, b, 'expected a boolean');
          w.u8(b ? 1 : 0);
        }
        return;
      default: {
        const t = a.items;
        const view = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
        w.bytes(LITTLE_ENDIAN_HOST ? view : leCopy(view, FIXED_SIZE[a.itemType]));
      }
    }
  }

  /** The items container must be the one the item type implies (e.g. Float32Array for float32). */
  private checkContainer(a: GgufArray, field: string): void {
    const t: unknown = a.itemType;
    let ok: boolean;
    if (isGgufNumericType(t)) ok = a.items instanceof GGUF_NUMERIC_ITEMS[t].container;
    else if (t === 'bool' || t === 'string' || t === 'array') ok = Array.isArray(a.items);
    else throw new GgufError('GGUF_BAD_VALUE_TYPE', this.at(`${field}.array_type`), t, 'unknown array element type');
    if (!ok) {
      const got = (a.items as object | null)?.constructor?.name ?? typeof a.items;
      throw this.bad(field, got, `items of an array of ${a.itemType} have the wrong container`);
    }
  }
}
