/**
 * The WebAssembly route of Adler-32 (adler32.wat says how it computes): the module is loaded once
 * per thread, and bytes are copied into its memory a cache-sized piece at a time (the copy is
 * ~10x cheaper than the checksum it replaces). Where WebAssembly or its 128-bit SIMD is missing,
 * adler32Simd() answers null and tile-bytes.ts keeps its JavaScript route, which gives the same
 * checksum.
 */
import { instantiateEmbedded } from '../../shared/wasm/embedded';
import { ADLER32_WASM } from './adler32-wasm';

/** Bytes copied into the module's memory per call: stays in a core's L2 cache. */
const PIECE = 256 * 1024;

interface Exports {
  memory: WebAssembly.Memory;
  adler32(state: number, len: number): number;
}

let mod: { x: Exports; mem: Buffer } | null | undefined;

function load(): { x: Exports; mem: Buffer } | null {
  if (mod === undefined) {
    const x = instantiateEmbedded<Exports>(ADLER32_WASM);
    try {
      if (x && x.memory.buffer.byteLength < PIECE) x.memory.grow(Math.ceil((PIECE - x.memory.buffer.byteLength) / 65536));
      mod = x ? { x, mem: Buffer.from(x.memory.buffer, 0, PIECE) } : null;
    } catch {
      mod = null; // its memory could not grow: the JavaScript route
    }
  }
  return mod;
}

/** Adler-32 of data[start, end) continued from state, or null where the module cannot run. */
export function adler32Simd(state: number, data: Uint8Array, start: number, end: number): number | null {
  const m = load();
  if (!m) return null;
  // Buffer#fill with a buffer of the range's exact length is one memcpy, shared memory or not
  // (TypedArray#set from shared memory goes word by word: tile-bytes.ts, copyInto).
  const src = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  let a = state >>> 0;
  for (let p = start; p < end; p += PIECE) {
    const n = Math.min(PIECE, end - p);
    m.mem.fill(src.subarray(p, p + n), 0, n);
    a = m.x.adler32(a, n) >>> 0;
  }
  return a;
}
