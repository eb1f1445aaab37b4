import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { PixelFsCodes as C, PixelFsError } from '../../electron/pixelfs/errors';
import { adler32, crc32, decodeTile, encodeTile, sha256Hex, tileCapacity, type TileGeometry } from '../../electron/pixelfs/tile-codec';

// Odd, non-square geometry on purpose: rows of 148 bytes do not divide the 65535-byte stored blocks.
const G: TileGeometry = { width: 37, height: 23 };
const CAP = tileCapacity(G);
const LIMITS = { maxWidth: G.width, maxHeight: G.height };

interface Chunk {
  type: string;
  data: Buffer;
}

function chunks(png: Uint8Array): Chunk[] {
  const out: Chunk[] = [];
  const b = Buffer.from(png);
  for (let p = 8; p < b.length; ) {
    const len = b.readUInt32BE(p);
    out.push({ type: b.toString('latin1', p + 4, p + 8), data: Buffer.from(b.subarray(p + 8, p + 8 + len)) });
    p += 12 + len;
  }
  return out;
}

function build(list: Chunk[], sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])): Buffer {
  const parts: Buffer[] = [sig];
  for (const c of list) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(c.data.length, 0);
    head.write(c.type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), c.data])), 0);
    parts.push(head, c.data, crc);
  }
  return Buffer.concat(parts);
}

function ihdr(w: number, h: number, depth = 8, colour = 6, comp = 0, filter = 0, interlace = 0): Chunk {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0);
  d.writeUInt32BE(h, 4);
  d.set([depth, colour, comp, filter, interlace], 8);
  return { type: 'IHDR', data: d };
}

/** Scanlines for a payload with the given filter byte on every row (the bytes themselves unfiltered). */
function scanlines(payload: Uint8Array, g: TileGeometry, filterByte = 0): Buffer {
  const stride = g.width * 4;
  const out = Buffer.alloc(g.height * (stride + 1));
  for (let r = 0; r < g.height; r++) {
    out[r * (stride + 1)] = filterByte;
    out.set(payload.subarray(r * stride, Math.min(payload.length, (r + 1) * stride)), r * (stride + 1) + 1);
  }
  return out;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PixelFsError);
    return (e as PixelFsError).code;
  }
  throw new Error('expected a PixelFsError, nothing was thrown');
}

describe('tile codec: round trip', () => {
  it.each([0, 1, 3, 4, 147, 148, 149, CAP - 1, CAP])('payload of %i bytes, levels 0/1/9, bit-exact, padding zero', (len) => {
    const payload = randomBytes(len);
    for (const level of [0, 1, 9]) {
      const png = encodeTile(payload, G, { level });
      const d = decodeTile(png, LIMITS);
      expect(Buffer.compare(d.payload, payload)).toBe(0);
      expect(d.meta).toEqual({ length: len, sha256: sha256Hex(payload) });
      expect(d.sha256).toBe(sha256Hex(payload));
      expect(d.filterMask).toBe(1); // filter 0 only
      // A standard decoder sees the same bytes and zero padding.
      const std = PNG.sync.read(png);
      expect(std.width).toBe(G.width);
      expect(Buffer.compare(std.data.subarray(0, len), payload)).toBe(0);
      expect(std.data.subarray(len).every((b) => b === 0)).toBe(true);
    }
  });

  it('writes exactly IHDR, pxIF, one IDAT, IEND: no colour-management chunks, RGBA8, no interlace', () => {
    const png = encodeTile(randomBytes(500), G, { level: 0 });
    const list = chunks(png);
    expect(list.map((c) => c.type)).toEqual(['IHDR', 'pxIF', 'IDAT', 'IEND']);
    expect([...list[0]!.data.subarray(8)]).toEqual([8, 6, 0, 0, 0]);
    // Every scanline uses filter 0 (inflate the stream and look at each row's first byte).
    const raw = zlib.inflateSync(list[2]!.data);
    for (let r = 0; r < G.height; r++) expect(raw[r * (G.width * 4 + 1)]).toBe(0);
  });

  it('level 0 stores the payload rows uncompressed but deflates the zero rows after a short payload', () => {
    const big = { width: 256, height: 256 };
    const full = encodeTile(randomBytes(tileCapacity(big)), big, { level: 0 });
    const tiny = encodeTile(randomBytes(10), big, { level: 0 });
    expect(full.length).toBeGreaterThan(tileCapacity(big));
    expect(tiny.length).toBeLessThan(4096);
    expect(Buffer.compare(decodeTile(tiny, { maxWidth: 256, maxHeight: 256 }).payload.subarray(0, 10), decodeTile(tiny, { maxWidth: 256, maxHeight: 256 }).payload)).toBe(0);
  });

  it('is deterministic (same bytes, same PNG) so identical tiles dedupe by address', () => {
    const p = randomBytes(CAP - 7);
    expect(Buffer.compare(encodeTile(p, G, { level: 0 }), encodeTile(p, G, { level: 0 }))).toBe(0);
    expect(Buffer.compare(encodeTile(p, G, { level: 6 }), encodeTile(p, G, { level: 6 }))).toBe(0);
  });

  it('reads PNGs re-saved by another tool with filters 1..4 (pngjs) and without pxIF', () => {
    const payload = randomBytes(CAP);
    // Low-entropy rows as well, so adaptive filtering picks non-zero filters.
    for (let i = 0; i < CAP / 2; i++) payload[i] = (i * 7) & 0xff;
    for (const filterType of [1, 2, 3, 4, -1]) {
      const img = new PNG({ width: G.width, height: G.height });
      payload.copy(img.data);
      const png = PNG.sync.write(img, { filterType } as never);
      const d = decodeTile(png, { ...LIMITS, expectedSha256: sha256Hex(payload) });
      expect(Buffer.compare(d.payload, payload)).toBe(0);
      expect(d.meta).toBeNull();
      if (filterType > 0) expect(d.filterMask & (1 << filterType)).not.toBe(0);
    }
  });

  it('1024x1024 interop: a 4 MiB tile survives pngjs in both directions', () => {
    const g = { width: 1024, height: 1024 };
    const payload = randomBytes(tileCapacity(g) - 12345);
    const png = encodeTile(payload, g, { level: 0 });
    const std = PNG.sync.read(png);
    expect(Buffer.compare(std.data.subarray(0, payload.length), payload)).toBe(0);
    const back = PNG.sync.write(std, { filterType: 4 } as never);
    expect(Buffer.compare(decodeTile(back, { maxWidth: 1024, maxHeight: 1024, expectedLength: payload.length }).payload, payload)).toBe(0);
  });

  it('adler32 agrees with zlib (the trailer of a zlib stream) at any alignment, length and split', () => {
    const big = randomBytes(300_000).fill(0xff, 0, 30_000); // all-0xff: worst case for the running sums
    const zlibAdler = (b: Uint8Array): number => {
      const z = zlib.deflateSync(b, { level: 0 });
      return z.readUInt32BE(z.length - 4);
    };
    for (const n of [0, 1, 3, 4, 15, 16, 17, 5551, 5552, 5553, 22_208, 100_003]) {
      for (const off of [0, 1, 2, 3, 5]) {
        const b = big.subarray(off, off + n);
        expect(adler32(1, b)).toBe(zlibAdler(b));
      }
    }
    // Continuing the state across pieces (as the encoder does block by block).
    const whole = big.subarray(7, 250_007);
    let st = 1;
    for (let p = 0; p < whole.length; p += 65_535) st = adler32(st, whole, p, Math.min(whole.length, p + 65_535));
    expect(st).toBe(zlibAdler(whole));
  });
});

describe('tile codec: hostile input', () => {
  const payload = randomBytes(CAP);
  const good = encodeTile(payload, G, { level: 0 });
  const goodChunks = chunks(good);
  const idat = goodChunks[2]!.data;
  const stored = (p: Uint8Array, filterByte = 0): Buffer => zlib.deflateSync(scanlines(p, G, filterByte), { level: 0 });
  const withIdat = (data: Buffer, extra: Chunk[] = []): Buffer => build([ihdr(G.width, G.height), ...extra, { type: 'IDAT', data }, { type: 'IEND', data: Buffer.alloc(0) }]);

  // Each class of malformation and the exact code it must produce (GUIDE §3: a matrix, not a sample).
  const cases: [string, () => Uint8Array, string, object?][] = [
    ['empty input', () => new Uint8Array(0), C.PNG_BAD_SIGNATURE],
    ['wrong signature', () => Buffer.concat([Buffer.from('GIF89a..'), good.subarray(8)]), C.PNG_BAD_SIGNATURE],
    ['cut inside IDAT', () => good.subarray(0, good.length - 100), C.PNG_TRUNCATED],
    ['cut inside a chunk header', () => good.subarray(0, 8 + 25 + 5), C.PNG_TRUNCATED],
    [
      'chunk length past the end',
      () => {
        const b = Buffer.from(good);
        b.writeUInt32BE(0x7ffffff0, 8 + 25 + 52);
        return b;
      },
      C.PNG_TRUNCATED,
    ],
    [
      'chunk length above 2^31-1',
      () => {
        const b = Buffer.from(good);
        b.writeUInt32BE(0xfffffff0, 8);
        return b;
      },
      C.PNG_TRUNCATED,
    ],
    [
      'CRC mismatch (one IDAT byte flipped)',
      () => {
        const b = Buffer.from(good);
        b[b.length - 40] ^= 0x10;
        return b;
      },
      C.PNG_BAD_CRC,
    ],
    ['IHDR width above the tile width', () => build([ihdr(G.width + 1, G.height), ...goodChunks.slice(1)]), C.PNG_BAD_DIMENSIONS],
    ['IHDR height above the tile height', () => build([ihdr(G.width, G.height + 1), ...goodChunks.slice(1)]), C.PNG_BAD_DIMENSIONS],
    ['IHDR width 0', () => build([ihdr(0, G.height), ...goodChunks.slice(1)]), C.PNG_BAD_DIMENSIONS],
    ['IHDR 2^31-1 x 2^31-1 (allocation bomb)', () => build([ihdr(0x7fffffff, 0x7fffffff), ...goodChunks.slice(1)]), C.PNG_BAD_DIMENSIONS],
    ['bit depth 16', () => build([ihdr(G.width, G.height, 16), ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['colour type 2 (RGB)', () => build([ihdr(G.width, G.height, 8, 2), ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['colour type 3 (palette)', () => build([ihdr(G.width, G.height, 8, 3), ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['compression method 1', () => build([ihdr(G.width, G.height, 8, 6, 1), ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['filter method 1', () => build([ihdr(G.width, G.height, 8, 6, 0, 1), ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['Adam7 interlace', () => build([ihdr(G.width, G.height, 8, 6, 0, 0, 1), ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['IHDR of 12 bytes', () => build([{ type: 'IHDR', data: ihdr(G.width, G.height).data.subarray(0, 12) }, ...goodChunks.slice(1)]), C.PNG_UNSUPPORTED_FORMAT],
    ['missing IEND', () => build(goodChunks.slice(0, 3)), C.PNG_MISSING_IEND],
    ['IEND with data', () => build([...goodChunks.slice(0, 3), { type: 'IEND', data: Buffer.from('x') }]), C.PNG_BAD_CHUNK_ORDER],
    ['first chunk not IHDR', () => build([goodChunks[1]!, goodChunks[0]!, ...goodChunks.slice(2)]), C.PNG_BAD_CHUNK_ORDER],
    ['second IHDR', () => build([goodChunks[0]!, goodChunks[0]!, ...goodChunks.slice(1)]), C.PNG_BAD_CHUNK_ORDER],
    [
      'IDAT chunks not contiguous',
      () => build([ihdr(G.width, G.height), { type: 'IDAT', data: idat.subarray(0, 100) }, { type: 'tEXt', data: Buffer.from('a\0b') }, { type: 'IDAT', data: idat.subarray(100) }, goodChunks[3]!]),
      C.PNG_BAD_CHUNK_ORDER,
    ],
    ['no IDAT', () => build([ihdr(G.width, G.height), { type: 'IEND', data: Buffer.alloc(0) }]), C.PNG_BAD_CHUNK_ORDER],
    ['unknown critical chunk', () => build([goodChunks[0]!, { type: 'ZZZZ', data: Buffer.alloc(3) }, ...goodChunks.slice(1)]), C.PNG_UNKNOWN_CRITICAL_CHUNK],
    ['chunk type not letters', () => build([goodChunks[0]!, { type: 'a1b2', data: Buffer.alloc(3) }, ...goodChunks.slice(1)]), C.PNG_UNKNOWN_CRITICAL_CHUNK],
    ['filter type 5', () => withIdat(stored(payload, 5)), C.PNG_BAD_FILTER],
    ['filter type 255 (compressed stream)', () => withIdat(zlib.deflateSync(scanlines(payload, G, 255), { level: 6 })), C.PNG_BAD_FILTER],
    ['decompression bomb: 64 MiB of zeros behind a 37x23 IHDR', () => withIdat(zlib.deflateSync(Buffer.alloc(64 << 20), { level: 9 })), C.PNG_BAD_ZLIB],
    ['stored blocks holding more than the image', () => withIdat(zlib.deflateSync(Buffer.concat([scanlines(payload, G), Buffer.alloc(10)]), { level: 0 })), C.PNG_BAD_ZLIB],
    ['image data one byte short', () => withIdat(zlib.deflateSync(scanlines(payload, G).subarray(0, -1), { level: 6 })), C.PNG_BAD_ZLIB],
    ['stored image data one byte short', () => withIdat(zlib.deflateSync(scanlines(payload, G).subarray(0, -1), { level: 0 })), C.PNG_BAD_ZLIB],
    ['garbage deflate data', () => withIdat(Buffer.concat([Buffer.from([0x78, 0x9c]), randomBytes(300).fill(0xfe, 0, 1)])), C.PNG_BAD_ZLIB],
    ['zlib header not deflate', () => withIdat(Buffer.concat([Buffer.from([0x79, 0x9c]), idat.subarray(2)])), C.PNG_BAD_ZLIB],
    ['zlib preset dictionary flag', () => withIdat(Buffer.concat([Buffer.from([0x78, 0xbb]), idat.subarray(2)])), C.PNG_BAD_ZLIB],
    [
      'stored block NLEN not the complement of LEN',
      () => {
        const z = Buffer.from(idat);
        z[5] ^= 0x01;
        return withIdat(z, [goodChunks[1]!]);
      },
      C.PNG_BAD_ZLIB,
    ],
    [
      'Adler-32 wrong (no sha256 to rely on)',
      () => {
        const z = stored(payload);
        z[z.length - 1] ^= 0x01;
        return withIdat(z);
      },
      C.PNG_BAD_ZLIB,
    ],
    [
      'payload changed, pxIF sha256 kept (CRC and Adler-32 fixed up)',
      () => {
        const p2 = Buffer.from(payload);
        p2[100] ^= 0x01;
        return withIdat(stored(p2), [goodChunks[1]!]);
      },
      C.TILE_CHECKSUM_MISMATCH,
    ],
    ['pxIF of 39 bytes', () => withIdat(idat, [{ type: 'pxIF', data: goodChunks[1]!.data.subarray(0, 39) }]), C.PNG_BAD_META],
    ['pxIF version 2', () => withIdat(idat, [{ type: 'pxIF', data: Buffer.concat([Buffer.from([2]), goodChunks[1]!.data.subarray(1)]) }]), C.PNG_BAD_META],
    [
      'pxIF length above the capacity',
      () => {
        const m = Buffer.from(goodChunks[1]!.data);
        m.writeUInt32BE(CAP + 1, 4);
        return withIdat(idat, [{ type: 'pxIF', data: m }]);
      },
      C.PNG_BAD_META,
    ],
    ['two pxIF chunks', () => withIdat(idat, [goodChunks[1]!, goodChunks[1]!]), C.PNG_BAD_META],
    ['padding not zero (catalog length shorter than the pixels hold)', () => withIdat(stored(payload)), C.TILE_PADDING_NOT_ZERO, { expectedLength: 100 }],
    ['catalog sha256 differs from pxIF', () => good, C.TILE_CHECKSUM_MISMATCH, { expectedSha256: '0'.repeat(64) }],
    ['catalog length differs from pxIF', () => good, C.PNG_BAD_META, { expectedLength: 5 }],
    ['catalog length above the capacity', () => withIdat(idat), C.PNG_BAD_DIMENSIONS, { expectedLength: CAP + 1 }],
  ];

  it.each(cases.map(([n, make, want, extra]) => [`${n} -> ${want}`, make, want, extra] as const))('%s', (_name, make, want, extra) => {
    expect(code(() => decodeTile(make(), { ...LIMITS, source: 'hostile.png', ...(extra ?? {}) }))).toBe(want);
  });

  it('messages name the input, the field and the value', () => {
    try {
      decodeTile(build([ihdr(G.width, 99999), ...goodChunks.slice(1)]), { ...LIMITS, source: 'tiles/ab/x.png' });
      expect.unreachable();
    } catch (e) {
      const err = e as PixelFsError;
      expect(err.message).toContain('tiles/ab/x.png');
      expect(err.message).toContain('IHDR height 99999');
      expect(err.details).toMatchObject({ field: 'IHDR.height', value: 99999 });
    }
  });

  it('the good PNG itself decodes, and ancillary chunks (gAMA, sRGB, tEXt) are ignored, not applied', () => {
    expect(Buffer.compare(decodeTile(good, LIMITS).payload, payload)).toBe(0);
    const gama = Buffer.alloc(4);
    gama.writeUInt32BE(100000, 0);
    const png = withIdat(idat, [goodChunks[1]!, { type: 'gAMA', data: gama }, { type: 'sRGB', data: Buffer.from([0]) }, { type: 'tEXt', data: Buffer.from('k\0v') }]);
    expect(Buffer.compare(decodeTile(png, LIMITS).payload, payload)).toBe(0);
  });

  it('seeded fuzz: random single-byte corruptions never escape as anything but a PixelFsError or the true payload', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      const b = Buffer.from(good);
      const at = rand(b.length);
      b[at] ^= 1 + rand(255);
      try {
        const d = decodeTile(b, LIMITS);
        expect(Buffer.compare(d.payload, payload)).toBe(0); // only harmless bytes (e.g. after IEND) may change
      } catch (e) {
        expect(e).toBeInstanceOf(PixelFsError);
      }
    }
  });
});
