/**
 * Host side of the weight kernels in shaders/matvec_<type>.wgsl: matvec (decode), matmul
 * (prefill) and get_rows (embedding gather) straight from GGUF block layouts, dequantised in
 * the kernel. The WGSL text reaches the GpuContext from the host (disk in Node, `?raw` in the
 * renderer); this module only names shaders, entry points and override constants.
 */
import { GpuUsageError, params, splitWorkgroups, type GpuBatch, type GpuBinding, type GpuContext } from '../gpu';
import { QUANT_FORMATS, type QuantTypeName } from '../quant';

/** Weight types the kernels read in place: every type the engine runs (one list, in shared/quant/format.ts). */
export type WeightType = QuantTypeName;
export const WEIGHT_TYPES: readonly WeightType[] = [
  'F32',
  'F16',
  'BF16',
  'Q8_0',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
  'IQ4_NL',
  'IQ4_XS',
];

/** Shader (file name in shaders/ without .wgsl) per type. */
export const WEIGHT_SHADERS: Readonly<Record<WeightType, string>> = {
  F32: 'matvec_f32',
  F16: 'matvec_f16',
  BF16: 'matvec_bf16',
  Q8_0: 'matvec_q8_0',
  Q4_0: 'matvec_q4_0',
  Q4_1: 'matvec_q4_1',
  Q5_0: 'matvec_q5_0',
  Q5_1: 'matvec_q5_1',
  Q2_K: 'matvec_q2_k',
  Q3_K: 'matvec_q3_k',
  Q4_K: 'matvec_q4_k',
  Q5_K: 'matvec_q5_k',
  Q6_K: 'matvec_q6_k',
  IQ4_NL: 'matvec_iq4_nl',
  IQ4_XS: 'matvec_iq4_xs',
};

/**
 * Elements one invocation handles per step (the kernels' CHUNK): cols must be a multiple. The
 * K-quants split a 256-value super-block in four so that TPR > 1 has work to share.
 */
export const WEIGHT_CHUNK: Readonly<Record<WeightType, number>> = {
  F32: 4,
  F16: 4,
  BF16: 4,
  Q8_0: 32,
  Q4_0: 32,
  Q4_1: 32,
  Q5_0: 32,
  Q5_1: 32,
  Q2_K: 64,
  Q3_K: 64,
  Q4_K: 64,
  Q5_K: 64,
  Q6_K: 64,
  IQ4_NL: 32,
  IQ4_XS: 32,
};

/**
 * Alignment (bytes) a tensor's start needs in its buffer. F32, Q4_K and Q5_K blocks tile
 * 16-byte units, and those kernels read vec4<u32> (faster on lavapipe); GGUF aligns tensor
 * data to 32 bytes, so this costs nothing there.
 */
export const WEIGHT_ALIGN: Readonly<Record<WeightType, number>> = {
  F32: 16,
  F16: 4,
  BF16: 4,
  Q8_0: 4,
  Q4_0: 4,
  Q4_1: 4,
  Q5_0: 4,
  Q5_1: 4,
  Q2_K: 4,
  Q3_K: 4,
  Q4_K: 16,
  Q5_K: 16,
  Q6_K: 4,
  IQ4_NL: 4,
  IQ4_XS: 4,
};

/**
 * Tokens per invocation in `matmul` (dispatch z covers ceil(tokens / 4) tiles). F32/F16 take
 * the four as one vec4 of dot products; the quantised kernels run them one after the other
 * over the same row (the row stays in cache), which keeps their LLVM compile on lavapipe as
 * short as matvec's (the K-quants decode each unit once for the four: SHARED_DECODE). On
 * lavapipe a quantised matmul therefore costs about tokens × matvec; the tiled products below
 * (MATMUL_TILE_TOKENS) are the opt-in alternative.
 */
export const MATMUL_TOKEN_TILE = 4;

/**
 * The tiled prefill products (shaders/_matmul_tile.wgsl; issue 15 §2): a workgroup computes WG
 * rows × MATMUL_TILE_TOKENS tokens, one invocation per row (threadsPerRow is ignored), each weight
 * unit decoded once per tile and used for all its tokens. `matmul_tile_wg` loads the tokens' x for
 * each 256-value chunk of K into workgroup memory once and shares it among the rows (the GPU
 * shape); `matmul_tile` has every row read x from storage at the same index (on lavapipe a
 * uniform storage load is cheap, a workgroup-memory load in a loop is not). Opt-in per type
 * (Model.load `prefillMatmul`, as the tuner chose where it measured one faster); these types have them.
 */
export const MATMUL_TILE_TOKENS = 8;
export type TileWeightType = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K';
export const TILE_WEIGHT_TYPES: readonly TileWeightType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
export function isTileWeightType(t: string): t is TileWeightType {
  return (TILE_WEIGHT_TYPES as readonly string[]).includes(t);
}
/** The tiled f32 prefill products: 'tile' (matmul_tile) and 'tile-wg' (matmul_tile_wg). */
export type TileVariant = 'tile' | 'tile-wg';
export const TILE_VARIANTS: readonly TileVariant[] = ['tile', 'tile-wg'];
export const PREFILL_ENTRY: Readonly<Record<TileVariant, 'matmul_tile' | 'matmul_tile_wg'>> = { tile: 'matmul_tile', 'tile-wg': 'matmul_tile_wg' };
/**
 * Prefill (tokens > 1) kernels besides the default `matmul` (4 tokens per invocation): the tiled
 * f32 products, and the integer prefill product of int-matvec.ts ('i8' with dot4I8Packed, 'i8x'
 * with plain i32 products; Q8_0, Q4_0, Q4_K and Q6_K, x quantised to Q8 blocks for all the tokens first),
 * and Q4_K's integer prefill product in the subgroup shape ('i8sg' with dot4I8Packed, 'i8xsg' with
 * two byte products per i32 multiply; needs subgroups of 8 lanes, as the decode `-sg` kernels),
 * and the product with x shared through the subgroup ('i8sh' with dot4I8Packed, 'i8xsh' in plain
 * i32; Q4_K, Q8_0 and Q6_K, subgroups of 8 lanes, as the decode `-sh` kernels).
 */
export type IntPrefillVariant = 'i8' | 'i8x' | 'i8sg' | 'i8xsg' | 'i8sh' | 'i8xsh';
export type PrefillVariant = TileVariant | IntPrefillVariant;
export const PREFILL_VARIANTS: readonly PrefillVariant[] = [...TILE_VARIANTS, 'i8', 'i8x', 'i8sg', 'i8xsg', 'i8sh', 'i8xsh'];
export const INT_PREFILL_TYPES: readonly WeightType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
/** The types with the subgroup-shaped integer prefill product ('i8sg', 'i8xsg'). */
export const SG_PREFILL_TYPES: readonly WeightType[] = ['Q4_K'];
/** The types with the prefill product that shares x through the subgroup ('i8sh', 'i8xsh'). */
export const SH_PREFILL_TYPES: readonly WeightType[] = ['Q4_K', 'Q8_0', 'Q6_K'];
export function isTileVariant(v: PrefillVariant): v is TileVariant {
  return (TILE_VARIANTS as readonly string[]).includes(v);
}
/** Whether a type has a prefill variant (whatever the device: 'i8' also needs dot4I8Packed, 'i8sg'/'i8xsg' and 'i8sh'/'i8xsh' subgroups of 8). */
export function prefillVariantFits(type: string, v: PrefillVariant): boolean {
  if (isTileVariant(v)) return isTileWeightType(type);
  return ((v === 'i8sg' || v === 'i8xsg' ? SG_PREFILL_TYPES : v === 'i8sh' || v === 'i8xsh' ? SH_PREFILL_TYPES : INT_PREFILL_TYPES) as readonly string[]).includes(type);
}

/** A forced prefill choice as text (benchmarks, tests): a variant for every type that has it (`tile`, `i8`) or per type (`Q8_0=i8,Q4_K=tile-wg`). Empty: none. */
export function parsePrefillMatmul(spec: string): Partial<Record<WeightType, PrefillVariant>> {
  const out: Partial<Record<WeightType, PrefillVariant>> = {};
  for (const item of spec.split(',').map((t) => t.trim()).filter(Boolean)) {
    const [a, b] = item.includes('=') ? item.split('=', 2) : [null, item];
    const variant = b as PrefillVariant;
    if (!PREFILL_VARIANTS.includes(variant)) throw new GpuUsageError(`unknown prefill kernel ${JSON.stringify(b)} (known: ${PREFILL_VARIANTS.join(', ')})`);
    if (a !== null && !prefillVariantFits(a, variant)) throw new GpuUsageError(`no prefill kernel ${variant} for ${JSON.stringify(a)}`);
    for (const t of a === null ? WEIGHT_TYPES.filter((t) => prefillVariantFits(t, variant)) : [a as WeightType]) out[t] = variant;
  }
  return out;
}

/**
 * Workgroup shape. `workgroupSize` invocations per workgroup; `threadsPerRow` of them share
 * one output row (1 = one invocation per row, best measured on lavapipe; 16–64 suit GPUs,
 * where neighbouring invocations should read neighbouring words).
 */
export interface WeightKernelTuning {
  workgroupSize: number;
  threadsPerRow: number;
}

export const DEFAULT_TUNING: Readonly<WeightKernelTuning> = { workgroupSize: 64, threadsPerRow: 1 };

export function isWeightType(t: string): t is WeightType {
  return (WEIGHT_TYPES as readonly string[]).includes(t);
}

/** Bytes of a [rows, cols] tensor of this type. */
export function weightBytes(type: WeightType, rows: number, cols: number): number {
  const f = QUANT_FORMATS[type];
  return rows * (cols / f.blockSize) * f.bytesPerBlock;
}

export interface WeightMatrix {
  type: WeightType;
  rows: number;
  cols: number;
  /** The buffer (or range) holding the tensor's GGUF bytes. */
  buffer: GpuBinding;
  /** Where the tensor starts inside that binding, in bytes (a multiple of WEIGHT_ALIGN[type]). */
  byteOffset?: number;
}

export interface MatmulArgs {
  weights: WeightMatrix;
  /** Activations X [tokens, cols] (f32). */
  x: GpuBinding;
  /** Output Y [tokens, rows] (f32). */
  y: GpuBinding;
  /** Tokens; 1 uses the matvec kernel. Default 1. */
  tokens?: number;
  /** Element offsets and strides (f32 elements). x offset and stride must be multiples of 4. */
  xOffset?: number;
  xStride?: number;
  yOffset?: number;
  yStride?: number;
  tuning?: Partial<WeightKernelTuning>;
  /** Force a kernel: by default tokens = 1 runs `matvec`, more run `matmul`; `matmul_tile`/`matmul_tile_wg` are the tiled products (TILE_WEIGHT_TYPES). */
  entryPoint?: 'matvec' | 'matmul' | 'matmul_tile' | 'matmul_tile_wg';
  label?: string;
}

export interface GetRowsArgs {
  weights: WeightMatrix;
  /** Row ids (u32). */
  ids: GpuBinding;
  /** How many ids to gather, starting at idsOffset. */
  count: number;
  idsOffset?: number;
  /** Output [count, cols] (f32). */
  out: GpuBinding;
  outOffset?: number;
  outStride?: number;
  tuning?: Partial<WeightKernelTuning>;
  label?: string;
}

/** What one dispatch needs, worked out without a device (also what the tests check). */
export interface WeightDispatch {
  shader: string;
  entryPoint: 'matvec' | 'matmul' | 'matmul_tile' | 'matmul_tile_wg' | 'get_rows';
  constants: { WG: number; TPR: number };
  workgroups: [number, number, number];
  /** The Params struct's eight u32 fields, in order. */
  params: [number, number, number, number, number, number, number, number];
}

/** Whether the weight kernels take this shape: 1..1024 invocations, a power of two of them per row, dividing the workgroup. */
export function isKernelTuning(t: WeightKernelTuning): boolean {
  const { workgroupSize: wg, threadsPerRow: tpr } = t;
  const pow2 = Number.isInteger(tpr) && tpr > 0 && (tpr & (tpr - 1)) === 0;
  return Number.isInteger(wg) && wg >= 1 && wg <= 1024 && pow2 && tpr <= wg && wg % tpr === 0;
}

function tuningOf(t: Partial<WeightKernelTuning> | undefined): WeightKernelTuning {
  const wg = t?.workgroupSize ?? DEFAULT_TUNING.workgroupSize;
  const tpr = t?.threadsPerRow ?? DEFAULT_TUNING.threadsPerRow;
  if (!Number.isInteger(wg) || wg < 1 || wg > 1024) throw new GpuUsageError(`workgroupSize must be 1..1024, got ${wg}`);
  if (!isKernelTuning({ workgroupSize: wg, threadsPerRow: tpr })) {
    throw new GpuUsageError(`threadsPerRow must be a power of two dividing workgroupSize ${wg}, got ${tpr}`);
  }
  return { workgroupSize: wg, threadsPerRow: tpr };
}

function checkMatrix(m: WeightMatrix): number {
  if (!isWeightType(m.type)) throw new GpuUsageError(`no weight kernel for ggml type ${String(m.type)}`, { type: m.type });
  const chunk = WEIGHT_CHUNK[m.type];
  if (!Number.isInteger(m.rows) || m.rows < 1) throw new GpuUsageError(`weight rows must be a positive integer, got ${m.rows}`);
  if (!Number.isInteger(m.cols) || m.cols < 1 || m.cols % chunk !== 0) {
    throw new GpuUsageError(`${m.type} weight kernels need cols a positive multiple of ${chunk}, got ${m.cols}`, {
      type: m.type,
      cols: m.cols,
    });
  }
  const off = m.byteOffset ?? 0;
  const align = WEIGHT_ALIGN[m.type];
  if (!Number.isInteger(off) || off < 0 || off % align !== 0) {
    throw new GpuUsageError(`${m.type} weights must start at a multiple of ${align} bytes in their buffer, got byteOffset ${off}`, {
      type: m.type,
      byteOffset: off,
    });
  }
  return off / 4;
}

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new GpuUsageError(`${name} must be a u32, got ${v}`);
  return v;
}

/** The dispatch for Y = X·Wᵀ (tokens > 1) or y = W·x (tokens = 1). */
export function planMatmul(a: Omit<MatmulArgs, 'x' | 'y'>): WeightDispatch {
  const wOff = checkMatrix(a.weights);
  const { rows, cols, type } = a.weights;
  const tokens = a.tokens ?? 1;
  if (!Number.isInteger(tokens) || tokens < 1) throw new GpuUsageError(`tokens must be a positive integer, got ${tokens}`);
  const xOffset = a.xOffset ?? 0;
  const xStride = a.xStride ?? cols;
  if (xOffset % 4 !== 0 || xStride % 4 !== 0) {
    throw new GpuUsageError(`x offset and stride must be multiples of 4 (vec4 loads), got ${xOffset}, ${xStride}`);
  }
  if (tokens > 1 && xStride < cols) throw new GpuUsageError(`x stride ${xStride} is shorter than a row of ${cols}`);
  const entryPoint = a.entryPoint ?? (tokens === 1 ? 'matvec' : 'matmul');
  if (entryPoint === 'matvec' && tokens !== 1) throw new GpuUsageError(`matvec takes one token, got ${tokens}`);
  const tiled = entryPoint === 'matmul_tile' || entryPoint === 'matmul_tile_wg';
  if (tiled && !isTileWeightType(type)) throw new GpuUsageError(`no tiled prefill kernel for ${type} (types: ${TILE_WEIGHT_TYPES.join(', ')})`, { type });
  // The tiled kernel runs one invocation per row whatever the shape asks.
  const t = tiled ? { ...tuningOf(a.tuning), threadsPerRow: 1 } : tuningOf(a.tuning);
  const rowsPerGroup = t.workgroupSize / t.threadsPerRow;
  const [gx, gy] = splitWorkgroups(Math.ceil(rows / rowsPerGroup));
  const perTile = tiled ? MATMUL_TILE_TOKENS : MATMUL_TOKEN_TILE;
  const tiles = entryPoint === 'matvec' ? 1 : Math.ceil(tokens / perTile);
  if (tiles > 65535) throw new GpuUsageError(`${tokens} tokens exceed one dispatch (at most ${65535 * perTile})`);
  return {
    shader: WEIGHT_SHADERS[type],
    entryPoint,
    constants: { WG: t.workgroupSize, TPR: t.threadsPerRow },
    workgroups: [gx, gy, tiles],
    params: [
      rows,
      cols,
      tokens,
      u32('weight offset', wOff),
      u32('x offset', xOffset),
      u32('x stride', xStride),
      u32('y offset', a.yOffset ?? 0),
      u32('y stride', a.yStride ?? rows),
    ],
  };
}

/** The dispatch for an embedding gather of `count` rows. */
export function planGetRows(a: Omit<GetRowsArgs, 'ids' | 'out'>): WeightDispatch {
  const wOff = checkMatrix(a.weights);
  const { rows, cols, type } = a.weights;
  if (!Number.isInteger(a.count) || a.count < 0) throw new GpuUsageError(`count must be a non-negative integer, got ${a.count}`);
  const t = tuningOf(a.tuning);
  const invocations = a.count * (cols / WEIGHT_CHUNK[type]);
  const [gx, gy] = splitWorkgroups(Math.ceil(invocations / t.workgroupSize));
  return {
    shader: WEIGHT_SHADERS[type],
    entryPoint: 'get_rows',
    constants: { WG: t.workgroupSize, TPR: 1 },
    workgroups: [gx, gy, 1],
    params: [
      rows,
      cols,
      a.count,
      u32('weight offset', wOff),
      u32('ids offset', a.idsOffset ?? 0),
      0,
      u32('out offset', a.outOffset ?? 0),
      u32('out stride', a.outStride ?? cols),
    ],
  };
}

function paramsOf(d: WeightDispatch) {
  const p = params();
  for (const v of d.params) p.u32(v);
  return p;
}

/** The pipeline a planned dispatch runs (compiled on first use, then cached by the context). */
export function weightPipeline(ctx: GpuContext, d: Pick<WeightDispatch, 'shader' | 'entryPoint' | 'constants'>): Promise<GPUComputePipeline> {
  return ctx.pipeline(d.shader, { entryPoint: d.entryPoint, constants: d.constants });
}

/**
 * Records a planned dispatch with its already compiled pipeline (synchronous, for encoders that
 * record a whole pass at once). Bindings in the kernels' order: weights, x, y/out, ids.
 */
export function recordWeightDispatch(batch: GpuBatch, pipeline: GPUComputePipeline, d: WeightDispatch, bindings: (GpuBinding | undefined)[], label?: string): void {
  if (d.workgroups[0] === 0) return;
  batch.dispatch(pipeline, [batch.uniform(paramsOf(d)), ...bindings], d.workgroups, label ?? `${d.shader}:${d.entryPoint}`);
}

async function encode(ctx: GpuContext, batch: GpuBatch, d: WeightDispatch, bindings: (GpuBinding | undefined)[], label?: string): Promise<void> {
  recordWeightDispatch(batch, await weightPipeline(ctx, d), d, bindings, label);
}

/** Records Y = X·Wᵀ (or y = W·x) into a batch. The pipeline is compiled on first use, then cached. */
export async function encodeMatmul(ctx: GpuContext, batch: GpuBatch, a: MatmulArgs): Promise<WeightDispatch> {
  const d = planMatmul(a);
  await encode(ctx, batch, d, [a.weights.buffer, a.x, a.y], a.label);
  return d;
}

/** Records an embedding gather into a batch. */
export async function encodeGetRows(ctx: GpuContext, batch: GpuBatch, a: GetRowsArgs): Promise<WeightDispatch> {
  const d = planGetRows(a);
  await encode(ctx, batch, d, [a.weights.buffer, undefined, a.out, a.ids], a.label);
  return d;
}

/**
 * GGUF bytes of a weight tensor padded for upload: to a multiple of 16 bytes, plus one spare
 * word, since 2-byte-aligned block formats read the word after their last byte.
 */
export function padWeightBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil((bytes.length + 4) / 16) * 16);
  out.set(bytes);
  return out;
}
