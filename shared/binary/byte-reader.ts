/**
 * The one bounds-checked reader under every parser (GGUF, IPC frames, PixelFS tile PNGs). Each
 * read names the field it is reading, so running off the end reports what was being read, where,
 * and how much was missing, instead of a bare RangeError or a silent `undefined`. Reads are
 * little-endian except the `…be` ones (PNG is big-endian). A format with its own error codes
 * passes `overrun` to turn the range error into its own typed error.
 */
import { PxiError } from '../errors';

/**
 * A read asked for bytes that are not in the buffer. `end` is the absolute offset the read
 * needed; a streaming parser compares it with the file size to tell "fetch more" from
 * "the file is truncated".
 */
export class ByteRangeError extends PxiError {
  readonly source: string;
  readonly field: string;
  readonly offset: number;
  readonly need: number;
  readonly available: number;

  constructor(source: string, field: string, offset: number, need: number, available: number) {
    super(
      'BIN_OUT_OF_RANGE',
      `${source}: ${field}: unexpected end of data at offset ${offset}: need ${need} bytes, ${Math.max(0, available)} available`,
      { source, field, offset, need, available },
    );
    this.source = source;
    this.field = field;
    this.offset = offset;
    this.need = need;
    this.available = available;
  }

  /** Absolute offset one past the last byte the read needed (may exceed 2^53 for absurd lengths). */
  get end(): number {
    return this.offset + this.need;
  }
}

/** Turns a read past the end into the caller's own error (it must name the file, field and value too). */
export type OverrunError = (e: ByteRangeError) => Error;

export class ByteReader {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private p = 0;

  /**
   * @param bytes the bytes available now (for a streaming parser, a prefix of the file)
   * @param label names the file in errors
   * @param base absolute file offset of `bytes[0]`, so errors and `offset` are file offsets
   * @param overrun maps a read past the end to the format's own error (default: the ByteRangeError)
   */
  constructor(
    bytes: Uint8Array,
    readonly label: string,
    readonly base = 0,
    private readonly overrun?: OverrunError,
  ) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Absolute file offset of the next byte to read. */
  get offset(): number {
    return this.base + this.p;
  }

  get remaining(): number {
    return this.bytes.length - this.p;
  }

  /** Throws unless `n` more bytes are available; lets a parser check a claimed count before looping. */
  ensure(n: number, field: string): void {
    if (!(Number.isSafeInteger(n) && n >= 0 && n <= this.bytes.length - this.p)) {
      const e = new ByteRangeError(this.label, field, this.offset, n, this.bytes.length - this.p);
      throw this.overrun ? this.overrun(e) : e;
    }
  }

  private take(n: number, field: string): number {
    this.ensure(n, field);
    const at = this.p;
    this.p += n;
    return at;
  }

  u8(field: string): number {
    return this.bytes[this.take(1, field)]!;
  }
  i8(field: string): number {
    return this.view.getInt8(this.take(1, field));
  }
  u16(field: string): number {
    return this.view.getUint16(this.take(2, field), true);
  }
  i16(field: string): number {
    return this.view.getInt16(this.take(2, field), true);
  }
  u32(field: string): number {
    return this.view.getUint32(this.take(4, field), true);
  }
  u32be(field: string): number {
    return this.view.getUint32(this.take(4, field), false);
  }
  i32(field: string): number {
    return this.view.getInt32(this.take(4, field), true);
  }
  /** 64-bit fields stay BigInt: a caller converts only after checking the value is below 2^53. */
  u64(field: string): bigint {
    return this.view.getBigUint64(this.take(8, field), true);
  }
  i64(field: string): bigint {
    return this.view.getBigInt64(this.take(8, field), true);
  }
  f32(field: string): number {
    return this.view.getFloat32(this.take(4, field), true);
  }
  f64(field: string): number {
    return this.view.getFloat64(this.take(8, field), true);
  }

  /** A view (no copy) of the next `n` bytes. */
  bytesView(n: number, field: string): Uint8Array {
    const at = this.take(n, field);
    return this.bytes.subarray(at, at + n);
  }

  skip(n: number, field: string): void {
    this.take(n, field);
  }
}
