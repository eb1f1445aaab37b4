/**
 * A bounds-checked cursor over untrusted bytes. Every read names what it reads, and running
 * past the end raises the error the caller's format chose (never a RangeError or a silent
 * `undefined`). The project reader (shared/binary/byte-reader.ts) is little-endian only and
 * raises BIN_OUT_OF_RANGE; PNG is big-endian (lengths, CRCs, IHDR) and the tile decoder must
 * raise its own codes (PNG_TRUNCATED, PNG_BAD_ZLIB), so PixelFS keeps this small one until the
 * shared reader gains big-endian reads and a caller-chosen error.
 */
export type OverrunError = (what: string, offset: number, need: number, left: number) => Error;

export class ByteReader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    private readonly overrun: OverrunError,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get left(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes exist; `n` must be a non-negative safe integer. */
  need(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.end - this.pos) {
      throw this.overrun(what, this.pos, n, this.end - this.pos);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16le(what: string): number {
    this.need(2, what);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }

  u32be(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }
}
