/**
 * The tile decoder. It treats its input as hostile: every length is bounds-checked, every CRC
 * verified, dimensions capped by the caller's limits before anything is allocated, and inflation
 * is capped at the exact expected size. Failures are PixelFsErrors naming the source, the field
 * and the value.
 */
import zlib from 'node:zlib';
import { ByteReader } from '../../shared/binary/byte-reader';
import { PixelFsCodes as C, PixelFsError, type PixelFsCode } from './errors';
import { adler32, copyInto, crc32, outBuffer, sha256Hex } from './tile-bytes';
import { META_CHUNK, META_DATA_LENGTH, META_VERSION, PNG_SIGNATURE } from './tile-format';

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
