/**
 * GGUF metadata values, kept with their exact on-disk type so a header can be written back
 * byte for byte. 64-bit integers stay BigInt; numeric arrays are typed arrays (copies, never
 * views into the file).
 */

/** On-disk type ids of metadata values (`enum gguf_type`). */
export const GGUF_VALUE_TYPE_IDS = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufValueType = keyof typeof GGUF_VALUE_TYPE_IDS;
export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type GgufBigIntType = 'uint64' | 'int64';

const NAMES_BY_ID: readonly GgufValueType[] = (() => {
  const out: GgufValueType[] = [];
  for (const [name, id] of Object.entries(GGUF_VALUE_TYPE_IDS)) out[id] = name as GgufValueType;
  return out;
})();

/** The value type with this on-disk id, or `undefined`. */
export function ggufValueTypeName(id: number): GgufValueType | undefined {
  return Number.isInteger(id) && id >= 0 && id < NAMES_BY_ID.length ? NAMES_BY_ID[id] : undefined;
}

/** The element container for each array item type. */
export interface GgufArrayItems {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
  uint64: BigUint64Array;
  int64: BigInt64Array;
  bool: boolean[];
  string: string[];
  array: GgufArray[];
}

/** Numeric value types: each is an element of a typed array when in an array. */
export type GgufNumericType = GgufNumberType | GgufBigIntType;

/** What the reader, the writer and the metadata JSON (shared/model/metadata-json.ts) need of one numeric type. */
export interface GgufNumericItem<K extends GgufNumericType> {
  /** Bytes per element on disk (little-endian). */
  readonly bytes: number;
  /** The container of an array of this type (always a fresh copy, never a view into a file). */
  readonly container: new (buffer: ArrayBuffer, byteOffset?: number, length?: number) => GgufArrayItems[K];
  /** The integers a value may hold; null for floats, which take any number. */
  readonly range: K extends GgufBigIntType ? readonly [bigint, bigint] : K extends 'float32' | 'float64' ? null : readonly [number, number];
}

/** The one GGUF item-type table. */
export const GGUF_NUMERIC_ITEMS: { readonly [K in GgufNumericType]: GgufNumericItem<K> } = {
  uint8: { bytes: 1, container: Uint8Array, range: [0, 0xff] },
  int8: { bytes: 1, container: Int8Array, range: [-0x80, 0x7f] },
  uint16: { bytes: 2, container: Uint16Array, range: [0, 0xffff] },
  int16: { bytes: 2, container: Int16Array, range: [-0x8000, 0x7fff] },
  uint32: { bytes: 4, container: Uint32Array, range: [0, 0xffffffff] },
  int32: { bytes: 4, container: Int32Array, range: [-0x80000000, 0x7fffffff] },
  float32: { bytes: 4, container: Float32Array, range: null },
  float64: { bytes: 8, container: Float64Array, range: null },
  uint64: { bytes: 8, container: BigUint64Array, range: [0n, (1n << 64n) - 1n] },
  int64: { bytes: 8, container: BigInt64Array, range: [-(1n << 63n), (1n << 63n) - 1n] },
};

export function isGgufNumericType(t: unknown): t is GgufNumericType {
  return typeof t === 'string' && Object.hasOwn(GGUF_NUMERIC_ITEMS, t);
}

/** Bytes per element of the fixed-size value types (the numeric ones, and bool: one byte). */
export const FIXED_SIZE: Readonly<Record<GgufNumericType | 'bool', number>> = {
  ...(Object.fromEntries(Object.entries(GGUF_NUMERIC_ITEMS).map(([k, v]) => [k, v.bytes])) as Record<GgufNumericType, number>),
  bool: 1,
};

/** A fresh typed array of `itemType` over `buffer` (which the array then owns). */
export function numericItems<K extends GgufNumericType>(itemType: K, buffer: ArrayBuffer, length?: number): GgufArrayItems[K] {
  return new GGUF_NUMERIC_ITEMS[itemType].container(buffer, 0, length);
}

export type GgufArray = {
  [K in GgufValueType]: { readonly itemType: K; readonly items: GgufArrayItems[K] };
}[GgufValueType];

export type GgufValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly value: GgufArray };

/** Ordered metadata: a Map keeps insertion order, which is the on-disk key order. */
export type GgufMetadata = ReadonlyMap<string, GgufValue>;

/** Constructors for building metadata to write, e.g. `gv.u32(2048)`, `gv.array('string', tokens)`. */
export const gv = {
  u8: (value: number): GgufValue => ({ type: 'uint8', value }),
  i8: (value: number): GgufValue => ({ type: 'int8', value }),
  u16: (value: number): GgufValue => ({ type: 'uint16', value }),
  i16: (value: number): GgufValue => ({ type: 'int16', value }),
  u32: (value: number): GgufValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufValue => ({ type: 'int32', value }),
  f32: (value: number): GgufValue => ({ type: 'float32', value }),
  f64: (value: number): GgufValue => ({ type: 'float64', value }),
  u64: (value: bigint): GgufValue => ({ type: 'uint64', value }),
  i64: (value: bigint): GgufValue => ({ type: 'int64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  array: <K extends GgufValueType>(itemType: K, items: GgufArrayItems[K]): GgufValue =>
    ({ type: 'array', value: { itemType, items } as GgufArray }),
};

/** Human description of a value's type, e.g. `uint32` or `array of float32`. */
export function describeType(v: GgufValue): string {
  return v.type === 'array' ? `array of ${v.value.itemType}` : v.type;
}

/** Number of elements in an array value. */
export function arrayLength(a: GgufArray): number {
  return a.items.length;
}
