/**
 * Host side of shaders/matvec_fused_f32.wgsl: the decode product of an F32 matrix with the
 * dispatch before it folded into its read of x (the RMSNorm, or SiLU(gate) ⊙ up of a stacked
 * [gate | up]) and the residual add after it folded into its write (issue 15 §3). Every
 * invocation redoes the norm or the SiLU over the whole row of x, so the engine takes it only
 * for narrow rows (FUSED_MATVEC_MAX_COLS): stories260K-sized models, whose decode is bound by
 * the number of dispatches, not by their work.
 */
import { GpuUsageError, params, splitWorkgroups, type GpuBatch, type GpuBinding } from '../gpu';

export const FUSED_MATVEC_SHADER = 'matvec_fused_f32';
export const FUSED_MATVEC_ENTRY = 'matvec_fused';
/** Invocations per workgroup (one per row). */
export const FUSED_MATVEC_WG = 64;
/**
 * Widest x (cols, and the model's widths) the engine runs through the fused product. Each row's
 * invocation re-reads all of x for the norm (and takes cols exps for SiLU), which costs nothing
 * next to a dispatch at stories260K's 64 / 172 but would be a second pass over x per row at a
 * 1B model's 2048 / 5632; measured only on the small model (specs/benchmarks.md).
 */
export const FUSED_MATVEC_MAX_COLS = 1024;

/** What the product reads as x. */
export type FusedInput =
  | { kind: 'plain' }
  /** rmsnorm(x) · w (w: the norm's weight, bound as `norm`). */
  | { kind: 'rmsnorm'; eps: number }
  /** silu(x[xOffset ..]) ⊙ x[upOffset ..], cols values each. */
  | { kind: 'swiglu'; upOffset: number };

export interface FusedMatvecArgs {
  rows: number;
  cols: number;
  /** Where the matrix starts in its binding, bytes (a multiple of 16). Default 0. */
  byteOffset?: number;
  /** x start, f32 elements (a multiple of 4). Default 0. */
  xOffset?: number;
  /** y start, f32 elements. Default 0. */
  yOffset?: number;
  input: FusedInput;
  /** y[r] += W·x instead of y[r] = W·x. */
  add: boolean;
}

export interface FusedMatvecDispatch {
  workgroups: [number, number, number];
  /** Params in order: eight u32 fields, then eps (f32). */
  u32s: [number, number, number, number, number, number, number, number];
  eps: number;
}

function u32(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new GpuUsageError(`fused matvec: ${name} must be a u32, got ${v}`);
  return v;
}

/** The dispatch for one fused product, checked without a device. */
export function planFusedMatvec(a: FusedMatvecArgs): FusedMatvecDispatch {
  const { rows, cols } = a;
  if (!Number.isInteger(rows) || rows < 1) throw new GpuUsageError(`fused matvec: rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 4 || cols % 4) throw new GpuUsageError(`fused matvec: cols must be a positive multiple of 4, got ${cols}`);
  const byteOffset = a.byteOffset ?? 0;
  if (byteOffset % 16) throw new GpuUsageError(`fused matvec: the matrix must start 16-byte aligned, got byteOffset ${byteOffset}`);
  const xOffset = a.xOffset ?? 0;
  if (xOffset % 4) throw new GpuUsageError(`fused matvec: x offset must be a multiple of 4, got ${xOffset}`);
  let mode = 0;
  let upOffset = 0;
  let eps = 0;
  if (a.input.kind === 'rmsnorm') {
    mode = 1;
    eps = a.input.eps;
    if (!(eps >= 0) || !Number.isFinite(eps)) throw new GpuUsageError(`fused matvec: eps must be a finite number >= 0, got ${eps}`);
  } else if (a.input.kind === 'swiglu') {
    mode = 2;
    upOffset = a.input.upOffset;
    if (upOffset % 4) throw new GpuUsageError(`fused matvec: up offset must be a multiple of 4, got ${upOffset}`);
  }
  const [gx, gy] = splitWorkgroups(Math.ceil(rows / FUSED_MATVEC_WG));
  return {
    workgroups: [gx, gy, 1],
    u32s: [rows, cols, u32('weight offset', byteOffset / 4), u32('x offset', xOffset), u32('y offset', a.yOffset ?? 0), u32('up offset', upOffset), mode, a.add ? 1 : 0],
    eps,
  };
}

/**
 * Records a planned fused product. `norm` is the norm's weight for an rmsnorm input; any
 * read-only buffer otherwise (the binding exists either way). y must not alias x or norm.
 */
export function recordFusedMatvec(
  b: GpuBatch,
  pipeline: GPUComputePipeline,
  d: FusedMatvecDispatch,
  bindings: { w: GpuBinding; x: GpuBinding; y: GpuBinding; norm: GpuBinding },
  label: string,
): void {
  const u = params();
  for (const v of d.u32s) u.u32(v);
  u.f32(d.eps);
  b.dispatch(pipeline, [b.uniform(u), bindings.w, bindings.x, bindings.y, bindings.norm], d.workgroups, label);
}
