/**
 * The adapter-ceiling probes (shaders/probe_ceiling.wgsl): dispatches that only read bytes, or do
 * nothing, recorded into a batch like any kernel. scripts/bench/adapter-ceiling.ts times them
 * beside the weight kernels on the same bytes: the best rate a kernel of ours can reach on an
 * adapter bounds what the weight kernels can (issue 15's "measured ceiling").
 */
import type { GpuBatch, GpuContext } from '../gpu';

const SHADER = 'probe_ceiling';

/** Rows of `wordsPerRow` u32 words, one invocation per row; out: u32[rows]. */
export async function encodeReadRows(ctx: GpuContext, b: GpuBatch, o: { words: GPUBuffer; rows: number; wordsPerRow: number; out: GPUBuffer; wg?: number }): Promise<void> {
  const wg = o.wg ?? 64;
  const pipe = await ctx.pipeline(SHADER, { entryPoint: 'read_rows', constants: { WG: wg } });
  b.dispatch(pipe, [b.uniform(new Uint32Array([o.rows, o.wordsPerRow, 0, 0])), o.words, o.out], Math.ceil(o.rows / wg), 'probe read_rows');
}

/** `vec4s` 16-byte words read by `invocations` invocations, neighbour next to neighbour; out: u32[invocations]. */
export async function encodeReadStrided(ctx: GpuContext, b: GpuBatch, o: { words: GPUBuffer; vec4s: number; invocations: number; out: GPUBuffer; wg?: number }): Promise<void> {
  const wg = o.wg ?? 64;
  const pipe = await ctx.pipeline(SHADER, { entryPoint: 'read_strided', constants: { WG: wg } });
  b.dispatch(pipe, [b.uniform(new Uint32Array([0, 0, o.invocations, o.vec4s])), o.words, o.out], Math.ceil(o.invocations / wg), 'probe read_strided');
}

/** One invocation that writes one word: a dispatch's cost with no work. */
export async function encodeNoop(ctx: GpuContext, b: GpuBatch, o: { out: GPUBuffer; value?: number }): Promise<void> {
  const pipe = await ctx.pipeline(SHADER, { entryPoint: 'noop' });
  b.dispatch(pipe, [b.uniform(new Uint32Array([o.value ?? 0, 0, 0, 0])), undefined, o.out], 1, 'probe noop');
}

/** Byte multiply-adds per invocation and iteration of the idot_rate probe (16 packed products of 4). */
export const IDOT_MACS_PER_ITERATION = 64;

/**
 * The prefill compute ceiling (shaders/_probe_idot.wgsl): `invocations` invocations, each
 * `iterations` × 16 packed int8 products with its operands in registers (seeds: 2 vec4<u32> per
 * invocation); out: u32[invocations]. `packed`: dot4I8Packed (probe_idot, needs the WGSL language
 * feature) or the plain-i32 products (probe_idotx).
 */
export async function encodeIdotRate(ctx: GpuContext, b: GpuBatch, o: { seeds: GPUBuffer; invocations: number; iterations: number; out: GPUBuffer; packed: boolean; wg?: number }): Promise<void> {
  const wg = o.wg ?? 64;
  const pipe = await ctx.pipeline(o.packed ? 'probe_idot' : 'probe_idotx', { entryPoint: 'idot_rate', constants: { WG: wg } });
  b.dispatch(pipe, [b.uniform(new Uint32Array([o.invocations, o.iterations, 0, 0])), o.seeds, o.out], Math.ceil(o.invocations / wg), `probe idot_rate ${o.packed ? 'dot4' : 'int'}`);
}

/** Packed products per 16 bytes a weight product must do at least: Q4_K 64 per 144 bytes (7.1), Q8_0 8 per 34 bytes (3.8); the product probe does the whole number below. */
export const PRODUCT_PROBE: Readonly<Partial<Record<string, { k: number; nibbles: boolean }>>> = { Q4_K: { k: 7, nibbles: true }, Q8_0: { k: 3, nibbles: false } };

/**
 * The decode product ceiling (shaders/probe_product.wgsl): `vec4s` 16-byte words read neighbour
 * next to neighbour by `invocations` invocations, with `k` packed int8 products on each (x in
 * registers; `nibbles`: on the words' low, then high, nibbles as Q4_K's are; else on the words as
 * bytes, as Q8_0's); out: u32[invocations]. Needs dot4I8Packed (the WGSL language feature).
 */
export async function encodeProductStrided(ctx: GpuContext, b: GpuBatch, o: { words: GPUBuffer; vec4s: number; invocations: number; out: GPUBuffer; k: number; nibbles: boolean; wg?: number }): Promise<void> {
  const wg = o.wg ?? 64;
  const pipe = await ctx.pipeline('probe_product', { entryPoint: 'product_strided', constants: { WG: wg, K: o.k, NIBBLES: o.nibbles ? 1 : 0 } });
  b.dispatch(pipe, [b.uniform(new Uint32Array([o.invocations, o.vec4s, 0, 0])), o.words, o.out], Math.ceil(o.invocations / wg), `probe product_strided k${o.k}`);
}


/**
 * The row product probes (shaders/probe_product.wgsl product_rows, product_rows_out): `rows`
 * invocations, each reading its row of `vec4sPerRow` 16-byte words with `k` packed products on
 * each, as a loop of one word a step or (`writtenOut`, vec4sPerRow a multiple of it) with the
 * loop body written out that many words long; out: u32[rows]. The same sums either way: the
 * difference in time is the shape of the code alone.
 */
export async function encodeProductRows(ctx: GpuContext, b: GpuBatch, o: { words: GPUBuffer; rows: number; vec4sPerRow: number; out: GPUBuffer; k: number; nibbles: boolean; writtenOut?: number; wg?: number }): Promise<void> {
  const wg = o.wg ?? 64;
  const n = o.writtenOut;
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 17 || o.vec4sPerRow % n !== 0)) throw new Error(`product_rows_out writes out 1..17 words dividing the row's ${o.vec4sPerRow}, got ${n}`);
  const pipe = await ctx.pipeline('probe_product', { entryPoint: n ? 'product_rows_out' : 'product_rows', constants: { WG: wg, K: o.k, NIBBLES: o.nibbles ? 1 : 0, ...(n ? { N_OUT: n } : {}) } });
  b.dispatch(pipe, [b.uniform(new Uint32Array([o.rows, o.vec4sPerRow, 0, 0])), o.words, o.out], Math.ceil(o.rows / wg), `probe product_rows${n ? ` out ${n}` : ''} k${o.k}`);
}
