// shared/binary: the bounds-checked reader, the writer, byte sources and checked arithmetic.
import { describe, expect, it } from 'vitest';
import { ByteRangeError, ByteReader } from '../../shared/binary/byte-reader';
import { memorySource, readExact, type ByteSource } from '../../shared/binary/byte-source';
import { ByteValueError, ByteWriter } from '../../shared/binary/byte-writer';
import { swapBytesInPlace } from '../../shared/binary/endian';
import { addSafe, alignUpSafe, isPowerOfTwo, mulSafe } from '../../shared/binary/safe-int';
import { rng } from './gguf-gen';

describe('ByteWriter → ByteReader', () => {
  it('round-trips every width across buffer growth', () => {
    const r = rng(7);
    const w = new ByteWriter(16); // tiny: forces many reallocations mid-write
    const ops: [string, number | bigint][] = [];
    for (let i = 0; i < 2000; i++) {
      switch (Math.floor(r() * 11)) {
        case 0: { const v = Math.floor(r() * 256); w.u8(v); ops.push(['u8', v]); break; }
        case 1: { const v = Math.floor(r() * 256) - 128; w.i8(v); ops.push(['i8', v]); break; }
        case 2: { const v = Math.floor(r() * 65536); w.u16(v); ops.push(['u16', v]); break; }
        case 3: { const v = Math.floor(r() * 65536) - 32768; w.i16(v); ops.push(['i16', v]); break; }
        case 4: { const v = Math.floor(r() * 2 ** 32); w.u32(v); ops.push(['u32', v]); break; }
        case 5: { const v = Math.floor(r() * 2 ** 32) - 2 ** 31; w.i32(v); ops.push(['i32', v]); break; }
        case 6: { const v = BigInt(Math.floor(r() * 2 ** 32)) << 32n | BigInt(Math.floor(r() * 2 ** 32)); w.u64(v); ops.push(['u64', v]); break; }
        case 7: { const v = BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 32)) << 31n); w.i64(v); ops.push(['i64', v]); break; }
        case 8: { const v = Math.fround(r() * 1e6 - 5e5); w.f32(v); ops.push(['f32', v]); break; }
        case 9: { const v = r() * 1e300; w.f64(v); ops.push(['f64', v]); break; }
        default: { const n = Math.floor(r() * 40); w.zeros(n); ops.push(['zeros', n]); }
      }
    }
    const bytes = w.finish();
    const rd = new ByteReader(bytes, 'mem');
    for (const [op, v] of ops) {
      if (op === 'zeros') {
        expect(Array.from(rd.bytesView(v as number, 'z')).every((b) => b === 0)).toBe(true);
      } else {
        expect((rd as unknown as Record<string, (f: string) => unknown>)[op]!.call(rd, op)).toBe(v);
      }
    }
    expect(rd.remaining).toBe(0);
  });

  it('writes little-endian and pads to an alignment', () => {
    const w = new ByteWriter();
    w.u32(0x01020304);
    w.padTo(8);
    w.u8(9);
    w.padTo(8);
    expect(Array.from(w.finish())).toEqual([4, 3, 2, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('refuses values that do not fit the field width', () => {
    const w = new ByteWriter();
    expect(() => w.u8(256, 'x')).toThrow(ByteValueError);
    expect(() => w.u8(1.5, 'x')).toThrow(ByteValueError);
    expect(() => w.i16(-32769)).toThrow(ByteValueError);
    expect(() => w.u32(-1)).toThrow(ByteValueError);
    expect(() => w.u64(-1n)).toThrow(ByteValueError);
    expect(() => w.u64(1n << 64n)).toThrow(ByteValueError);
    expect(() => w.i64(1n << 63n)).toThrow(ByteValueError);
    expect(() => w.u64(2 ** 53)).toThrow(ByteValueError);
    expect(w.length).toBe(0);
  });
});

describe('ByteReader bounds', () => {
  it('names the field, offset and shortfall and does not advance', () => {
    const rd = new ByteReader(new Uint8Array([1, 2, 3]), 'f.bin', 100);
    rd.u8('a');
    let err: unknown;
    try {
      rd.u32('tensor[3].dims[1]');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ByteRangeError);
    const e = err as ByteRangeError;
    expect(e.code).toBe('BIN_OUT_OF_RANGE');
    expect(e.offset).toBe(101);
    expect(e.need).toBe(4);
    expect(e.available).toBe(2);
    expect(e.end).toBe(105);
    expect(e.message).toContain('f.bin');
    expect(e.message).toContain('tensor[3].dims[1]');
    expect(rd.offset).toBe(101);
    expect(rd.u16('b')).toBe(0x0302);
  });

  it('refuses negative, fractional and unsafe lengths', () => {
    const rd = new ByteReader(new Uint8Array(8), 'x');
    for (const n of [-1, 0.5, 2 ** 53, Infinity, NaN]) expect(() => rd.bytesView(n, 'n')).toThrow(ByteRangeError);
    expect(rd.bytesView(0, 'n')).toHaveLength(0);
    expect(rd.offset).toBe(0);
  });

  it('reads through a subarray with a non-zero byteOffset', () => {
    const buf = new Uint8Array([9, 9, 9, 0x78, 0x56, 0x34, 0x12]);
    expect(new ByteReader(buf.subarray(3), 'x').u32('v')).toBe(0x12345678);
  });
});

describe('ByteReader big-endian reads and caller errors', () => {
  it('reads u32be most significant byte first', () => {
    const r = new ByteReader(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]), 'png');
    expect(r.u32be('a')).toBe(0x89504e47);
    expect(r.u32('b')).toBe(0x04030201);
  });

  it('maps an overrun to the error the format chose, with the field, offset and shortfall', () => {
    class PngTruncated extends Error {}
    const r = new ByteReader(new Uint8Array(6), 'tile.png', 0, (e) => new PngTruncated(`${e.source}: ${e.field} at ${e.offset} needs ${e.need}, ${e.available} left`));
    r.skip(4, 'head');
    let caught: unknown;
    try {
      r.u32be('chunk length');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PngTruncated);
    expect((caught as Error).message).toBe('tile.png: chunk length at 4 needs 4, 2 left');
    expect(r.offset).toBe(4); // the failed read did not advance
    expect(() => r.bytesView(-1, 'n')).toThrow(PngTruncated);
  });
});

describe('byte sources', () => {
  it('memorySource and readExact give exact ranges and refuse out-of-range reads', async () => {
    const src = memorySource(new Uint8Array([0, 1, 2, 3, 4]));
    expect(Array.from(await readExact(src, 1, 3, 'm'))).toEqual([1, 2, 3]);
    await expect(readExact(src, 3, 3, 'm')).rejects.toBeInstanceOf(ByteRangeError);
    await expect(readExact(src, -1, 1, 'm')).rejects.toBeInstanceOf(ByteRangeError);
    await expect(src.read(4, 2)).rejects.toBeInstanceOf(ByteRangeError);
  });

  it('readExact refuses a source that returns fewer bytes than asked', async () => {
    const short: ByteSource = { size: 100, read: (_o, n) => Promise.resolve(new Uint8Array(n - 1)) };
    await expect(readExact(short, 0, 10, 'short')).rejects.toMatchObject({ code: 'BIN_OUT_OF_RANGE', available: 9 });
  });
});

describe('checked arithmetic and byte order', () => {
  it('detects products and sums at or above 2^53', () => {
    expect(mulSafe(2 ** 26, 2 ** 26)).toBe(2 ** 52);
    expect(mulSafe(2 ** 27, 2 ** 26)).toBeUndefined();
    expect(mulSafe(94906267, 94906267)).toBeUndefined(); // just above 2^53, rounds to an even double
    expect(mulSafe(-1, 2)).toBeUndefined();
    expect(addSafe(Number.MAX_SAFE_INTEGER, 0)).toBe(Number.MAX_SAFE_INTEGER);
    expect(addSafe(Number.MAX_SAFE_INTEGER, 1)).toBeUndefined();
    expect(alignUpSafe(33, 32)).toBe(64);
    expect(alignUpSafe(64, 32)).toBe(64);
    expect(alignUpSafe(Number.MAX_SAFE_INTEGER, 32)).toBeUndefined();
  });

  it('isPowerOfTwo is exact beyond 32 bits', () => {
    expect([1, 2, 4, 2 ** 31, 2 ** 40].every(isPowerOfTwo)).toBe(true);
    expect([0, -2, 3, 6, 2 ** 31 + 2 ** 30, 2 ** 40 + 2, 1.5].some(isPowerOfTwo)).toBe(false);
  });

  it('swapBytesInPlace reverses each group', () => {
    const b = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    swapBytesInPlace(b, 4);
    expect(Array.from(b)).toEqual([4, 3, 2, 1, 8, 7, 6, 5]);
    swapBytesInPlace(b, 8);
    expect(Array.from(b)).toEqual([5, 6, 7, 8, 1, 2, 3, 4]);
  });
});
