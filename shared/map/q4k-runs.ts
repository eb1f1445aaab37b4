/**
 * The WebAssembly route of TensorPyramid's Q4_K code statistics (q4k-runs.wat says what it
 * computes and why): loads the module once per process, keeps its memory big enough for a slice
 * of blocks and its records, and hands back the records of each call. Where WebAssembly or its
 * 128-bit SIMD is missing (or a page's content policy refuses compiling it), q4kRunKernel()
 * answers null and the pyramid keeps its JavaScript route, which gives the same figures.
 */
import { instantiateEmbedded } from '../wasm/embedded';
import { Q4K_RUNS_WASM } from './q4k-runs-wasm';

/** Blocks per call: bounds the record area (a run covers at least one 4-byte pixel). */
export const Q4K_SLICE_BLOCKS = 1024;
const STATE_BYTES = 8704;
const RECORD_F64 = 9;
const MAX_RECORDS = (Q4K_SLICE_BLOCKS * 144) / 4 + 2;

/** The open run carried between calls, as the module reads and writes it. */
export interface Q4kRunState {
  /** Value index where the open run ends; -1 when none is open. */
  segEnd: number;
  sum: number;
  sumSq: number;
  count: number;
  min: number;
  max: number;
  nonFinite: number;
}

/** A tensor's tile geometry: width and height in pixels, heat pixels per side, bytes per tile. */
export interface Q4kGeometry {
  tileWidth: number;
  tileHeight: number;
  heatSize: number;
  tileBytes: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  q4k_runs(src: number, nb: number, v0: number, rec: number): number;
}

export class Q4kRunKernel {
  private readonly recAt = STATE_BYTES + Q4K_SLICE_BLOCKS * 144;

  constructor(private readonly x: Exports) {
    const need = this.recAt + MAX_RECORDS * RECORD_F64 * 8;
    const have = x.memory.buffer.byteLength;
    if (have < need) x.memory.grow(Math.ceil((need - have) / 65536));
  }

  /**
   * Adds blocks (at most Q4K_SLICE_BLOCKS whole Q4_K blocks, the first holding value v0) to the
   * run in `state`, updating it; returns the records of the runs that opened or closed, 9 f64
   * each (sum, sumSq, min, max, count, nonFinite, tile, heat pixel, flags: 1 closed, 2 opened).
   * The view is valid until the next call.
   */
  run(blocks: Uint8Array, v0: number, state: Q4kRunState, g: Q4kGeometry): Float64Array {
    const nb = blocks.length / 144;
    if (!Number.isInteger(nb) || nb > Q4K_SLICE_BLOCKS) throw new RangeError(`q4k_runs takes up to ${Q4K_SLICE_BLOCKS} whole blocks, got ${blocks.length} bytes`);
    const buf = this.x.memory.buffer;
    const s = new Float64Array(buf, 0, 11);
    s[0] = state.segEnd;
    s[1] = state.sum;
    s[2] = state.sumSq;
    s[3] = state.count;
    s[4] = state.min;
    s[5] = state.max;
    s[6] = state.nonFinite;
    s[7] = g.tileWidth;
    s[8] = g.tileHeight;
    s[9] = g.heatSize;
    s[10] = g.tileBytes;
    new Uint8Array(buf, STATE_BYTES, blocks.length).set(blocks);
    const n = this.x.q4k_runs(STATE_BYTES, nb, v0, this.recAt);
    state.segEnd = s[0]!;
    state.sum = s[1]!;
    state.sumSq = s[2]!;
    state.count = s[3]!;
    state.min = s[4]!;
    state.max = s[5]!;
    state.nonFinite = s[6]!;
    return new Float64Array(buf, this.recAt, n * RECORD_F64);
  }
}

let kernel: Q4kRunKernel | null | undefined;

/** The process's kernel, or null where the module cannot run here. */
export function q4kRunKernel(): Q4kRunKernel | null {
  if (kernel === undefined) {
    const x = instantiateEmbedded<Exports>(Q4K_RUNS_WASM);
    try {
      kernel = x ? new Q4kRunKernel(x) : null;
    } catch {
      kernel = null; // its memory could not grow: the JavaScript route
    }
  }
  return kernel;
}
