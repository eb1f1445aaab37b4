/**
 * The tile encoder: one payload -> one PNG, exactly signature, IHDR (8-bit, colour type 6, no
 * interlace), pxIF (payload length + sha256), one IDAT (every row filter 0), IEND. No
 * gAMA/cHRM/sRGB/iCCP, so no decoder alters a value. Level 0 stores the payload uncompressed.
 */
import zlib from 'node:zlib';
import { PixelFsCodes as C, PixelFsError } from './errors';
import { adler32, adler32Zeros, copyInto, crc32, outBuffer, sha256Hex } from './tile-bytes';
import { META_CHUNK, META_DATA_LENGTH, META_VERSION, PNG_SIGNATURE, STORED_BLOCK_MAX, assertGeometry, assertLevel, tileCapacity, type TileGeometry } from './tile-format';

export interface EncodeOptions {
  /** 0 = payload stored uncompressed (trailing all-zero rows still deflated), 1..9 = zlib level. */
  level: number;
  /** sha256 of the payload if the caller already has it (hex); computed otherwise. */
  sha256?: string;
  /** Write the PNG into this buffer when it is large enough (recycling saves page faults). */
  into?: ArrayBuffer | SharedArrayBuffer;
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

