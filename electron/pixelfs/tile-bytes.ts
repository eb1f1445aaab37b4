/**
 * Byte-level primitives the tile codec shares: CRC-32, Adler-32 (incremental, and over a run of
 * zeros without touching memory), sha256, copies into shared memory, output buffers.
 */
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { instantiateEmbedded } from '../../shared/wasm/embedded';
import { ADLER32_WASM } from './adler32-wasm';

const ADLER_MOD = 65521;
// zlib's bound for 32-bit sums (a multiple of 16): reducing this often keeps the sums small.
const ADLER_NMAX = 5552;

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
export function adler32Js(state: number, data: Uint8Array, start = 0, end = data.length): number {
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

/** Bytes copied into the Adler-32 module's memory per call: stays in a core's L2 cache. */
const ADLER_PIECE = 256 * 1024;
/** Below this many bytes the JavaScript route is as quick as copying into the module. */
const ADLER_SIMD_MIN = 1024;

interface AdlerExports {
  memory: WebAssembly.Memory;
  adler32(state: number, len: number): number;
}

let adlerModule: { x: AdlerExports; mem: Uint8Array } | null | undefined;

function adlerWasm(): { x: AdlerExports; mem: Uint8Array } | null {
  if (adlerModule === undefined) {
    const x = instantiateEmbedded<AdlerExports>(ADLER32_WASM);
    try {
      if (x && x.memory.buffer.byteLength < ADLER_PIECE) x.memory.grow(Math.ceil((ADLER_PIECE - x.memory.buffer.byteLength) / 65536));
      adlerModule = x ? { x, mem: new Uint8Array(x.memory.buffer, 0, ADLER_PIECE) } : null;
    } catch {
      adlerModule = null; // its memory could not grow: the JavaScript route
    }
  }
  return adlerModule;
}

/**
 * The WebAssembly route of Adler-32 (adler32.wat, 128-bit SIMD): data[start, end) continued from
 * state, copied into the module's memory a cache-sized piece at a time (the copy is ~10x cheaper
 * than the checksum it replaces); null where the module cannot run here.
 */
export function adler32Simd(state: number, data: Uint8Array, start: number, end: number): number | null {
  const m = adlerWasm();
  if (!m) return null;
  let a = state >>> 0;
  for (let p = start; p < end; p += ADLER_PIECE) {
    const n = Math.min(ADLER_PIECE, end - p);
    copyInto(m.mem, 0, data.subarray(p, p + n));
    a = m.x.adler32(a, n) >>> 0;
  }
  return a;
}

/**
 * Continues an Adler-32 over data[start, end): with WebAssembly SIMD where it runs (adler32Simd,
 * ~3x faster over a tile), else adler32Js. Both give the same checksum (tests/node/adler32.test.ts).
 */
export function adler32(state: number, data: Uint8Array, start = 0, end = data.length): number {
  if (end - start >= ADLER_SIMD_MIN) {
    const r = adler32Simd(state, data, start, end);
    if (r !== null) return r;
  }
  return adler32Js(state, data, start, end);
}

/** Adler-32 continued over `n` zero bytes, without touching memory. */
export function adler32Zeros(state: number, n: number): number {
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
/** A buffer of `n` bytes: a view over `into` from offset 0 when it is large enough, else fresh and
 * owning its ArrayBuffer (so either way `.buffer` can be transferred or shared with another thread). */
export function outBuffer(n: number, into: ArrayBuffer | SharedArrayBuffer | undefined): Buffer {
  if (into && into.byteLength >= n) return Buffer.from(into, 0, n);
  return Buffer.allocUnsafeSlow(n);
}
