/**
 * What a kernel tuning run keeps (specs/engine.md, "Kernel tuning"; measured by autotune.ts): the
 * candidates it tries, the record of one run per adapter and kernels (its types' choices), the keys
 * that name the adapter and the kernels' WGSL, and the tables Model.load takes from a record.
 */
import type { GpuContext } from '../gpu';
import type { AdapterSummary } from '../gpu/adapter';
import { INT_WEIGHT_TYPES, intShader, intVariantsOfType, type IntVariant, type IntWeightType } from './int-matvec';
import { DEFAULT_TUNING, WEIGHT_SHADERS, WEIGHT_TYPES, type PrefillVariant, type WeightKernelTuning, type WeightType } from './quant-matmul';

/** Shapes tried (workgroup size × threads per row); the default comes first. */
export const TUNING_CANDIDATES: readonly WeightKernelTuning[] = [
  DEFAULT_TUNING,
  { workgroupSize: 64, threadsPerRow: 2 },
  { workgroupSize: 64, threadsPerRow: 4 },
  { workgroupSize: 64, threadsPerRow: 8 },
  { workgroupSize: 32, threadsPerRow: 4 },
  { workgroupSize: 128, threadsPerRow: 8 },
  { workgroupSize: 256, threadsPerRow: 32 },
];

/**
 * The integer kernels tried by default per type (where the device offers them), with and
 * without dot4I8Packed: Q8_0/Q4_0 one and two rows per invocation, Q4_K its 4-byte shape, its
 * 16-byte shape with two rows per invocation, its subgroup shape with four rows per subgroup and its
 * shape with x shared through the subgroup with two rows per invocation, Q6_K its one shape and
 * its shape with x shared through the subgroup (1.1–1.2× of dot4). Left out as measured slower on lavapipe (specs/benchmarks.md, "Integer
 * decode kernels"): r4 (no better than r2), Q8_0/Q4_0 -v16 (mixed), Q4_K -v16 with one or four
 * rows (0.75× and 0.8× of -v16-r2), Q4_0 -sg (0.4–0.8×), Q8_0's subgroup shape -sg, -sg-r2,
 * -sg-r4 (0.7–1.65× of dot4-r2 by form, shape and run, not a clear win: specs/benchmarks.md,
 * "Q8_0 subgroup decode kernels"),
 * Q4_K -sg with one or two rows (0.5–0.9× and 0.7–1.0× of -sg-r4), Q4_K -sh with one or four rows
 * (0.9–1.0× of -sh-r2), Q8_0 -sh (0.8× of dot4-r2: "x shared through the subgroup"); each extra
 * candidate costs a pipeline compile and its rounds. Q4_K's -sh-r2 (x shared through the subgroup,
 * two rows per invocation) measured 1.0–1.25× of -sg-r4.
 */
export const TUNING_INT_VARIANTS: Readonly<Record<IntWeightType, readonly IntVariant[]>> = {
  Q8_0: ['dot4', 'dot4-r2', 'int', 'int-r2'],
  Q4_0: ['dot4', 'dot4-r2', 'int', 'int-r2'],
  Q4_K: ['dot4', 'int', 'dot4-v16-r2', 'int-v16-r2', 'dot4-sg-r4', 'int-sg-r4', 'dot4-sh-r2', 'int-sh-r2'],
  Q6_K: ['dot4', 'int', 'dot4-sh', 'int-sh'],
};

/**
 * A candidate must beat the default by this fraction to replace it (its speed-up interval must
 * clear 1 / (1 − margin)): on a CPU adapter shared with other work, timings wander by 5-10 %.
 */
export const TUNING_MARGIN = 0.1;

/** Tokens in the prefill product the tuner times (two tiles of the tiled kernels, four of `matmul`). */
export const PREFILL_TOKENS = 16;

export interface TypeTuning {
  tuning: WeightKernelTuning;
  /** Best milliseconds per product of the chosen shape, and of the default. */
  ms: number;
  defaultMs: number;
  /** How much faster than the default, round by round (the median of the per-round speed ratios); 1 when the default stays. */
  speedup: number;
  /**
   * The bootstrap interval of the speed-up of the shape kept, or, when the default stays, of the
   * best challenger (older records have none).
   */
  interval?: { lo: number; hi: number; confidence: number };
  /** When the default stays: the shape that came closest. */
  challenger?: WeightKernelTuning;
  /** The integer decode kernel kept for this type (decode then goes through it, not `tuning`). */
  intMatvec?: IntVariant;
  /** When the default stays and the closest was an integer kernel: which. */
  challengerIntMatvec?: IntVariant;
  /** The decision in plain words, with the numbers that made it. */
  reason?: string;
  /** The matrix timed, when it was not the record's rows × cols (a model's own shape). */
  rows?: number;
  cols?: number;
  /** The prefill measurement (tuned with `prefill`): tiled products against the default `matmul`. */
  prefill?: PrefillTuning;
}

export interface PrefillTuning {
  /** The tiled product kept for prefill; absent: the default `matmul` stays. */
  variant?: PrefillVariant;
  /** Tokens in the product timed. */
  tokens: number;
  /** Best milliseconds per product of the kept kernel (the default's when none), and of the default. */
  ms: number;
  defaultMs: number;
  speedup: number;
  interval?: { lo: number; hi: number; confidence: number };
  /** When the default stays: the variant that came closest. */
  challenger?: PrefillVariant;
  reason?: string;
}

export interface TuningRecord {
  /** adapterKey() of the adapter measured. */
  adapter: string;
  /** kernelsKey() of the WGSL measured. */
  kernels: string;
  /** ISO time of the measurement. */
  measuredAt: string;
  rows: number;
  cols: number;
  /** How the samples were taken (older records: the wall clock). */
  clock?: 'wall' | 'gpu';
  types: Partial<Record<WeightType, TypeTuning>>;
}

export interface CandidateTiming {
  tuning: WeightKernelTuning;
  /** An integer decode kernel (then `tuning` is the default f32 shape, unused by it). */
  int?: IntVariant;
  /** Best milliseconds per product over the rounds (Infinity when it was not timed); integer kernels: quantising x included. */
  ms: number;
  /** Milliseconds per product in each round (the rounds time every candidate back to back). */
  rounds: number[];
  /** False when its product disagreed with the default's (never chosen). */
  agrees: boolean;
}

/** The adapter a record belongs to: vendor, architecture, device and description. */
export function adapterKey(a: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description'>): string {
  return [a.vendor, a.architecture, a.device, a.description].join(' | ');
}

/** The shaders a tuning record measures: the f32 weight kernels, quantize_q8 and every integer kernel. */
export function tunedShaders(): string[] {
  return [...WEIGHT_TYPES.map((t) => WEIGHT_SHADERS[t]), 'quantize_q8', ...INT_WEIGHT_TYPES.flatMap((t) => intVariantsOfType(t).map((v) => intShader(t, v)))];
}

/** A 64-bit FNV-1a of the weight kernels' expanded WGSL (tunedShaders), as hex: any kernel change changes it. */
export function kernelsKey(ctx: Pick<GpuContext, 'shaderText'>): string {
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (const name of tunedShaders()) {
    const text = `${name}\n${ctx.shaderText(name)}\n`;
    for (let i = 0; i < text.length; i++) h = ((h ^ BigInt(text.charCodeAt(i))) * prime) & mask;
  }
  return h.toString(16).padStart(16, '0');
}

/** The per-type tiled prefill products a record kept (what Model.load takes as `prefillMatmul`); empty when none won. */
export function prefillTable(record: TuningRecord): Partial<Record<WeightType, PrefillVariant>> {
  const out: Partial<Record<WeightType, PrefillVariant>> = {};
  for (const type of WEIGHT_TYPES) {
    const v = record.types[type]?.prefill?.variant;
    if (v) out[type] = v;
  }
  return out;
}

/** The per-type integer decode kernels a record kept (what Model.load takes as `intMatvec`); empty when none won. */
export function intMatvecTable(record: TuningRecord): Partial<Record<IntWeightType, IntVariant>> {
  const out: Partial<Record<IntWeightType, IntVariant>> = {};
  for (const type of INT_WEIGHT_TYPES) {
    const v = record.types[type]?.intMatvec;
    if (v) out[type] = v;
  }
  return out;
}

/** The per-type matvec shapes a record chose (what Model.load takes as `matvecTuning`). */
export function tuningTable(record: TuningRecord): Partial<Record<WeightType, WeightKernelTuning>> {
  const out: Partial<Record<WeightType, WeightKernelTuning>> = {};
  for (const type of WEIGHT_TYPES) {
    const t = record.types[type];
    if (t) out[type] = { ...t.tuning };
  }
  return out;
}

/** A fresh measurement merged into the kept one of the same adapter and kernels: the fresh types win, the others stay. */
export function mergeTuning(kept: TuningRecord | undefined, fresh: TuningRecord): TuningRecord {
  return kept ? { ...fresh, types: { ...kept.types, ...fresh.types } } : fresh;
}
