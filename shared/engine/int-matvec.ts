/**
 * Integer decode products (issue 15 §1): x is quantised once per product into Q8 blocks
 * (shaders/quantize_q8.wgsl), then each weight block is dotted with it in i32 over packed bytes
 * (shaders/matvec_<type>_i8*.wgsl), llama.cpp's scheme for quantised weights (Q8_0, Q4_0, and
 * the super-block types Q4_K, Q6_K with their sub-block scales applied to integer sums). matvec (one token),
 * and the integer prefill products (planIntMatmul: several tokens, when chosen); get_rows keeps the
 * f32 kernels of quant-matmul.ts. Variants:
 *   'dot4'    one invocation per row, dot4I8Packed (WGSL packed_4x8_integer_dot_product)
 *   'int'     the same with the 4 products written out in plain i32 (adapters without dot4I8Packed)
 *   'dot4-sg' one subgroup per row, a lane per quant word, subgroupAdd (needs `subgroups`); for
 *             Q4_K a lane per vec4 of the super-block's quants, one subgroup per 1, 2 or 4 rows
 *             sharing x ('dot4-sg-r2', '-r4'; 'int-sg*' the same in plain i32, two byte
 *             products per multiply: shaders/_q4_k_sg_pairs.wgsl); for Q8_0 a lane per block of
 *             every 8 (9 neighbouring words), 1, 2 or 4 rows sharing x realigned once
 *             (shaders/_matvec_q8_0_sg.wgsl; 'int-sg*' with the products written out in i32)
 *   'dot4-sh' one invocation per row (Q4_K: 1, 2 or 4 rows, '-sh-r2', '-sh-r4'), x shared through
 *             the subgroup: each lane of 8 loads part of x and takes the rest from its neighbours
 *             (subgroupBroadcast); Q4_K, Q8_0 and Q6_K ('int-sh*' in plain i32; needs subgroups of 8)
 * The prefill products take 'dot4' / 'int' (every integer type), for Q4_K also 'dot4-sg' /
 * 'int-sg': the subgroup shape with a tile of tokens (prefill variants 'i8sg' / 'i8xsg'), and for
 * Q4_K, Q8_0 and Q6_K 'dot4-sh' / 'int-sh' (prefill variants 'i8sh' / 'i8xsh').
 * A variant is an opt-in: the model uses one only when asked (Model.load `intMatvec`) or when the
 * tuner measured it faster than the f32 kernel and within tolerance (autotune.ts).
 */
import { GpuUsageError, params, splitWorkgroups, type GpuBatch, type GpuBinding, type GpuContext } from '../gpu';
import { planMatmul, SH_PREFILL_TYPES, type IntPrefillVariant, type WeightMatrix, type WeightType } from './quant-matmul';

export type IntWeightType = 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K';
export const INT_WEIGHT_TYPES: readonly IntWeightType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
export type IntVariant = 'dot4' | 'dot4-r2' | 'dot4-r4' | 'int' | 'int-r2' | 'int-r4' | 'dot4-v16' | 'int-v16' | 'dot4-v16-r2' | 'int-v16-r2' | 'dot4-v16-r4' | 'int-v16-r4' | 'dot4-sg' | 'dot4-sg-r2' | 'dot4-sg-r4' | 'int-sg' | 'int-sg-r2' | 'int-sg-r4' | 'dot4-sh' | 'dot4-sh-r2' | 'dot4-sh-r4' | 'int-sh' | 'int-sh-r2' | 'int-sh-r4';
export const INT_VARIANTS: readonly IntVariant[] = ['dot4', 'dot4-r2', 'dot4-r4', 'int', 'int-r2', 'int-r4', 'dot4-v16', 'int-v16', 'dot4-v16-r2', 'int-v16-r2', 'dot4-v16-r4', 'int-v16-r4', 'dot4-sg', 'dot4-sg-r2', 'dot4-sg-r4', 'int-sg', 'int-sg-r2', 'int-sg-r4', 'dot4-sh', 'dot4-sh-r2', 'dot4-sh-r4', 'int-sh', 'int-sh-r2', 'int-sh-r4'];
/** The variants of the 8-value-block types (Q8_0, Q4_0). */
const BLOCK_VARIANTS: readonly IntVariant[] = ['dot4', 'dot4-r2', 'dot4-r4', 'int', 'int-r2', 'int-r4', 'dot4-v16', 'int-v16', 'dot4-sg'];
/** The subgroup variants of the types whose subgroup shape takes 1, 2 or 4 rows (Q4_K, Q8_0). */
const SG_ROW_VARIANTS: readonly IntVariant[] = ['dot4-sg', 'dot4-sg-r2', 'dot4-sg-r4', 'int-sg', 'int-sg-r2', 'int-sg-r4'];

const SHADER_SUFFIX: Readonly<Record<IntVariant, string>> = {
  dot4: '_i8',
  'dot4-r2': '_i8',
  'dot4-r4': '_i8',
  int: '_i8x',
  'int-r2': '_i8x',
  'int-r4': '_i8x',
  'dot4-v16': '_i8v',
  'int-v16': '_i8xv',
  'dot4-v16-r2': '_i8v',
  'int-v16-r2': '_i8xv',
  'dot4-v16-r4': '_i8v',
  'int-v16-r4': '_i8xv',
  'dot4-sg': '_i8sg',
  'dot4-sg-r2': '_i8sg',
  'dot4-sg-r4': '_i8sg',
  'int-sg': '_i8xsg',
  'int-sg-r2': '_i8xsg',
  'int-sg-r4': '_i8xsg',
  'dot4-sh': '_i8sh',
  'dot4-sh-r2': '_i8sh',
  'dot4-sh-r4': '_i8sh',
  'int-sh': '_i8xsh',
  'int-sh-r2': '_i8xsh',
  'int-sh-r4': '_i8xsh',
};
/** Rows per invocation (override NR) of the one-invocation-per-row variants; rows per subgroup of Q4_K's and Q8_0's subgroup variants. */
const ROWS_PER_INVOCATION: Readonly<Record<IntVariant, number>> = {
  dot4: 1,
  'dot4-r2': 2,
  'dot4-r4': 4,
  int: 1,
  'int-r2': 2,
  'int-r4': 4,
  'dot4-v16': 1,
  'int-v16': 1,
  'dot4-v16-r2': 2,
  'int-v16-r2': 2,
  'dot4-v16-r4': 4,
  'int-v16-r4': 4,
  'dot4-sg': 1,
  'dot4-sg-r2': 2,
  'dot4-sg-r4': 4,
  'int-sg': 1,
  'int-sg-r2': 2,
  'int-sg-r4': 4,
  'dot4-sh': 1,
  'dot4-sh-r2': 2,
  'dot4-sh-r4': 4,
  'int-sh': 1,
  'int-sh-r2': 2,
  'int-sh-r4': 4,
};
/** The variants that share x through the subgroup (16-byte reads too). */
const SH = (v: IntVariant) => SHADER_SUFFIX[v] === '_i8sh' || SHADER_SUFFIX[v] === '_i8xsh';
/** The variants that read 16 bytes at a time (cols a multiple of 256, the weights 16-byte aligned). */
const V16 = (v: IntVariant) => SHADER_SUFFIX[v] === '_i8v' || SHADER_SUFFIX[v] === '_i8xv' || SH(v);
/** The subgroup variants (one subgroup of SG_LANES lanes per row or rows). */
const SG = (v: IntVariant) => SHADER_SUFFIX[v] === '_i8sg' || SHADER_SUFFIX[v] === '_i8xsg';
/**
 * The super-block types (256 values) have one invocation per row, super-blocks in turn
 * (_matvec_i8_k.wgsl), with or without dot4I8Packed: their 32-value sub-blocks meet x's Q8
 * blocks one to one. Q4_K also has the 16-byte-read shape (_matvec_i8_k_v16.wgsl), 1, 2 or 4
 * rows per invocation sharing x's reads, and the subgroup shape (_matvec_i8_k_sg.wgsl: 8 lanes per
 * 1, 2 or 4 rows, each lane reading one vec4 of a super-block's quants, neighbouring lanes
 * neighbouring vec4s), which reads 16 bytes at a time too.
 */
const SUPER_BLOCK = (t: IntWeightType) => t === 'Q4_K' || t === 'Q6_K';
/**
 * The types whose subgroup shape reads 16 bytes at a time and takes NR = 1, 2 or 4 rows per
 * subgroup: Q4_K (_matvec_i8_k_sg.wgsl) and Q8_0 (_matvec_q8_0_sg.wgsl: lane j takes block j of
 * every 8, whose 9 words it reads); Q4_0's is a lane per quant word (_matvec_i8_sg.wgsl), one row, any cols.
 */
const SG_ROWS = (t: WeightType) => t === 'Q4_K' || t === 'Q8_0';
const VARIANTS_OF_TYPE: Readonly<Record<IntWeightType, readonly IntVariant[]>> = {
  Q8_0: [...BLOCK_VARIANTS.filter((v) => !SG(v)), ...SG_ROW_VARIANTS, 'dot4-sh', 'int-sh'],
  Q4_0: BLOCK_VARIANTS,
  Q4_K: ['dot4', 'int', 'dot4-v16', 'int-v16', 'dot4-v16-r2', 'int-v16-r2', 'dot4-v16-r4', 'int-v16-r4', ...SG_ROW_VARIANTS, 'dot4-sh', 'dot4-sh-r2', 'dot4-sh-r4', 'int-sh', 'int-sh-r2', 'int-sh-r4'],
  Q6_K: ['dot4', 'int', 'dot4-sh', 'int-sh'],
};

/** The variants that exist for a type (a shader per variant), whatever the device. */
export function intVariantsOfType(t: IntWeightType): readonly IntVariant[] {
  return VARIANTS_OF_TYPE[t];
}
const QUANTIZE_WG = 64;
const MATVEC_WG = 64;
/** Lanes per row of the subgroup variant: lavapipe's subgroup size (the kernel checks nothing; the tuner's reference check does). */
const SG_LANES = 8;

export function isIntWeightType(t: string): t is IntWeightType {
  return (INT_WEIGHT_TYPES as readonly string[]).includes(t);
}

export function intShader(type: IntWeightType, v: IntVariant): string {
  return `matvec_${type.toLowerCase()}${SHADER_SUFFIX[v]}`;
}

/**
 * The variants this device can run for a type (and, given a matrix, for that matrix): the
 * subgroup variants and the -sh ones need subgroups of exactly SG_LANES; the -v16 and -sh
 * variants and the Q4_K and Q8_0 subgroup ones need cols a multiple of 256 and the weights 16-byte aligned.
 */
export function intVariantsFor(ctx: Pick<GpuContext, 'caps' | 'adapter'>, type: WeightType, m?: { cols: number; byteOffset?: number }): IntVariant[] {
  if (!isIntWeightType(type)) return [];
  const sg = ctx.caps.subgroups && ctx.adapter.subgroupMinSize === SG_LANES && ctx.adapter.subgroupMaxSize === SG_LANES;
  return intVariantsOfType(type).filter((v) => (!(SG(v) || SH(v)) || sg) && (!m || intVariantFits(v, m, type)));
}

/** Whether a variant takes a matrix of this shape and placement (of this type: Q4_K's and Q8_0's subgroup variants read 16 bytes at a time, Q4_0's does not). */
export function intVariantFits(v: IntVariant, m: { cols: number; byteOffset?: number }, type?: WeightType): boolean {
  return !(V16(v) || (SG(v) && type !== undefined && SG_ROWS(type))) || (m.cols % 256 === 0 && (m.byteOffset ?? 0) % 16 === 0);
}

/**
 * A forced choice as text (an environment variable in tests and benchmarks): a variant for every
 * integer type that has it (`dot4-r2`: Q8_0 and Q4_0; `dot4`: all) or per type
 * (`Q8_0=dot4-r2,Q4_K=int`). Empty: none.
 */
export function parseIntMatvec(spec: string): Partial<Record<IntWeightType, IntVariant>> {
  const out: Partial<Record<IntWeightType, IntVariant>> = {};
  for (const item of spec.split(',').map((t) => t.trim()).filter(Boolean)) {
    const [a, b] = item.includes('=') ? item.split('=', 2) : [null, item];
    const variant = b as IntVariant;
    if (!INT_VARIANTS.includes(variant)) throw new GpuUsageError(`unknown integer kernel variant ${JSON.stringify(b)} (known: ${INT_VARIANTS.join(', ')})`);
    if (a !== null && !isIntWeightType(a)) throw new GpuUsageError(`no integer kernels for ${JSON.stringify(a)} (types: ${INT_WEIGHT_TYPES.join(', ')})`);
    if (a !== null && !intVariantsOfType(a as IntWeightType).includes(variant)) throw new GpuUsageError(`no integer kernel ${variant} for ${a} (it has: ${intVariantsOfType(a as IntWeightType).join(', ')})`);
    for (const t of a === null ? INT_WEIGHT_TYPES.filter((t) => intVariantsOfType(t).includes(variant)) : [a as IntWeightType]) out[t] = variant;
  }
  return out;
}

/**
 * u32 words of the quantised activations of `tokens` rows of `cols` values: per row 10 per block
 * of 32 (8 of quants, 1 scale, 1 sum of the quants), rounded up to a multiple of 4 so that every
 * row starts on 16 bytes (the kernels read x as vec4s). Also the stride between rows.
 */
export function quantizedXWords(cols: number, tokens = 1): number {
  if (!Number.isInteger(cols) || cols < 32 || cols % 32 !== 0) throw new GpuUsageError(`quantised activations need cols a positive multiple of 32, got ${cols}`);
  return tokens * Math.ceil(((cols / 32) * 10) / 4) * 4;
}

/** One dispatch of the integer path, worked out without a device. */
export interface IntDispatch {
  shader: string;
  entryPoint: 'quantize_q8' | 'matvec' | 'matmul';
  constants: Record<string, number>;
  workgroups: [number, number, number];
  /** The kernel's Params fields, in order (u32). */
  params: number[];
}

/** The dispatch of quantize_q8 over one token of x (f32 elements from xOffset) into xq from word qOffset. */
export function planQuantize(cols: number, xOffset = 0, qOffset = 0): IntDispatch {
  const words = quantizedXWords(cols);
  if (!Number.isInteger(xOffset) || xOffset < 0 || xOffset % 4 !== 0) throw new GpuUsageError(`x offset must be a non-negative multiple of 4, got ${xOffset}`);
  const [gx, gy] = splitWorkgroups(Math.ceil(cols / 32 / QUANTIZE_WG));
  return { shader: 'quantize_q8', entryPoint: 'quantize_q8', constants: { WG: QUANTIZE_WG }, workgroups: [gx, gy, 1], params: [cols, 1, xOffset, cols, qOffset, words] };
}

/** quantize_q8 over `tokens` rows of x (f32, from xOffset, xStride apart) into xq from word qOffset, quantizedXWords(cols) words apart. */
export function planQuantizeTokens(cols: number, tokens: number, xOffset = 0, xStride = cols, qOffset = 0): IntDispatch {
  const words = quantizedXWords(cols);
  if (!Number.isInteger(tokens) || tokens < 1) throw new GpuUsageError(`tokens must be a positive integer, got ${tokens}`);
  if (!Number.isInteger(xOffset) || xOffset < 0 || xOffset % 4 !== 0 || !Number.isInteger(xStride) || xStride < cols || xStride % 4 !== 0) {
    throw new GpuUsageError(`x offset and stride must be multiples of 4 (stride at least ${cols}), got ${xOffset}, ${xStride}`);
  }
  const [gx, gy] = splitWorkgroups(Math.ceil((tokens * cols) / 32 / QUANTIZE_WG));
  return { shader: 'quantize_q8', entryPoint: 'quantize_q8', constants: { WG: QUANTIZE_WG }, workgroups: [gx, gy, 1], params: [cols, tokens, xOffset, xStride, qOffset, words] };
}

/** Tokens per invocation of the integer prefill products (`matmul` of _matvec_i8.wgsl and _matvec_i8_k_v16.wgsl: TT_I8; _q6_k_i8.wgsl: TT_Q6). */
export const INT_MATMUL_TOKENS = 4;
/**
 * The types with an integer prefill product: the 32-value blocks (Q8_0, Q4_0: `matmul` of
 * _matvec_i8.wgsl, one row per invocation; the r2/r4 shapes run it too: the same shader), Q4_K
 * (`matmul` of _matvec_i8_k_v16.wgsl, the 16-byte reads of its decode kernel, INT_MATMUL_ROWS rows
 * per invocation) and Q6_K (`matmul` of _q6_k_i8.wgsl, one row per invocation, beside its decode
 * kernel). Variant 'dot4' is dot4I8Packed, 'int' the plain-i32 products.
 */
export const INT_MATMUL_TYPES: readonly IntWeightType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];
const INT_MATMUL_VARIANTS: readonly IntVariant[] = ['dot4', 'int'];
/**
 * Q4_K's prefill product in the subgroup shape (`matmul` of _matvec_i8_k_sg.wgsl, so
 * matvec_q4_k_i8sg / _i8xsg): 'dot4-sg' (dot4I8Packed) and 'int-sg' (two byte products per u32
 * multiply, x taken unsigned), one subgroup of SG_LANES lanes per SG_MATMUL_ROWS rows × SG_MATMUL_TOKENS tokens per pass.
 * Needs subgroups of exactly SG_LANES lanes (intVariantsFor offers 'dot4-sg'/'int-sg' only there).
 */
const SG_MATMUL_VARIANTS: readonly IntVariant[] = ['dot4-sg', 'int-sg'];
/** Rows per subgroup (override NR, 1..8) and tokens per pass (override TT, 1..8) of Q4_K's subgroup prefill product by default (4 × 4 measured best of these shapes on lavapipe: specs/benchmarks.md). */
export const SG_MATMUL_ROWS = 4;
export const SG_MATMUL_TOKENS = 4;
/** Tokens one workgroup of the subgroup prefill product walks (TZ in _matvec_i8_k_sg.wgsl); more go to further workgroups along z. */
const SG_MATMUL_GROUP_TOKENS = 64;
/** Rows per invocation of Q4_K's prefill product by default (override NR, 1..8; 8 measured fastest on lavapipe, specs/benchmarks.md). */
export const INT_MATMUL_ROWS = 8;
/**
 * The prefill product with x shared through the subgroup (`matmul` of _matvec_i8_k_sh.wgsl and
 * _matvec_q8_0_sh.wgsl, so matvec_<type>_i8sh / _i8xsh): 'dot4-sh' / 'int-sh', for Q4_K and Q8_0,
 * SH_MATMUL_ROWS rows (Q4_K; Q8_0 Q8_0_SH_MATMUL_ROWS) × SH_MATMUL_TOKENS tokens per invocation by default (8 × 16
 * measured best of 2, 4, 8 × 4, 8, 16 on lavapipe: specs/benchmarks.md), Q4_K's 'int-sh' (two byte
 * products per u32 multiply) SH_PAIRS_MATMUL_ROWS rows; for Q6_K (_matvec_q6_k_sh.wgsl)
 * one row × INT_MATMUL_TOKENS tokens, its 4-byte super-block walk's. Needs subgroups of 8 lanes.
 */
const SH_MATMUL_VARIANTS: readonly IntVariant[] = ['dot4-sh', 'int-sh'];
export const SH_MATMUL_ROWS = 8;
/**
 * Invocations per workgroup of the -sh prefill products: 16 (2 subgroups), so that a matrix of
 * few rows still makes enough workgroups to share evenly between lavapipe's threads (Q4_K at 6
 * rows per invocation: 2048 rows in 22 workgroups, not 6); the 1B's 16-token prefill kernels
 * 855 ms against 886 at 64 (3 alternated pairs, specs/benchmarks.md).
 */
export const SH_MATMUL_WG = 16;
/**
 * Rows per invocation of Q8_0's -sh prefill products (written out in shaders/_matvec_q8_0_sh.wgsl
 * by scripts/wgsl-gen/q8-0-shared-x.ts, so not an override): each token's x loads and broadcasts
 * serve both rows; 1.1-1.2x one row on the 1B's shapes, 3 and 4 rows no better (specs/benchmarks.md).
 */
export const Q8_0_SH_MATMUL_ROWS = 2;
/** Q4_K's 'int-sh' prefill: 6 rows per invocation (1.2-1.4x dot4-sh at 8 on lavapipe; 7 and 8 rows run at half the speed). */
export const SH_PAIRS_MATMUL_ROWS = 6;
export const SH_MATMUL_TOKENS = 16;
export function hasIntMatmul(type: string, v: IntVariant): boolean {
  return (
    ((INT_MATMUL_TYPES as readonly string[]).includes(type) && INT_MATMUL_VARIANTS.includes(v)) ||
    (type === 'Q4_K' && SG_MATMUL_VARIANTS.includes(v)) ||
    ((SH_PREFILL_TYPES as readonly string[]).includes(type) && SH_MATMUL_VARIANTS.includes(v))
  );
}

/** The integer variant that runs a prefill variant ('i8': dot4, 'i8x': int, 'i8sg': dot4-sg, 'i8xsg': int-sg, Q4_K's subgroup shape; 'i8sh': dot4-sh, 'i8xsh': int-sh). */
export function prefillIntVariant(v: IntPrefillVariant): IntVariant {
  return ({ i8: 'dot4', i8x: 'int', i8sg: 'dot4-sg', i8xsg: 'int-sg', i8sh: 'dot4-sh', i8xsh: 'int-sh' } as const)[v];
}

/**
 * The integer variant a prefill variant runs on a matrix of `cols` values per row: the chosen one,
 * or where it does not take that shape (the -sh products need whole groups of 256 values; Q8_0's
 * rows may be any multiple of 32), the plain product of the same arithmetic ('dot4' or 'int').
 */
export function prefillIntVariantFor(v: IntPrefillVariant, type: WeightType, cols: number): IntVariant {
  const chosen = prefillIntVariant(v);
  if (intVariantFits(chosen, { cols }, type)) return chosen;
  return chosen.startsWith('dot4') ? 'dot4' : 'int';
}

/** Whether this device runs an integer prefill variant for a type ('i8sg'/'i8xsg': Q4_K, 'i8sh'/'i8xsh': Q4_K, Q8_0 and Q6_K, where subgroups are 8 lanes). */
export function intPrefillOffered(ctx: Pick<GpuContext, 'caps' | 'adapter'>, type: WeightType, v: IntPrefillVariant): boolean {
  const iv = prefillIntVariant(v);
  return hasIntMatmul(type, iv) && intVariantsFor(ctx, type).includes(iv);
}

/**
 * The dispatch of the integer prefill product Y[t, :] = W·x_t for `tokens` tokens quantised in xq
 * (token t from word qOffset + t · quantizedXWords(cols)), output rows yStride apart. `rowsPerInvocation`
 * (Q4_K only: 1..8 for 'dot4'/'int', default INT_MATMUL_ROWS; rows per subgroup 1..8 for
 * 'dot4-sg'/'int-sg', default SG_MATMUL_ROWS; 1..8 for 'dot4-sh'/'int-sh', default SH_MATMUL_ROWS and
 * SH_PAIRS_MATMUL_ROWS)
 * and `tokensPerPass` (the subgroup variants 1..8, default SG_MATMUL_TOKENS; the -sh ones 1..16,
 * default SH_MATMUL_TOKENS) are for benchmarks.
 */
export function planIntMatmul(a: { weights: Omit<WeightMatrix, 'buffer'>; variant: IntVariant; tokens: number; qOffset?: number; yOffset?: number; yStride?: number; rowsPerInvocation?: number; tokensPerPass?: number }): IntDispatch {
  const { type, rows, cols } = a.weights;
  if (!hasIntMatmul(type, a.variant)) throw new GpuUsageError(`no integer prefill product ${String(a.variant)} for ${type} (types ${INT_MATMUL_TYPES.join(', ')}, variants ${INT_MATMUL_VARIANTS.join(', ')}; Q4_K also ${SG_MATMUL_VARIANTS.join(', ')}; ${SH_PREFILL_TYPES.join(', ')} also ${SH_MATMUL_VARIANTS.join(', ')})`, { type });
  const f = planMatmul({ weights: { ...a.weights, buffer: null as unknown as GPUBuffer }, tokens: a.tokens, yOffset: a.yOffset, yStride: a.yStride });
  if ((a.qOffset ?? 0) % 4 !== 0) throw new GpuUsageError(`the integer prefill product needs the quantised x 16-byte aligned (qOffset a multiple of 4 words), got ${a.qOffset}`);
  const params = [rows, cols, a.tokens, f.params[3], a.qOffset ?? 0, quantizedXWords(cols), f.params[6], f.params[7]];
  if (SG(a.variant)) {
    const nr = a.rowsPerInvocation ?? SG_MATMUL_ROWS;
    const tt = a.tokensPerPass ?? SG_MATMUL_TOKENS;
    if (!Number.isInteger(nr) || nr < 1 || nr > 8 || !Number.isInteger(tt) || tt < 1 || tt > 8) throw new GpuUsageError(`the subgroup prefill product takes 1..8 rows per subgroup and 1..8 tokens per pass, got ${a.rowsPerInvocation}, ${a.tokensPerPass}`);
    if (!intVariantFits(a.variant, a.weights, type)) throw new GpuUsageError(`the ${type} prefill product needs cols a multiple of 256 and 16-byte aligned weights, got ${cols} cols at byte ${a.weights.byteOffset ?? 0}`);
    const groups = Math.ceil(a.tokens / SG_MATMUL_GROUP_TOKENS);
    if (groups > 65535) throw new GpuUsageError(`${a.tokens} tokens exceed one dispatch`);
    const [gx, gy] = splitWorkgroups(Math.ceil(rows / ((MATVEC_WG / SG_LANES) * nr)));
    return { shader: intShader(type as IntWeightType, a.variant), entryPoint: 'matmul', constants: { WG: MATVEC_WG, NR: nr, TT: tt }, workgroups: [gx, gy, groups], params };
  }
  if (SH(a.variant)) {
    // Q4_K: 1..8 rows × 1..16 tokens (overrides NR, TT); Q8_0: Q8_0_SH_MATMUL_ROWS rows (written
    // out in the shader) × 1..16 tokens (TT); Q6_K: one row × its 4-byte walk's INT_MATMUL_TOKENS
    // (no overrides).
    const q4k = type === 'Q4_K';
    const q6k = type === 'Q6_K';
    const nr = a.rowsPerInvocation ?? (q4k ? (a.variant === 'int-sh' ? SH_PAIRS_MATMUL_ROWS : SH_MATMUL_ROWS) : q6k ? 1 : Q8_0_SH_MATMUL_ROWS);
    const tt = a.tokensPerPass ?? (q6k ? INT_MATMUL_TOKENS : SH_MATMUL_TOKENS);
    if (q6k && (nr !== 1 || tt !== INT_MATMUL_TOKENS)) {
      throw new GpuUsageError(`the Q6_K -sh prefill product takes one row and ${INT_MATMUL_TOKENS} tokens per invocation, got ${a.rowsPerInvocation}, ${a.tokensPerPass}`);
    }
    const rowsOk = q4k ? nr >= 1 && nr <= 8 : nr === (q6k ? 1 : Q8_0_SH_MATMUL_ROWS);
    if (!Number.isInteger(nr) || !rowsOk || !Number.isInteger(tt) || tt < 1 || tt > 16) {
      throw new GpuUsageError(`the ${type} -sh prefill product takes ${q4k ? '1..8 rows' : q6k ? 'one row' : `${Q8_0_SH_MATMUL_ROWS} rows`} per invocation and 1..16 tokens, got ${a.rowsPerInvocation}, ${a.tokensPerPass}`);
    }
    if (!intVariantFits(a.variant, a.weights, type)) throw new GpuUsageError(`the ${type} prefill product needs cols a multiple of 256 and 16-byte aligned weights, got ${cols} cols at byte ${a.weights.byteOffset ?? 0}`);
    const tiles = Math.ceil(a.tokens / tt);
    if (tiles > 65535) throw new GpuUsageError(`${a.tokens} tokens exceed one dispatch`);
    const [gx, gy] = splitWorkgroups(Math.ceil(rows / (SH_MATMUL_WG * nr)));
    const constants: Record<string, number> = q4k ? { WG: SH_MATMUL_WG, NR: nr, TT: tt } : q6k ? { WG: SH_MATMUL_WG } : { WG: SH_MATMUL_WG, TT: tt };
    return { shader: intShader(type as IntWeightType, a.variant), entryPoint: 'matmul', constants, workgroups: [gx, gy, tiles], params };
  }
  if (a.tokensPerPass !== undefined) throw new GpuUsageError(`tokensPerPass is for the subgroup and -sh prefill products only`);
  const tiles = Math.ceil(a.tokens / INT_MATMUL_TOKENS);
  if (tiles > 65535) throw new GpuUsageError(`${a.tokens} tokens exceed one dispatch`);
  // Q4_K's product is the 16-byte-read shape (whole super-blocks, weights on 16 bytes), NR rows per invocation.
  const v16 = type === 'Q4_K';
  const nr = v16 ? (a.rowsPerInvocation ?? INT_MATMUL_ROWS) : 1;
  if (!Number.isInteger(nr) || nr < 1 || nr > 8 || (!v16 && a.rowsPerInvocation !== undefined && a.rowsPerInvocation !== 1)) {
    throw new GpuUsageError(`rowsPerInvocation must be 1..8 (Q4_K) or 1, got ${a.rowsPerInvocation}`);
  }
  const v: IntVariant = v16 ? (a.variant === 'dot4' ? 'dot4-v16' : 'int-v16') : a.variant;
  if (!intVariantFits(v, a.weights)) throw new GpuUsageError(`the ${type} prefill product needs cols a multiple of 256 and 16-byte aligned weights, got ${cols} cols at byte ${a.weights.byteOffset ?? 0}`);
  const [gx, gy] = splitWorkgroups(Math.ceil(rows / (MATVEC_WG * nr)));
  return {
    shader: intShader(type as IntWeightType, v),
    entryPoint: 'matmul',
    // Q6_K's 4-byte super-block shape (_matvec_i8_k.wgsl) has no NR override.
    constants: type === 'Q6_K' ? { WG: MATVEC_WG } : { WG: MATVEC_WG, NR: nr },
    workgroups: [gx, gy, tiles],
    params,
  };
}

/** The dispatch of an integer matvec y = W·x over x quantised in xq (from word qOffset). */
export function planIntMatvec(a: { weights: Omit<WeightMatrix, 'buffer'>; variant: IntVariant; qOffset?: number; yOffset?: number }): IntDispatch {
  const { type, rows, cols } = a.weights;
  if (!isIntWeightType(type)) throw new GpuUsageError(`no integer kernel for ${type}`, { type });
  if (!intVariantsOfType(type).includes(a.variant)) throw new GpuUsageError(`no integer kernel variant ${String(a.variant)} for ${type}`);
  // The f32 kernel's checks of the matrix (shape, alignment) and its Params layout.
  const f = planMatmul({ weights: { ...a.weights, buffer: null as unknown as GPUBuffer }, tokens: 1, yOffset: a.yOffset });
  if (!intVariantFits(a.variant, a.weights, type)) throw new GpuUsageError(`${a.variant} needs cols a multiple of 256 and 16-byte aligned weights, got ${cols} cols at byte ${a.weights.byteOffset ?? 0}`);
  const sg = SG(a.variant);
  // Every shape but Q4_0's subgroup one reads the quantised x 16 bytes at a time.
  if ((!sg || SG_ROWS(type)) && (a.qOffset ?? 0) % 4 !== 0) throw new GpuUsageError(`${a.variant} needs the quantised x 16-byte aligned (qOffset a multiple of 4 words), got ${a.qOffset}`);
  const nr = ROWS_PER_INVOCATION[a.variant];
  const rowsPerGroup = sg ? (MATVEC_WG / SG_LANES) * nr : MATVEC_WG * nr;
  // The 8-value-block 16-byte shape and the 4-byte super-block shape have no NR override; Q4_K's
  // and Q8_0's subgroup shapes have NR (their lanes are fixed at 8), Q4_0's TPR.
  // Q6_K's -sh shape (like its 4-byte one) has no NR override.
  const constants: Record<string, number> = SH(a.variant) && type === 'Q6_K' ? { WG: MATVEC_WG } : sg ? (SG_ROWS(type) ? { WG: MATVEC_WG, NR: nr } : { WG: MATVEC_WG, TPR: SG_LANES }) : V16(a.variant) !== SUPER_BLOCK(type) ? { WG: MATVEC_WG } : { WG: MATVEC_WG, NR: nr };
  const [gx, gy] = splitWorkgroups(Math.ceil(rows / rowsPerGroup));
  return {
    shader: intShader(type, a.variant),
    entryPoint: 'matvec',
    constants,
    workgroups: [gx, gy, 1],
    params: [rows, cols, 1, f.params[3], a.qOffset ?? 0, quantizedXWords(cols), f.params[6], f.params[7]],
  };
}

function paramsOf(d: IntDispatch) {
  const p = params();
  for (const v of d.params) p.u32(v);
  return p;
}

/** The pipeline of a planned dispatch (compiled on first use, then cached by the context). */
export function intPipeline(ctx: GpuContext, d: IntDispatch): Promise<GPUComputePipeline> {
  return ctx.pipeline(d.shader, { entryPoint: d.entryPoint, constants: d.constants });
}

/** Records a planned dispatch with its compiled pipeline. quantize: [x, xq]; matvec: [weights, xq, y]. */
export function recordIntDispatch(batch: GpuBatch, pipeline: GPUComputePipeline, d: IntDispatch, bindings: GpuBinding[], label?: string): void {
  if (d.workgroups[0] === 0) return;
  batch.dispatch(pipeline, [batch.uniform(paramsOf(d)), ...bindings], d.workgroups, label ?? `${d.shader}:${d.entryPoint}`);
}

export interface IntMatvecArgs {
  weights: WeightMatrix;
  /** x (f32, one token of cols values, from xOffset). */
  x: GpuBinding;
  xOffset?: number;
  /** Scratch for the quantised x: at least quantizedXWords(cols) words. */
  xq: GpuBinding;
  y: GpuBinding;
  yOffset?: number;
  variant: IntVariant;
  /** x is already quantised in xq (a product reading the same x as the previous one). */
  skipQuantize?: boolean;
}

/** Records quantize_q8 (unless skipped) and the integer matvec y = W·x. */
export async function encodeIntMatvec(ctx: GpuContext, batch: GpuBatch, a: IntMatvecArgs): Promise<void> {
  if (!a.skipQuantize) {
    const q = planQuantize(a.weights.cols, a.xOffset ?? 0);
    recordIntDispatch(batch, await intPipeline(ctx, q), q, [a.x, a.xq]);
  }
  const d = planIntMatvec({ weights: a.weights, variant: a.variant, yOffset: a.yOffset });
  recordIntDispatch(batch, await intPipeline(ctx, d), d, [a.weights.buffer, a.xq, a.y]);
}
