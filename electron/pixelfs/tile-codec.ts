/**
 * The PixelFS tile codec: bytes <-> one RGBA8 PNG.
 *
 * Byte i of a tile payload is channel (i mod 4) of pixel (i div 4), pixels row-major. A tile has
 * a fixed width x height per volume; a payload shorter than width*height*4 is padded with zeros.
 * The writer emits exactly: signature, IHDR (8-bit, colour type 6, no interlace), pxIF (payload
 * length + sha256), one IDAT (every row filter 0), IEND. No gAMA/cHRM/sRGB/iCCP, so no decoder
 * alters a value. specs/pixelfs.md is the normative description.
 *
 * The decoder treats its input as hostile: every length is bounds-checked, every CRC verified,
 * dimensions capped by the caller's limits before anything is allocated, and inflation is capped
 * at the exact expected size.
 */
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { ByteReader } from '../../shared/binary/byte-reader';
import { PixelFsCodes as C, PixelFsError, type PixelFsCode } from './errors';

export const PNG_SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** Private (lowercase 2nd letter), ancillary (lowercase 1st), unsafe-to-copy (uppercase 4th): it
 * describes the pixel data, so an editor that changes the pixels must drop it. */
export const META_CHUNK = 'pxIF';
export const META_VERSION = 1;
export const META_DATA_LENGTH = 40;
/** Largest tile side: WebGPU's common maxTextureDimension2D, so a tile is always one texture. */
export const MAX_TILE_SIDE = 8192;

const STORED_BLOCK_MAX = 65535;
const ADLER_MOD = 65521;
// zlib's bound for 32-bit sums (a multiple of 16): reducing this often keeps the sums small.
const ADLER_NMAX = 5552;

export interface TileGeometry {
  readonly width: number;
  readonly height: number;
}

export function tileCapacity(g: TileGeometry): number {
  return g.width * g.height * 4;
}

export function assertGeometry(g: TileGeometry, where: string): void {
  for (const field of ['width', 'height'] as const) {
    const v = g[field];
    if (!Number.isInteger(v) || v < 1 || v > MAX_TILE_SIDE) {
      throw new PixelFsError(C.BAD_SETTINGS, `${where}: tile ${field} ${String(v)} is not an integer in 1..${MAX_TILE_SIDE}`, {
        field: `tile${field === 'width' ? 'Width' : 'Height'}`,
        value: v,
      });
    }
  }
}

export function assertLevel(level: number, where: string): void {
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new PixelFsError(C.BAD_SETTINGS, `${where}: deflate level ${String(level)} is not an integer in 0..9`, {
      field: 'level',
      value: level,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Checksums

const crcTable: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32Js(data: Uint8Array, init: number): number {
  let c = ~init >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

type Crc32 = (data: Uint8Array, init?: number) => number;
// zlib.crc32 exists from Node 20.15 / 22.2 and runs at several GB/s; the table is the fallback.
const nativeCrc32 = (zlib as unknown as { crc32?: Crc32 }).crc32;
export const crc32: (data: Uint8Array, init?: number) => number = nativeCrc32
  ? (d, i = 0) => nativeCrc32(d, i)
  : (d, i = 0) => crc32Js(d, i);

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Words between reductions: 1380 x 4 = 5520 bytes, within zlib's NMAX (5552). */
const ADLER_NMAX_WORDS = 1380;

/**
 * Continues an Adler-32 (zlib's stream checksum) over data[start, end).
 *
 * Byte by byte, Adler-32 is a = a + b, s = s + a: a chain of dependent adds (~1.2 GB/s in V8).
 * Here 8 little-endian words (32 bytes) at a time with 16-bit lanes (SWAR): per word, lo holds
 * bytes 0 and 2, lo + hi the pair sums (b0+b1, b2+b3); A accumulates those pair sums and P the
 * running A before each word, so at the end of the group P's lanes are sum_i (7 - i) x (pair
 * sums of word i): the part of s that depends on a byte's word. The part that depends on its
 * place within the word is 4b0 + 3b1 + 2b2 + b3 = 3(b0+b1) + (b2+b3) + b0 + b2. Seven integer
 * ops per word instead of fourteen (0.43 -> 0.25 ms/MiB measured). Lanes never carry: A <= 8 x
 * 510, P <= 28 x 510 < 2^16, and P < 2^31 keeps V8 on int32 math. The sums a and s stay exact
 * doubles between reductions.
 */
export function adler32(state: number, data: Uint8Array, start = 0, end = data.length): number {
  let a = state & 0xffff;
  let s = state >>> 16;
  let i = start;
  if (LITTLE_ENDIAN) {
    while (i < end && (data.byteOffset + i) % 4 !== 0) {
      a += data[i++]!;
      s += a;
    }
    const words = (end - i) >>> 2;
    if (words > 0) {
      const w = new Uint32Array(data.buffer, data.byteOffset + i, words);
      let j = 0;
      while (j < words) {
        const stop = Math.min(j + ADLER_NMAX_WORDS, words);
        const stop8 = stop - 7;
        for (; j < stop8; j += 8) {
          let x = w[j]!;
          let lo = x & 0x00ff00ff;
          let A = lo + ((x >>> 8) & 0x00ff00ff);
          let B = lo;
          let P = 0;
          x = w[j + 1]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          x = w[j + 2]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          x = w[j + 3]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          x = w[j + 4]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          x = w[j + 5]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          x = w[j + 6]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          x = w[j + 7]!;
          lo = x & 0x00ff00ff;
          P += A;
          A += lo + ((x >>> 8) & 0x00ff00ff);
          B += lo;
          const u0 = A & 0xffff; // sum of bytes 0 and 1 over the 8 words
          const u1 = A >>> 16; // bytes 2 and 3
          s += 32 * a + 4 * ((P & 0xffff) + (P >>> 16)) + 3 * u0 + u1 + (B & 0xffff) + (B >>> 16);
          a += u0 + u1;
        }
        for (; j < stop; j++) {
          const x = w[j]!;
          const lo = x & 0x00ff00ff;
          const u = lo + ((x >>> 8) & 0x00ff00ff);
          const u0 = u & 0xffff;
          const u1 = u >>> 16;
          s += 4 * a + 3 * u0 + u1 + (lo & 0xffff) + (lo >>> 16);
          a += u0 + u1;
        }
        a %= ADLER_MOD;
        s %= ADLER_MOD;
      }
      i += words * 4;
    }
  }
  while (i < end) {
    const stop = Math.min(i + ADLER_NMAX, end);
    for (; i < stop; i++) {
      a += data[i]!;
      s += a;
    }
    a %= ADLER_MOD;
    s %= ADLER_MOD;
  }
  return ((s << 16) | a) >>> 0;
}

/** Adler-32 continued over `n` zero bytes, without touching memory. */
function adler32Zeros(state: number, n: number): number {
  const a = state & 0xffff;
  const s = ((state >>> 16) + (n % ADLER_MOD) * a) % ADLER_MOD;
  return ((s << 16) | a) >>> 0;
}

/**
 * Copies src into dst at offset off. TypedArray.prototype.set copies word by word with relaxed
 * atomics as soon as either side is a SharedArrayBuffer (measured 0.29 ms/MiB, 12x a memcpy), and
 * PixelFS's tile buffers are shared. Buffer#fill with a buffer value of exactly the range's
 * length is one native memcpy whatever the memory (0.024 ms/MiB).
 */
export function copyInto(dst: Uint8Array, off: number, src: Uint8Array): void {
  const n = src.length;
  if (n === 0) return;
  if (n < 256 || !(dst.buffer instanceof SharedArrayBuffer || src.buffer instanceof SharedArrayBuffer)) {
    dst.set(src, off);
    return;
  }
  if (off < 0 || off + n > dst.length) throw new RangeError(`copyInto: ${n} bytes at ${off} do not fit in ${dst.length}`);
  const d = Buffer.isBuffer(dst) ? dst : Buffer.from(dst.buffer, dst.byteOffset, dst.length);
  const v = Buffer.isBuffer(src) ? src : Buffer.from(src.buffer, src.byteOffset, n);
  d.fill(v, off, off + n);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Encoder

export interface EncodeOptions {
  /** 0 = payload stored uncompressed (trailing all-zero rows still deflated), 1..9 = zlib level. */
  level: number;
  /** sha256 of the payload if the caller already has it (hex); computed otherwise. */
  sha256?: string;
  /** Write the PNG into this buffer when it is large enough (recycling saves page faults). */
  into?: ArrayBuffer | SharedArrayBuffer;
}

/** A buffer of `n` bytes: a view over `into` from offset 0 when it is large enough, else fresh and
 * owning its ArrayBuffer (so either way `.buffer` can be transferred or shared with another thread). */
function outBuffer(n: number, into: ArrayBuffer | SharedArrayBuffer | undefined): Buffer {
  if (into && into.byteLength >= n) return Buffer.from(into, 0, n);
  return Buffer.allocUnsafeSlow(n);
}

function writeU32(out: Uint8Array, pos: number, v: number): void {
  out[pos] = v >>> 24;
  out[pos + 1] = (v >>> 16) & 0xff;
  out[pos + 2] = (v >>> 8) & 0xff;
  out[pos + 3] = v & 0xff;
}

function writeType(out: Uint8Array, pos: number, type: string): void {
  for (let i = 0; i < 4; i++) out[pos + i] = type.charCodeAt(i);
}

/** Writes a whole chunk whose data is already at pos+8..pos+8+len; returns the end offset. */
function sealChunk(out: Uint8Array, pos: number, type: string, len: number): number {
  writeU32(out, pos, len);
  writeType(out, pos + 4, type);
  writeU32(out, pos + 8 + len, crc32(out.subarray(pos + 4, pos + 8 + len)));
  return pos + 12 + len;
}

/**
 * Copies the scanline stream range [p, q) (filter bytes 0, payload, zero padding) into out at o.
 * The stream is what IDAT compresses: for each row, one filter byte then width*4 sample bytes.
 */
function fillScanlines(out: Uint8Array, o: number, payload: Uint8Array, rowBytes: number, p: number, q: number): void {
  const stride = rowBytes - 1;
  while (p < q) {
    const row = Math.floor(p / rowBytes);
    const col = p - row * rowBytes;
    if (col === 0) {
      out[o++] = 0;
      p++;
      continue;
    }
    const n = Math.min(q - p, rowBytes - col);
    const src = row * stride + col - 1;
    const have = Math.max(0, Math.min(n, payload.length - src));
    if (have > 0) copyInto(out, o, payload.subarray(src, src + have));
    if (have < n) out.fill(0, o + have, o + n);
    o += n;
    p += n;
  }
}

function buildIhdrAndMeta(out: Uint8Array, g: TileGeometry, length: number, shaHex: string): number {
  out.set(PNG_SIGNATURE, 0);
  let pos = 8;
  writeU32(out, pos + 8, g.width);
  writeU32(out, pos + 12, g.height);
  out[pos + 16] = 8; // bit depth
  out[pos + 17] = 6; // colour type RGBA
  out[pos + 18] = 0; // compression method
  out[pos + 19] = 0; // filter method
  out[pos + 20] = 0; // interlace: none
  pos = sealChunk(out, pos, 'IHDR', 13);
  const m = pos + 8;
  out[m] = META_VERSION;
  out[m + 1] = 0;
  out[m + 2] = 0;
  out[m + 3] = 0;
  writeU32(out, m + 4, length);
  out.set(Buffer.from(shaHex, 'hex'), m + 8);
  return sealChunk(out, pos, META_CHUNK, META_DATA_LENGTH);
}

const HEAD_BYTES = 8 + (12 + 13) + (12 + META_DATA_LENGTH);

/** Bytes of the PNG that level 0 writes for a full tile (the largest a level-0 tile gets). */
export function storedPngBytes(g: TileGeometry): number {
  const total = g.height * (g.width * 4 + 1);
  return HEAD_BYTES + 12 + (2 + total + 5 * Math.ceil(total / STORED_BLOCK_MAX) + 4) + 12;
}

/**
 * The raw deflate (level 9) of `n` zero bytes: the tail of every partly filled last tile. Level 9
 * over a 4 MiB run of zeros costs ~9 ms, more than storing the rest of the tile, and the result
 * depends only on n, which repeats (tensors of one shape end alike), so each thread keeps the
 * last few. The bytes are the same as before: the cache changes only the cost.
 */
const zeroTails = new Map<number, Buffer>();
const ZERO_TAILS_KEPT = 64;

function zeroTail(n: number): Buffer {
  let t = zeroTails.get(n);
  if (t) {
    zeroTails.delete(n); // most recently used goes last
  } else {
    t = zlib.deflateRawSync(Buffer.alloc(n), { level: 9 });
    if (zeroTails.size >= ZERO_TAILS_KEPT) zeroTails.delete(zeroTails.keys().next().value!);
  }
  zeroTails.set(n, t);
  return t;
}

let scanScratch: Buffer | null = null;
const SCAN_SCRATCH_MAX = 16 * 1024 * 1024;

/** Encodes one tile payload (0..width*height*4 bytes) as a PNG. */
export function encodeTile(payload: Uint8Array, g: TileGeometry, opts: EncodeOptions): Buffer {
  assertGeometry(g, 'encodeTile');
  assertLevel(opts.level, 'encodeTile');
  const cap = tileCapacity(g);
  if (payload.length > cap) {
    throw new PixelFsError(C.TILE_TOO_LARGE, `encodeTile: payload length ${payload.length} exceeds the tile capacity ${cap} (${g.width}x${g.height} RGBA8)`, {
      field: 'payload.length',
      value: payload.length,
    });
  }
  const shaHex = opts.sha256 ?? sha256Hex(payload);
  const rowBytes = g.width * 4 + 1;
  const total = g.height * rowBytes;

  if (opts.level === 0) return encodeStored(payload, g, shaHex, rowBytes, total, opts.into);

  // One scanline buffer per thread, reused (deflate reads it and keeps nothing); huge tiles get
  // their own so that a thread does not keep hundreds of MiB.
  let scan: Buffer;
  if (total > SCAN_SCRATCH_MAX) scan = Buffer.allocUnsafeSlow(total);
  else {
    if (!scanScratch || scanScratch.length < total) scanScratch = Buffer.allocUnsafeSlow(total);
    scan = scanScratch.subarray(0, total);
  }
  fillScanlines(scan, 0, payload, rowBytes, 0, total);
  const z = zlib.deflateSync(scan, { level: opts.level });
  const out = outBuffer(HEAD_BYTES + 12 + z.length + 12, opts.into);
  let pos = buildIhdrAndMeta(out, g, payload.length, shaHex);
  out.set(z, pos + 8);
  pos = sealChunk(out, pos, 'IDAT', z.length);
  sealChunk(out, pos, 'IEND', 0);
  return out;
}

/**
 * Level 0: the rows that hold payload go into stored deflate blocks written here (one copy, no
 * zlib call); the rows after the payload are all zeros and are appended as a raw deflate stream,
 * so a 1-byte file does not cost a full uncompressed tile. Stored blocks end byte-aligned, so
 * the two block sequences concatenate into one valid zlib stream.
 */
function encodeStored(payload: Uint8Array, g: TileGeometry, shaHex: string, rowBytes: number, total: number, into: ArrayBuffer | SharedArrayBuffer | undefined): Buffer {
  const stride = rowBytes - 1;
  const payloadRows = Math.ceil(payload.length / stride);
  const storedLen = payloadRows * rowBytes;
  const zeroLen = total - storedLen;
  const tail = zeroLen > 0 ? zeroTail(zeroLen) : null;
  const blocks = Math.ceil(storedLen / STORED_BLOCK_MAX);
  const zLen = 2 + storedLen + 5 * blocks + (tail ? tail.length : 0) + 4;
  const out = outBuffer(HEAD_BYTES + 12 + zLen + 12, into);
  const idat = buildIhdrAndMeta(out, g, payload.length, shaHex);
  let o = idat + 8;
  out[o++] = 0x78; // CM 8 (deflate), CINFO 7 (32 KiB window)
  out[o++] = 0x01; // FLEVEL 0, no dictionary; 0x7801 % 31 == 0
  let adler = 1;
  for (let b = 0; b < blocks; b++) {
    const p = b * STORED_BLOCK_MAX;
    const n = Math.min(STORED_BLOCK_MAX, storedLen - p);
    out[o] = b === blocks - 1 && !tail ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out[o + 1] = n & 0xff;
    out[o + 2] = n >>> 8;
    out[o + 3] = ~n & 0xff;
    out[o + 4] = (~n >>> 8) & 0xff;
    o += 5;
    fillScanlines(out, o, payload, rowBytes, p, p + n);
    adler = adler32(adler, out, o, o + n);
    o += n;
  }
  if (tail) {
    out.set(tail, o);
    o += tail.length;
    adler = adler32Zeros(adler, zeroLen);
  }
  writeU32(out, o, adler);
  const pos = sealChunk(out, idat, 'IDAT', zLen);
  sealChunk(out, pos, 'IEND', 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoder

export interface DecodeOptions {
  /** The volume's tile size: IHDR dimensions above these are refused before any allocation. */
  maxWidth: number;
  maxHeight: number;
  /** Payload length from the catalog; must agree with pxIF when both exist. */
  expectedLength?: number;
  /** sha256 (hex) from the catalog (the tile's address); must agree with pxIF when both exist. */
  expectedSha256?: string;
  /** Return the payload's sha256 even when there is nothing to compare it with. */
  computeSha256?: boolean;
  /** Names the input in messages (a path or "tile 3 of model.gguf"). */
  source?: string;
  /** Decode into this buffer when it holds width*height*4 bytes (recycling saves page faults). */
  into?: ArrayBuffer | SharedArrayBuffer;
}

export interface TileMeta {
  length: number;
  sha256: string;
}

export interface DecodedTile {
  /** Exactly the payload bytes: a view from offset 0 of `opts.into` or of a fresh ArrayBuffer. */
  payload: Buffer;
  width: number;
  height: number;
  meta: TileMeta | null;
  /** sha256 hex of the payload when it was checked or asked for, else null. */
  sha256: string | null;
  /** Bit t set when some row used filter type t (bit 0 = None). */
  filterMask: number;
}

function fail(code: PixelFsCode, src: string, msg: string, details: Record<string, unknown> = {}): never {
  throw new PixelFsError(code, `${src}: ${msg}`, { source: src, ...details });
}

const textDecoder = new TextDecoder('latin1');

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** Receives the decompressed scanline stream piece by piece and lays the rows out unfiltered-
 * pending: samples go straight to their place in `out`, filter types are remembered per row. */
class ScanSink {
  pos = 0;
  readonly filters: Uint8Array;
  mask = 0;
  private readonly stride: number;

  constructor(
    private readonly out: Uint8Array,
    private readonly rowBytes: number,
    private readonly total: number,
    height: number,
    private readonly src: string,
  ) {
    this.stride = rowBytes - 1;
    this.filters = new Uint8Array(height);
  }

  push(data: Uint8Array, s: number, e: number): void {
    if (e - s > this.total - this.pos) {
      fail(C.PNG_BAD_ZLIB, this.src, `image data exceeds the ${this.total} bytes the IHDR dimensions allow`, { field: 'IDAT', value: this.pos + (e - s) });
    }
    const rb = this.rowBytes;
    let p = this.pos;
    while (s < e) {
      const row = Math.floor(p / rb);
      const col = p - row * rb;
      if (col === 0) {
        const ft = data[s]!;
        if (ft > 4) fail(C.PNG_BAD_FILTER, this.src, `row ${row} has filter type ${ft} (PNG defines 0..4)`, { field: `row[${row}].filter`, value: ft });
        this.filters[row] = ft;
        this.mask |= 1 << ft;
        s++;
        p++;
        continue;
      }
      const n = Math.min(e - s, rb - col);
      copyInto(this.out, row * this.stride + col - 1, data.subarray(s, s + n));
      s += n;
      p += n;
    }
    this.pos = p;
  }
}

/** Undoes PNG filters 1..4 in place (rows already hold their filtered bytes); bpp = 4. */
function unfilter(out: Uint8Array, filters: Uint8Array, stride: number): void {
  for (let r = 0; r < filters.length; r++) {
    const ft = filters[r]!;
    if (ft === 0) continue;
    const o = r * stride;
    const u = o - stride; // previous row (already reconstructed); invalid when r == 0
    const hasUp = r > 0;
    switch (ft) {
      case 1:
        for (let i = 4; i < stride; i++) out[o + i] = (out[o + i]! + out[o + i - 4]!) & 0xff;
        break;
      case 2:
        if (hasUp) for (let i = 0; i < stride; i++) out[o + i] = (out[o + i]! + out[u + i]!) & 0xff;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= 4 ? out[o + i - 4]! : 0;
          const up = hasUp ? out[u + i]! : 0;
          out[o + i] = (out[o + i]! + ((left + up) >>> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= 4 ? out[o + i - 4]! : 0;
          const b = hasUp ? out[u + i]! : 0;
          const c = hasUp && i >= 4 ? out[u + i - 4]! : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          out[o + i] = (out[o + i]! + pred) & 0xff;
        }
        break;
    }
  }
}

/**
 * Fast path for zlib streams made only of stored blocks (what level 0 writes for full tiles):
 * copies each block straight into place. Returns false at the first compressed block so the
 * caller inflates the whole stream instead. Adler-32 is checked only when `checkAdler` (when a
 * sha256 check follows, that check is strictly stronger).
 */
function tryStored(idat: Uint8Array, sink: ScanSink, src: string, checkAdler: boolean): boolean {
  const r = new ByteReader(idat, src, 0, (e) =>
    new PixelFsError(C.PNG_BAD_ZLIB, `${src}: zlib stream ends inside ${e.field} at IDAT offset ${e.offset} (needs ${e.need} bytes, ${e.available} left)`, { source: src, field: e.field, value: e.offset }),
  );
  r.skip(2, 'zlib header'); // validated by the caller
  let adler = 1;
  for (;;) {
    const hdr = r.u8('deflate block header');
    if (((hdr >>> 1) & 3) !== 0) return false;
    const len = r.u16('stored block LEN');
    const nlen = r.u16('stored block NLEN');
    if ((len ^ 0xffff) !== nlen) fail(C.PNG_BAD_ZLIB, src, `stored block at IDAT offset ${r.offset - 5} has LEN ${len} and NLEN ${nlen}, which are not complements`, { field: 'NLEN', value: nlen });
    const start = r.offset;
    r.skip(len, 'stored block data');
    sink.push(idat, start, start + len);
    if (checkAdler) adler = adler32(adler, idat, start, start + len);
    if (hdr & 1) break;
  }
  const stored = r.u32be('Adler-32 trailer');
  if (checkAdler && stored !== adler) {
    fail(C.PNG_BAD_ZLIB, src, `Adler-32 ${stored.toString(16)} does not match the data (${adler.toString(16)})`, { field: 'adler32', value: stored });
  }
  return true;
}

/** Decodes one tile PNG; throws a PixelFsError naming `opts.source`, the field and the value. */
export function decodeTile(png: Uint8Array, opts: DecodeOptions): DecodedTile {
  const src = opts.source ?? 'tile PNG';
  if (png.length < 8 || PNG_SIGNATURE.some((b, i) => png[i] !== b)) {
    fail(C.PNG_BAD_SIGNATURE, src, `does not start with the PNG signature (first bytes ${Buffer.from(png.subarray(0, 8)).toString('hex')})`, { field: 'signature' });
  }
  const r = new ByteReader(png, src, 0, (e) =>
    new PixelFsError(C.PNG_TRUNCATED, `${src}: ${e.field} at offset ${e.offset} needs ${e.need} bytes but only ${e.available} remain`, { source: src, field: e.field, value: e.need }),
  );
  r.skip(8, 'PNG signature'); // checked above

  let width = 0;
  let height = 0;
  let seenIhdr = false;
  let seenIend = false;
  let meta: TileMeta | null = null;
  const idats: Uint8Array[] = [];
  let idatClosed = false; // a non-IDAT chunk followed the IDAT run

  while (r.remaining > 0) {
    if (r.remaining < 8) fail(C.PNG_TRUNCATED, src, `chunk header at offset ${r.offset} needs 8 bytes but only ${r.remaining} remain`, { field: 'chunk header', value: r.remaining });
    const chunkAt = r.offset;
    const len = r.u32be('chunk length');
    const typeBytes = r.bytesView(4, 'chunk type');
    if (!typeBytes.every(isLetter)) {
      fail(C.PNG_UNKNOWN_CRITICAL_CHUNK, src, `chunk at offset ${chunkAt} has type bytes ${Buffer.from(typeBytes).toString('hex')}, which are not ASCII letters`, { field: 'chunk type', value: Buffer.from(typeBytes).toString('hex') });
    }
    const type = textDecoder.decode(typeBytes);
    if (len > 0x7fffffff) fail(C.PNG_TRUNCATED, src, `${type} chunk at offset ${chunkAt} declares length ${len} (PNG caps lengths at 2^31-1)`, { field: `${type}.length`, value: len });
    const data = r.bytesView(len, `${type} chunk data`);
    const stored = r.u32be(`${type} chunk CRC`);
    const actual = crc32(png.subarray(chunkAt + 4, chunkAt + 8 + len));
    if (stored !== actual) {
      fail(C.PNG_BAD_CRC, src, `${type} chunk at offset ${chunkAt} has CRC ${stored.toString(16).padStart(8, '0')} but its bytes give ${actual.toString(16).padStart(8, '0')}`, { field: `${type}.crc`, value: stored });
    }

    if (!seenIhdr && type !== 'IHDR') fail(C.PNG_BAD_CHUNK_ORDER, src, `first chunk is ${type}, expected IHDR`, { field: 'chunk order', value: type });
    if (idats.length > 0 && type !== 'IDAT') idatClosed = true;

    switch (type) {
      case 'IHDR': {
        if (seenIhdr) fail(C.PNG_BAD_CHUNK_ORDER, src, `second IHDR chunk at offset ${chunkAt}`, { field: 'IHDR', value: chunkAt });
        seenIhdr = true;
        if (len !== 13) fail(C.PNG_UNSUPPORTED_FORMAT, src, `IHDR length ${len}, expected 13`, { field: 'IHDR.length', value: len });
        const h = new ByteReader(data, `${src} IHDR`); // 13 bytes, checked above
        width = h.u32be('width');
        height = h.u32be('height');
        const depth = h.u8('bit depth');
        const colour = h.u8('colour type');
        const comp = h.u8('compression method');
        const filt = h.u8('filter method');
        const interlace = h.u8('interlace method');
        if (width < 1 || width > opts.maxWidth) fail(C.PNG_BAD_DIMENSIONS, src, `IHDR width ${width} is outside 1..${opts.maxWidth} (the volume's tile width)`, { field: 'IHDR.width', value: width });
        if (height < 1 || height > opts.maxHeight) fail(C.PNG_BAD_DIMENSIONS, src, `IHDR height ${height} is outside 1..${opts.maxHeight} (the volume's tile height)`, { field: 'IHDR.height', value: height });
        if (depth !== 8) fail(C.PNG_UNSUPPORTED_FORMAT, src, `IHDR bit depth ${depth}, tiles are 8-bit`, { field: 'IHDR.bitDepth', value: depth });
        if (colour !== 6) fail(C.PNG_UNSUPPORTED_FORMAT, src, `IHDR colour type ${colour}, tiles are RGBA (6)`, { field: 'IHDR.colourType', value: colour });
        if (comp !== 0) fail(C.PNG_UNSUPPORTED_FORMAT, src, `IHDR compression method ${comp}, PNG defines only 0`, { field: 'IHDR.compression', value: comp });
        if (filt !== 0) fail(C.PNG_UNSUPPORTED_FORMAT, src, `IHDR filter method ${filt}, PNG defines only 0`, { field: 'IHDR.filterMethod', value: filt });
        if (interlace !== 0) fail(C.PNG_UNSUPPORTED_FORMAT, src, `IHDR interlace method ${interlace}, tiles are not interlaced`, { field: 'IHDR.interlace', value: interlace });
        break;
      }
      case 'IDAT':
        if (idatClosed) fail(C.PNG_BAD_CHUNK_ORDER, src, `IDAT chunk at offset ${chunkAt} is not contiguous with the earlier IDAT chunks`, { field: 'IDAT', value: chunkAt });
        idats.push(data);
        break;
      case 'IEND':
        if (len !== 0) fail(C.PNG_BAD_CHUNK_ORDER, src, `IEND chunk carries ${len} data bytes`, { field: 'IEND.length', value: len });
        seenIend = true;
        break;
      case META_CHUNK: {
        if (meta) fail(C.PNG_BAD_META, src, `second ${META_CHUNK} chunk at offset ${chunkAt}`, { field: META_CHUNK, value: chunkAt });
        if (len !== META_DATA_LENGTH) fail(C.PNG_BAD_META, src, `${META_CHUNK} length ${len}, expected ${META_DATA_LENGTH}`, { field: `${META_CHUNK}.length`, value: len });
        if (data[0] !== META_VERSION) fail(C.PNG_BAD_META, src, `${META_CHUNK} version ${data[0]}, this reader knows ${META_VERSION}`, { field: `${META_CHUNK}.version`, value: data[0] });
        const m = new ByteReader(data, `${src} ${META_CHUNK}`); // META_DATA_LENGTH bytes, checked above
        m.skip(4, 'version and 3 reserved bytes');
        meta = { length: m.u32be('length'), sha256: Buffer.from(m.bytesView(32, 'sha256')).toString('hex') };
        break;
      }
      case 'PLTE':
        break; // allowed (a suggested palette) for colour type 6; never applied
      default:
        // Bit 5 of the first byte: uppercase = critical. We must not skip what we do not know.
        if ((typeBytes[0]! & 0x20) === 0) fail(C.PNG_UNKNOWN_CRITICAL_CHUNK, src, `unknown critical chunk ${type} at offset ${chunkAt}`, { field: 'chunk type', value: type });
        // Ancillary chunks (gAMA, sRGB, tEXt, ... from a re-saving tool) are ignored, never applied.
        break;
    }
    if (seenIend) break; // bytes after IEND are not part of the image
  }
  if (!seenIend) fail(C.PNG_MISSING_IEND, src, `no IEND chunk before the end of the input (${png.length} bytes)`, { field: 'IEND', value: png.length });
  if (idats.length === 0) fail(C.PNG_BAD_CHUNK_ORDER, src, 'no IDAT chunk', { field: 'IDAT', value: 0 });

  const stride = width * 4;
  const cap = stride * height;
  let length = cap;
  if (meta) {
    if (meta.length > cap) fail(C.PNG_BAD_META, src, `${META_CHUNK} payload length ${meta.length} exceeds the ${width}x${height} image capacity ${cap}`, { field: `${META_CHUNK}.length`, value: meta.length });
    length = meta.length;
  }
  if (opts.expectedLength !== undefined) {
    if (opts.expectedLength > cap) fail(C.PNG_BAD_DIMENSIONS, src, `expected payload length ${opts.expectedLength} exceeds the ${width}x${height} image capacity ${cap}`, { field: 'expectedLength', value: opts.expectedLength });
    if (meta && meta.length !== opts.expectedLength) fail(C.PNG_BAD_META, src, `${META_CHUNK} payload length ${meta.length} differs from the expected ${opts.expectedLength}`, { field: `${META_CHUNK}.length`, value: meta.length });
    length = opts.expectedLength;
  }
  let wantSha: string | undefined = meta?.sha256;
  if (opts.expectedSha256 !== undefined) {
    if (meta && meta.sha256 !== opts.expectedSha256) fail(C.TILE_CHECKSUM_MISMATCH, src, `${META_CHUNK} sha256 ${meta.sha256} differs from the expected ${opts.expectedSha256}`, { field: `${META_CHUNK}.sha256`, value: meta.sha256 });
    wantSha = opts.expectedSha256;
  }

  const idat = idats.length === 1 ? idats[0]! : Buffer.concat(idats);
  if (idat.length < 2) fail(C.PNG_BAD_ZLIB, src, `IDAT holds ${idat.length} bytes, too short for a zlib header`, { field: 'zlib header', value: idat.length });
  const cmf = idat[0]!;
  const flg = idat[1]!;
  if ((cmf & 0x0f) !== 8 || cmf >>> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) {
    fail(C.PNG_BAD_ZLIB, src, `zlib header ${cmf.toString(16)} ${flg.toString(16)} is not deflate without a preset dictionary`, { field: 'zlib header', value: (cmf << 8) | flg });
  }

  const rowBytes = stride + 1;
  const total = rowBytes * height;
  const out = outBuffer(cap, opts.into);
  let sink = new ScanSink(out, rowBytes, total, height, src);
  if (!tryStored(idat, sink, src, wantSha === undefined)) {
    let raw: Buffer;
    try {
      raw = zlib.inflateSync(idat, { maxOutputLength: total });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE') fail(C.PNG_BAD_ZLIB, src, `IDAT inflates to more than the ${total} bytes the IHDR dimensions allow`, { field: 'IDAT', value: total });
      fail(C.PNG_BAD_ZLIB, src, `IDAT does not inflate: ${err.message}`, { field: 'IDAT', value: err.code ?? null });
    }
    sink = new ScanSink(out, rowBytes, total, height, src);
    sink.push(raw, 0, raw.length);
  }
  if (sink.pos !== total) fail(C.PNG_BAD_ZLIB, src, `image data holds ${sink.pos} bytes, the IHDR dimensions need ${total}`, { field: 'IDAT', value: sink.pos });
  if (sink.mask & ~1) unfilter(out, sink.filters, stride);

  for (let i = length; i < cap; i++) {
    if (out[i] !== 0) fail(C.TILE_PADDING_NOT_ZERO, src, `padding byte at payload offset ${i} is ${out[i]}, padding must be zero (payload length ${length})`, { field: 'padding', value: i });
  }
  const payload = out.subarray(0, length);
  let sha: string | null = null;
  if (wantSha !== undefined || opts.computeSha256) sha = sha256Hex(payload);
  if (wantSha !== undefined && sha !== wantSha) {
    fail(C.TILE_CHECKSUM_MISMATCH, src, `payload sha256 ${sha} differs from the expected ${wantSha}`, { field: 'sha256', value: sha, expected: wantSha });
  }
  return { payload, width, height, meta, sha256: sha, filterMask: sink.mask };
}
