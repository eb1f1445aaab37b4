/**
 * Integer decode products (issue 15 §1): x is quantised once per product into Q8 blocks
 * (shaders/quantize_q8.wgsl), then each weight block is dotted with it in i32 over packed bytes
 * (shaders/matvec_<type>_i8*.wgsl), llama.cpp's scheme for quantised weights. matvec (one token)
 * only; prefill and get_rows keep the f32 kernels of quant-matmul.ts. Variants:
 *   'dot4'    one invocation per row, dot4I8Packed (WGSL packed_4x8_integer_dot_product)
 *   'int'     the same with the 4 products written out in plain i32 (adapters without dot4I8Packed)
 *   'dot4-sg' one subgroup per row, a lane per quant word, subgroupAdd (needs `subgroups`)
 * A variant is an opt-in: the model uses one only when asked (Model.load `intMatvec`) or when the
 * tuner measured it faster than the f32 kernel and within tolerance (autotune.ts).
 */
import { GpuUsageError, params, splitWorkgroups, type GpuBatch, type GpuBinding, type GpuContext } from '../gpu';
import { planMatmul, type WeightDispatch, type WeightMatrix, type WeightType } from './quant-matmul';

export type IntWeightType = 'Q8_0' | 'Q4_0';
export const INT_WEIGHT_TYPES: readonly IntWeightType[] = ['Q8_0', 'Q4_0'];
export type IntVariant = 'dot4' | 'int' | 'dot4-sg';
export const INT_VARIANTS: readonly IntVariant[] = ['dot4', 'int', 'dot4-sg'];

const SHADER_SUFFIX: Readonly<Record<IntVariant, string>> = { dot4: '_i8', int: '_i8x', 'dot4-sg': '_i8sg' };
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

/** The variants this device can compile for a type: 'dot4-sg' needs subgroups of exactly SG_LANES. */
export function intVariantsFor(ctx: Pick<GpuContext, 'caps' | 'adapter'>, type: WeightType): IntVariant[] {
  if (!isIntWeightType(type)) return [];
  const sg = ctx.caps.subgroups && ctx.adapter.subgroupMinSize === SG_LANES && ctx.adapter.subgroupMaxSize === SG_LANES;
  return INT_VARIANTS.filter((v) => v !== 'dot4-sg' || sg);
}

/** u32 words of the quantised activations of `tokens` rows of `cols` values (9 per block of 32). */
export function quantizedXWords(cols: number, tokens = 1): number {
  if (!Number.isInteger(cols) || cols < 32 || cols % 32 !== 0) throw new GpuUsageError(`quantised activations need cols a positive multiple of 32, got ${cols}`);
  return tokens * (cols / 32) * 9;
}

/** The dispatch of quantize_q8 over one token of x (f32 elements from xOffset) into xq from word qOffset. */
export function planQuantize(cols: number, xOffset = 0, qOffset = 0): WeightDispatch {
  const words = quantizedXWords(cols);
  if (xOffset % 4 !== 0) throw new GpuUsageError(`x offset must be a multiple of 4, got ${xOffset}`);
  const [gx, gy] = splitWorkgroups(Math.ceil(cols / 32 / QUANTIZE_WG));
  return {
    shader: 'quantize_q8',
    entryPoint: 'quantize_q8' as WeightDispatch['entryPoint'],
    constants: { WG: QUANTIZE_WG, TPR: 1 },
    workgroups: [gx, gy, 1],
    params: [cols, 1, xOffset, cols, qOffset, words, 0, 0],
  };
}

/** The dispatch of an integer matvec: the f32 kernel's parameters with x_off in words of xq. */
export function planIntMatvec(a: { weights: Omit<WeightMatrix, 'buffer'>; variant: IntVariant; qOffset?: number; yOffset?: number }): WeightDispatch {
  const { type } = a.weights;
  if (!isIntWeightType(type)) throw new GpuUsageError(`no integer kernel for ${type}`, { type });
  const lanes = a.variant === 'dot4-sg' ? SG_LANES : 1;
  const f = planMatmul({ weights: { ...a.weights, buffer: undefined as unknown as GPUBuffer }, tokens: 1, yOffset: a.yOffset, tuning: { workgroupSize: MATVEC_WG, threadsPerRow: lanes } });
  const params = [...f.params] as WeightDispatch['params'];
  params[4] = a.qOffset ?? 0;
  params[5] = quantizedXWords(a.weights.cols);
  return { ...f, shader: intShader(type, a.variant), constants: { WG: MATVEC_WG, TPR: lanes }, params };
}

function paramsOf(d: WeightDispatch) {
  const p = params();
  for (const v of d.params) p.u32(v);
  return p;
}

/** The pipelines of a planned dispatch (quantize_q8 has no TPR constant). */
export function intPipeline(ctx: GpuContext, d: WeightDispatch): Promise<GPUComputePipeline> {
  const constants = d.shader === 'quantize_q8' ? { WG: d.constants.WG } : d.constants;
  return ctx.pipeline(d.shader, { entryPoint: d.entryPoint, constants });
}

/** Records a planned dispatch with its compiled pipeline. quantize: [x, xq]; matvec: [weights, xq, y]. */
export function recordIntDispatch(batch: GpuBatch, pipeline: GPUComputePipeline, d: WeightDispatch, bindings: GpuBinding[], label?: string): void {
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
