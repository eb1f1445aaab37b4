/**
 * GGUF metadata as JSON, for manifests: every entry keeps its exact value type, and decoding
 * gives back values the GGUF writer turns into the same bytes (see specs/pxi_llm.md §4.3).
 *
 * - uint8..int32: JSON numbers. uint64/int64: decimal strings (JSON numbers lose bits past 2^53).
 * - float32/float64: JSON numbers, except NaN, ±Infinity and -0, written as the strings "NaN",
 *   "Infinity", "-Infinity", "-0" (a float32 value is exactly representable as a JSON number).
 * - bool, string: themselves.
 * - arrays: `{itemType, count, base64}` for numeric element types (little-endian bytes, exact
 *   bits, NaN payloads included), `{itemType, items}` for bool, string and nested arrays.
 */
import { kvField } from '../gguf/errors';
import { FIXED_SIZE, GGUF_NUMERIC_ITEMS, isGgufNumericType, numericItems, type GgufArray, type GgufMetadata, type GgufNumericType, type GgufValue } from '../gguf/values';
import { fromBase64, toBase64 } from './base64';
import { ModelError } from './errors';

export type JsonFloat = number | 'NaN' | 'Infinity' | '-Infinity' | '-0';

export type MetaArrayJson =
  | { itemType: NumericItemType; count: number; base64: string }
  | { itemType: 'bool'; items: boolean[] }
  | { itemType: 'string'; items: string[] }
  | { itemType: 'array'; items: MetaArrayJson[] };

export type MetaEntryJson =
  | { key: string; type: 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32'; value: number }
  | { key: string; type: 'float32' | 'float64'; value: JsonFloat }
  | { key: string; type: 'uint64' | 'int64'; value: string }
  | { key: string; type: 'bool'; value: boolean }
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'array'; value: MetaArrayJson };

/** The numeric item types (shared/gguf/values.ts GGUF_NUMERIC_ITEMS): stored as base64 of their little-endian bytes. */
export type NumericItemType = GgufNumericType;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swap(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

export const isNumericItemType = isGgufNumericType;

export function encodeFloat(x: number): JsonFloat {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (Object.is(x, -0)) return '-0';
  return x;
}

function encodeArray(a: GgufArray): MetaArrayJson {
  switch (a.itemType) {
    case 'bool':
      return { itemType: 'bool', items: [...a.items] };
    case 'string':
      return { itemType: 'string', items: [...a.items] };
    case 'array':
      return { itemType: 'array', items: a.items.map(encodeArray) };
    default: {
      const t = a.items;
      const bytes = new Uint8Array(t.byteLength);
      bytes.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      if (!LITTLE_ENDIAN) swap(bytes, FIXED_SIZE[a.itemType]);
      return { itemType: a.itemType, count: t.length, base64: toBase64(bytes) };
    }
  }
}

export function encodeMetaValue(key: string, v: GgufValue): MetaEntryJson {
  switch (v.type) {
    case 'uint8':
    case 'int8':
    case 'uint16':
    case 'int16':
    case 'uint32':
    case 'int32':
      return { key, type: v.type, value: v.value };
    case 'float32':
    case 'float64':
      return { key, type: v.type, value: encodeFloat(v.value) };
    case 'uint64':
    case 'int64':
      return { key, type: v.type, value: v.value.toString() };
    case 'bool':
      return { key, type: 'bool', value: v.value };
    case 'string':
      return { key, type: 'string', value: v.value };
    case 'array':
      return { key, type: 'array', value: encodeArray(v.value) };
  }
}

/** All entries in file order. */
export function encodeMetadata(m: GgufMetadata): MetaEntryJson[] {
  return [...m].map(([k, v]) => encodeMetaValue(k, v));
}

// ---------------------------------------------------------------------------------------------
// Decoding (input is untrusted JSON: every value is checked against its declared type)

class Decoder {
  constructor(private readonly file: string) {}

  bad(field: string, value: unknown, what: string): never {
    throw new ModelError('MANIFEST_INVALID', { file: this.file, field }, value, what);
  }

  float(x: unknown, field: string): number {
    if (typeof x === 'number' && Number.isFinite(x)) return x;
    switch (x) {
      case 'NaN':
        return NaN;
      case 'Infinity':
        return Infinity;
      case '-Infinity':
        return -Infinity;
      case '-0':
        return -0;
    }
    return this.bad(field, x, 'expected a finite number or one of "NaN", "Infinity", "-Infinity", "-0"');
  }

  value(e: { type?: unknown; value?: unknown }, field: string): GgufValue {
    const t = e.type;
    const x = e.value;
    if (isGgufNumericType(t) && t !== 'float32' && t !== 'float64' && t !== 'uint64' && t !== 'int64') {
      const [lo, hi] = GGUF_NUMERIC_ITEMS[t].range;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < lo || x > hi) this.bad(field, x, `expected an integer in [${lo}, ${hi}] for ${t}`);
      return { type: t, value: x };
    }
    switch (t) {
      case 'float32':
      case 'float64':
        return { type: t, value: this.float(x, field) };
      case 'uint64':
      case 'int64': {
        if (typeof x !== 'string' || !/^-?(0|[1-9][0-9]*)$/.test(x)) this.bad(field, x, `expected a decimal string for ${t}`);
        const b = BigInt(x);
        const [lo, hi] = GGUF_NUMERIC_ITEMS[t].range;
        if (b < lo || b > hi) this.bad(field, x, `out of range for ${t}`);
        return { type: t, value: b };
      }
      case 'bool':
        if (typeof x !== 'boolean') this.bad(field, x, 'expected true or false');
        return { type: 'bool', value: x };
      case 'string':
        if (typeof x !== 'string') this.bad(field, typeof x, 'expected a string');
        return { type: 'string', value: x };
      case 'array':
        return { type: 'array', value: this.array(x, field, 1) };
    }
    return this.bad(`${field}.type`, t, 'unknown metadata value type');
  }

  array(x: unknown, field: string, depth: number): GgufArray {
    if (depth > 8) this.bad(field, depth, 'arrays nested too deeply');
    if (typeof x !== 'object' || x === null) this.bad(field, typeof x, 'expected an array object');
    const a = x as { itemType?: unknown; items?: unknown; count?: unknown; base64?: unknown };
    const it = a.itemType;
    if (typeof it === 'string' && isNumericItemType(it)) {
      if (typeof a.base64 !== 'string') this.bad(`${field}.base64`, typeof a.base64, 'expected a base64 string');
      const bytes = fromBase64(a.base64);
      if (!bytes) this.bad(`${field}.base64`, a.base64, 'not canonical padded base64');
      const w = FIXED_SIZE[it];
      if (typeof a.count !== 'number' || !Number.isSafeInteger(a.count) || a.count < 0 || a.count * w !== bytes.length) {
        this.bad(`${field}.count`, a.count, `expected ${bytes.length / w} (the base64 holds ${bytes.length} bytes of ${it})`);
      }
      if (!LITTLE_ENDIAN) swap(bytes, w);
      // uint8 keeps the decoded bytes themselves (a Uint8Array over the same, whole buffer).
      return { itemType: it, items: numericItems(it, bytes.buffer as ArrayBuffer) } as GgufArray;
    }
    if (!Array.isArray(a.items)) this.bad(`${field}.items`, typeof a.items, 'expected a JSON array');
    const items = a.items as unknown[];
    switch (it) {
      case 'bool':
        items.forEach((b, i) => {
          if (typeof b !== 'boolean') this.bad(`${field}[${i}]`, b, 'expected true or false');
        });
        return { itemType: 'bool', items: items as boolean[] };
      case 'string':
        items.forEach((s, i) => {
          if (typeof s !== 'string') this.bad(`${field}[${i}]`, typeof s, 'expected a string');
        });
        return { itemType: 'string', items: items as string[] };
      case 'array':
        return { itemType: 'array', items: items.map((y, i) => this.array(y, `${field}[${i}]`, depth + 1)) };
    }
    return this.bad(`${field}.itemType`, it, 'unknown array element type');
  }
}

/** Entries back to an ordered metadata map; `file` names the manifest in errors. */
export function decodeMetadata(entries: unknown, file: string): Map<string, GgufValue> {
  const d: Decoder = new Decoder(file);
  if (!Array.isArray(entries)) d.bad('metadata', typeof entries, 'expected an array of entries');
  const out = new Map<string, GgufValue>();
  (entries as unknown[]).forEach((e, i) => {
    if (typeof e !== 'object' || e === null) d.bad(`metadata[${i}]`, typeof e, 'expected an object');
    const entry = e as { key?: unknown; type?: unknown; value?: unknown };
    if (typeof entry.key !== 'string') d.bad(`metadata[${i}].key`, typeof entry.key, 'expected a string');
    if (out.has(entry.key)) d.bad(`metadata[${i}].key`, entry.key, 'duplicate key');
    out.set(entry.key, d.value(entry, `metadata${kvField(entry.key).slice(2)}`));
  });
  return out;
}
