/**
 * A growable little-endian byte writer. It refuses values that do not fit the field width
 * instead of letting DataView wrap them silently, so a writer bug cannot produce a file that
 * says something other than what was meant.
 */
import { PxiError } from '../errors';

export class ByteValueError extends PxiError {
  constructor(field: string, value: unknown, what: string) {
    super('BIN_BAD_VALUE', `${field} = ${String(value)}: ${what}`, { field, value: String(value) });
  }
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private p = 0;

  constructor(initialCapacity = 4096) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.p;
  }

  /** Reserves `n` bytes and returns their offset; may reallocate, so callers read `buf`/`view` after. */
  private room(n: number): number {
    const need = this.p + n;
    if (need > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < need) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.p));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.p;
    this.p = need;
    return at;
  }

  private int(v: number, lo: number, hi: number, field: string): void {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new ByteValueError(field, v, `must be an integer in [${lo}, ${hi}]`);
    }
  }

  u8(v: number, field = 'u8'): void {
    this.int(v, 0, 0xff, field);
    const at = this.room(1);
    this.buf[at] = v;
  }
  i8(v: number, field = 'i8'): void {
    this.int(v, -0x80, 0x7f, field);
    const at = this.room(1);
    this.view.setInt8(at, v);
  }
  u16(v: number, field = 'u16'): void {
    this.int(v, 0, 0xffff, field);
    const at = this.room(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number, field = 'i16'): void {
    this.int(v, -0x8000, 0x7fff, field);
    const at = this.room(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number, field = 'u32'): void {
    this.int(v, 0, 0xffffffff, field);
    const at = this.room(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number, field = 'i32'): void {
    this.int(v, -0x80000000, 0x7fffffff, field);
    const at = this.room(4);
    this.view.setInt32(at, v, true);
  }
  u64(v: bigint | number, field = 'u64'): void {
    const b = typeof v === 'number' ? safeToBig(v, field) : v;
    if (b < 0n || b > U64_MAX) throw new ByteValueError(field, v, 'must fit in an unsigned 64-bit integer');
    const at = this.room(8);
    this.view.setBigUint64(at, b, true);
  }
  i64(v: bigint | number, field = 'i64'): void {
    const b = typeof v === 'number' ? safeToBig(v, field) : v;
    if (b < I64_MIN || b > I64_MAX) throw new ByteValueError(field, v, 'must fit in a signed 64-bit integer');
    const at = this.room(8);
    this.view.setBigInt64(at, b, true);
  }
  f32(v: number): void {
    const at = this.room(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number): void {
    const at = this.room(8);
    this.view.setFloat64(at, v, true);
  }
  bytes(src: Uint8Array): void {
    const at = this.room(src.length); // may reallocate: take the offset before touching this.buf
    this.buf.set(src, at);
  }
  zeros(n: number): void {
    this.int(n, 0, Number.MAX_SAFE_INTEGER, 'zeros');
    this.room(n); // fresh capacity is zero-filled and never reused
  }
  /** Pads with zeros to the next multiple of `alignment` (a power of two or any positive integer). */
  padTo(alignment: number): void {
    this.int(alignment, 1, Number.MAX_SAFE_INTEGER, 'alignment');
    const rem = this.p % alignment;
    if (rem !== 0) this.zeros(alignment - rem);
  }

  /** The written bytes (a view; the writer must not be used afterwards). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.p);
  }
}

function safeToBig(v: number, field: string): bigint {
  if (!Number.isSafeInteger(v)) throw new ByteValueError(field, v, 'must be a safe integer');
  return BigInt(v);
}
