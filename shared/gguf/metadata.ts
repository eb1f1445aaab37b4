/**
 * Typed metadata getters. A consumer states the type it will read; a value of another type
 * (an int8 array where floats are read, a uint64 where a uint32 is) is a GGUF_WRONG_TYPE error
 * naming the file, the key and the type found, never a silent reinterpretation.
 */
import { GgufError, kvField } from './errors';
import { describeType, type GgufArrayItems, type GgufMetadata, type GgufValue, type GgufValueType } from './values';

/** Anything with metadata and a file name to blame, e.g. a parsed `GgufHeader`. */
export interface GgufMetaSource {
  readonly file: string;
  readonly metadata: GgufMetadata;
}

export function hasKey(src: GgufMetaSource, key: string): boolean {
  return src.metadata.has(key);
}

/** The raw value; a missing key is a GGUF_MISSING_KEY error. */
export function getValue(src: GgufMetaSource, key: string): GgufValue {
  const v = src.metadata.get(key);
  if (v === undefined) {
    throw new GgufError('GGUF_MISSING_KEY', { file: src.file, field: kvField(key) }, 'missing', 'required metadata key is absent');
  }
  return v;
}

/** The value of `key` if it has `type`; `undefined` if absent and a fallback exists. */
function typed(src: GgufMetaSource, key: string, type: GgufValue['type'], hasFallback: boolean): GgufValue | undefined {
  const v = src.metadata.get(key);
  if (v === undefined) {
    if (hasFallback) return undefined;
    return getValue(src, key); // throws GGUF_MISSING_KEY
  }
  if (v.type !== type) {
    throw new GgufError('GGUF_WRONG_TYPE', { file: src.file, field: kvField(key) }, describeType(v), `expected ${type}`);
  }
  return v;
}

export function getString(src: GgufMetaSource, key: string, fallback?: string): string {
  const v = typed(src, key, 'string', fallback !== undefined);
  return v ? (v.value as string) : fallback!;
}

export function getU32(src: GgufMetaSource, key: string, fallback?: number): number {
  const v = typed(src, key, 'uint32', fallback !== undefined);
  return v ? (v.value as number) : fallback!;
}

export function getI32(src: GgufMetaSource, key: string, fallback?: number): number {
  const v = typed(src, key, 'int32', fallback !== undefined);
  return v ? (v.value as number) : fallback!;
}

export function getF32(src: GgufMetaSource, key: string, fallback?: number): number {
  const v = typed(src, key, 'float32', fallback !== undefined);
  return v ? (v.value as number) : fallback!;
}

export function getBool(src: GgufMetaSource, key: string, fallback?: boolean): boolean {
  const v = typed(src, key, 'bool', fallback !== undefined);
  return v ? (v.value as boolean) : fallback!;
}

export function getU64(src: GgufMetaSource, key: string, fallback?: bigint): bigint {
  const v = typed(src, key, 'uint64', fallback !== undefined);
  return v ? (v.value as bigint) : fallback!;
}

/**
 * The elements of an array value whose element type must be `itemType`, e.g.
 * `getArray(h, 'tokenizer.ggml.scores', 'float32')` → Float32Array. With `fallback`, a missing
 * key returns it instead of throwing.
 */
export function getArray<K extends GgufValueType>(
  src: GgufMetaSource,
  key: string,
  itemType: K,
  fallback?: GgufArrayItems[K],
): GgufArrayItems[K] {
  const v = typed(src, key, 'array', fallback !== undefined) as Extract<GgufValue, { type: 'array' }> | undefined;
  if (v === undefined) return fallback!;
  if (v.value.itemType !== itemType) {
    throw new GgufError('GGUF_WRONG_TYPE', { file: src.file, field: kvField(key) }, describeType(v), `expected an array of ${itemType}`);
  }
  return v.value.items as GgufArrayItems[K];
}
