/**
 * Self-tuning of the weight kernels (specs/engine.md, "Kernel tuning"). The decode kernel of each
 * weight type (matvec: one token) can run in several shapes — invocations per workgroup × threads
 * sharing a row — and which is fastest depends on the adapter: on Mesa's lavapipe Q8_0 and Q6_K
 * run 2× faster with a few threads per row, F32 does not. So the engine measures instead of
 * guessing: each candidate shape computes a product of random weights, must agree with the default
 * shape's answer, and is timed in rounds interleaved with the default; a shape is kept only when
 * the bootstrap interval of its speed-up clears a minimum win (shared/stats). The
 * record is keyed by the adapter and by the kernels' WGSL, so a new driver or a changed kernel is
 * measured again, and it is checked like any other input when it is read back.
 * The integer decode kernels (int-matvec.ts) compete under the same rule: each variant the device
 * offers for a type is checked against its integer reference (not the f32 product: it rounds x to
 * 8 bits) and kept only when proven faster than the default f32 shape; the record then names it
 * (intMatvec), and a model loaded with the record decodes that type through it. Not tuned: off.
 * Prefill (opt-in, `prefill`): for the types with tiled products or an integer prefill product
 * (quant-matmul.ts PrefillVariant; `i8`/`i8x` for Q8_0, Q4_0, Q4_K), each variant's product of PREFILL_TOKENS tokens is checked against the default `matmul`
 * kernel's and timed against it under the same rule; the record keeps one (`prefill.variant`)
 * only when proven faster, and a model loaded with the record prefills that type through it.
 */
import { z } from 'zod';
import type { GpuBatch, GpuContext } from '../gpu';
import type { AdapterSummary } from '../gpu/adapter';
import { Xoshiro128 } from '../model-gen/prng';
import { pairedSpeedupInterval, type Interval } from '../stats/bootstrap';
import { decideSpeedup, type SpeedDecision } from '../stats/speed-decision';
import { EngineError } from './errors';
import { encodeIntMatvec, intPipeline, planIntMatmul, planQuantizeTokens, recordIntDispatch, INT_VARIANTS, INT_WEIGHT_TYPES, intShader, intVariantsFor, intVariantsOfType, isIntWeightType, quantizedXWords, type IntVariant, type IntWeightType } from './int-matvec';
import { intMatvecRef, quantizeQ8Ref } from './reference/int-matvec';
import { tensorTypeName, type TensorInfo } from './tensor-source';
import { DEFAULT_TUNING, encodeMatmul, isKernelTuning, isTileVariant, isWeightType, padWeightBytes, PREFILL_ENTRY, PREFILL_VARIANTS, prefillVariantFits, WEIGHT_CHUNK, WEIGHT_SHADERS, WEIGHT_TYPES, weightBytes, type PrefillVariant, type WeightKernelTuning, type WeightType } from './quant-matmul';

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
 * without dot4I8Packed: Q8_0/Q4_0 one and two rows per invocation, Q4_K its 4-byte shape and its
 * 16-byte shape with two rows per invocation, Q6_K its one shape. Left out as measured slower on
 * lavapipe (specs/benchmarks.md, "Integer decode kernels"): r4 (no better than r2), Q8_0/Q4_0
 * -v16 (mixed), Q4_K -v16 with one or four rows (0.75× and 0.8× of -v16-r2), -sg (0.4–0.8×);
 * each extra candidate costs a pipeline compile and its rounds.
 */
export const TUNING_INT_VARIANTS: Readonly<Record<IntWeightType, readonly IntVariant[]>> = {
  Q8_0: ['dot4', 'dot4-r2', 'int', 'int-r2'],
  Q4_0: ['dot4', 'dot4-r2', 'int', 'int-r2'],
  Q4_K: ['dot4', 'int', 'dot4-v16-r2', 'int-v16-r2'],
  Q6_K: ['dot4', 'int'],
};

/**
 * A candidate must beat the default by this fraction to replace it (its speed-up interval must
 * clear 1 / (1 − margin)): on a CPU adapter shared with other work, timings wander by 5-10 %.
 */
export const TUNING_MARGIN = 0.1;

/** Tokens in the prefill product the tuner times (two tiles of the tiled kernels, four of `matmul`). */
export const PREFILL_TOKENS = 16;

/** How far a candidate's product may drift from the default's (summation order only). */
const AGREEMENT_TOLERANCE = 1e-4;
/**
 * An integer candidate's drift from its integer reference, in units of 2^-24 · Σ|terms| of the row
 * (its block sums are exact; only f32 rounding of the terms and their sum is left), as the
 * integer kernels' tests allow.
 */
const INT_AGREEMENT_ULPS = 8;

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

export interface TuneProgress {
  type: WeightType;
  typeIndex: number;
  typeCount: number;
}

export interface TuneOptions {
  types: readonly WeightType[];
  /** Shape of the product timed (default 2048 × 2048). */
  rows?: number;
  cols?: number;
  /** Per type, the shape to time instead (a model's largest matrix of that type, say). */
  shapes?: Partial<Record<WeightType, { rows: number; cols: number }>>;
  candidates?: readonly WeightKernelTuning[];
  /**
   * The integer decode kernels to try for the types that have them, where the device offers them:
   * TUNING_INT_VARIANTS (default), every variant (true), only these, or none (false).
   */
  intVariants?: boolean | readonly IntVariant[];
  /**
   * The tiled prefill products to try for the types that have them (quant-matmul.ts
   * TILE_WEIGHT_TYPES): every variant (true), only these, or none (false, the default).
   */
  prefill?: boolean | readonly PrefillVariant[];
  /** Timed rounds per candidate (the best counts) and products per round. */
  rounds?: number;
  reps?: number;
  onProgress?: (p: TuneProgress) => void;
  /** Measured per type, besides the choice (the CLI prints them). */
  onTimings?: (type: WeightType, timings: readonly CandidateTiming[]) => void;
  signal?: AbortSignal;
  now?: () => number;
  /**
   * Where the samples come from: 'wall' (now() around K products, submit and wait included) or
   * 'gpu' (the device's timestamp queries around each pass: the kernels alone). 'gpu' falls back
   * to 'wall' on an adapter without timestamp-query. On Dawn, open the instance without
   * timestamp quantisation (BENCH_DAWN_FLAGS) or the times come in steps of about 65 µs.
   */
  clock?: 'wall' | 'gpu';
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

const sameTuning = (a: WeightKernelTuning, b: WeightKernelTuning) => a.workgroupSize === b.workgroupSize && a.threadsPerRow === b.threadsPerRow;

/** A candidate's name: its shape (`64x4`), or `int <variant>` for an integer kernel. */
export function candidateName(c: { tuning: WeightKernelTuning; int?: IntVariant }): string {
  return c.int ? `int ${c.int}` : `${c.tuning.workgroupSize}x${c.tuning.threadsPerRow}`;
}

/** One candidate against the default: its speed-up interval and whether the rule keeps it. */
export interface CandidateComparison {
  tuning: WeightKernelTuning;
  int?: IntVariant;
  agrees: boolean;
  /** Null when it was not timed against the default (it disagreed, or its rounds do not pair). */
  speedup: Interval | null;
  decision: SpeedDecision | null;
}

/** Every candidate after the default, compared with it round by round (shared/stats/bootstrap.ts). */
export function compareCandidates(timings: readonly CandidateTiming[], margin = TUNING_MARGIN): CandidateComparison[] {
  const base = timings[0];
  if (!base || !base.agrees || !Number.isFinite(base.ms) || base.rounds.length === 0) {
    throw new EngineError('ENGINE_BAD_OPTION', 'the default kernel shape must be timed first and agree with itself');
  }
  if (base.int) throw new EngineError('ENGINE_BAD_OPTION', 'the default must be an f32 kernel shape');
  return timings.slice(1).map((t) => {
    const id = { tuning: t.tuning, ...(t.int ? { int: t.int } : {}) };
    if (!t.agrees || t.rounds.length !== base.rounds.length) return { ...id, agrees: t.agrees, speedup: null, decision: null };
    const speedup = pairedSpeedupInterval(base.rounds, t.rounds);
    return { ...id, agrees: true, speedup, decision: decideSpeedup(speedup, margin) };
  });
}

/**
 * The shape to use given the timings. Each candidate is compared with the default round by
 * round (the two ran seconds apart, so a busy stretch of the machine slows both): its speed-up is
 * the median of the per-round ratios, with a bootstrap interval. Of the candidates whose whole
 * interval clears the minimum win (1 / (1 − margin)), the fastest by that median is kept; with
 * none, the default stays, and the record names the best challenger and why it lost.
 */
export function chooseTuning(timings: readonly CandidateTiming[], margin = TUNING_MARGIN): TypeTuning {
  const base = timings[0]!;
  const compared = compareCandidates(timings, margin);
  const byEstimate = (a: CandidateComparison, b: CandidateComparison) => b.speedup!.estimate - a.speedup!.estimate;
  const timed = compared.filter((c) => c.speedup).sort(byEstimate);
  const kept = timed.find((c) => c.decision!.keep);
  const shown = kept ?? timed[0];
  const interval = shown ? { interval: { lo: shown.speedup!.lo, hi: shown.speedup!.hi, confidence: shown.speedup!.confidence } } : {};
  if (kept) {
    const pick = timings.find((t) => candidateName(t) === candidateName(kept))!;
    // An integer kernel kept: decode goes through it; the f32 shape (for what it does not take) stays the default.
    const int = pick.int ? { intMatvec: pick.int } : {};
    return { tuning: { ...pick.tuning }, ...int, ms: pick.ms, defaultMs: base.ms, speedup: kept.speedup!.estimate, ...interval, reason: kept.decision!.reason };
  }
  return {
    tuning: { ...base.tuning },
    ms: base.ms,
    defaultMs: base.ms,
    speedup: 1,
    ...interval,
    ...(shown ? { challenger: { ...shown.tuning }, ...(shown.int ? { challengerIntMatvec: shown.int } : {}), reason: shown.decision!.reason } : { reason: 'Not kept: no other shape computed the same product.' }),
  };
}

/**
 * Random weight bytes for timing a kernel, padded for upload: every byte's top two bits are
 * cleared, so every f16 block scale is small and finite (no NaN or inf in the arithmetic).
 */
export function randomWeightBytes(type: WeightType, rows: number, cols: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(weightBytes(type, rows, cols));
  const rng = new Xoshiro128(seed);
  for (let i = 0; i < b.length; i++) b[i] = rng.nextU32() & 0x3f;
  return padWeightBytes(b);
}

/** Measures every candidate shape of the matvec kernel of each type on this device. */
export async function tuneWeightKernels(ctx: GpuContext, opts: TuneOptions): Promise<TuningRecord> {
  const rows = opts.rows ?? 2048;
  const cols = opts.cols ?? 2048;
  const rounds = opts.rounds ?? 3;
  const reps = opts.reps ?? 3;
  const now = opts.now ?? (() => performance.now());
  const candidates = [DEFAULT_TUNING, ...(opts.candidates ?? TUNING_CANDIDATES).filter((c) => !sameTuning(c, DEFAULT_TUNING))];
  for (const [field, v] of [['rows', rows], ['cols', cols], ['rounds', rounds], ['reps', reps]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new EngineError('ENGINE_BAD_OPTION', `tuning: ${field} must be a positive integer, got ${v}`, { field, value: v });
  }
  const shapeOf = (type: WeightType) => {
    const sh = opts.shapes?.[type] ?? { rows, cols };
    if (!Number.isInteger(sh.rows) || sh.rows < 1 || !Number.isInteger(sh.cols) || sh.cols < 1 || sh.cols % WEIGHT_CHUNK[type] !== 0) {
      throw new EngineError('ENGINE_BAD_OPTION', `tuning ${type}: a ${sh.rows} × ${sh.cols} matrix is not one its kernel takes (columns a multiple of ${WEIGHT_CHUNK[type]})`, { field: 'shape', type });
    }
    return sh;
  };
  for (const type of opts.types) shapeOf(type);
  const clock = opts.clock === 'gpu' && ctx.caps.timestamps ? 'gpu' : 'wall';
  const record: TuningRecord = { adapter: adapterKey(ctx.adapter), kernels: kernelsKey(ctx), measuredAt: new Date().toISOString(), rows, cols, clock, types: {} };
  const previousHook = ctx.activeTimingHook;
  const maxCols = Math.max(cols, ...opts.types.map((t) => shapeOf(t).cols));
  const maxRows = Math.max(rows, ...opts.types.map((t) => shapeOf(t).rows));
  const xHost = Float32Array.from({ length: maxCols }, (_, i) => Math.sin(i * 0.37));
  const x = ctx.storage(xHost, 'tune:x');
  const y = ctx.storage(maxRows * 4, 'tune:y');
  const wanted = opts.intVariants;
  const intsOf = (type: WeightType, cols: number): IntVariant[] => {
    if (wanted === false || !isIntWeightType(type) || cols % 32 !== 0) return [];
    const list = wanted === undefined ? TUNING_INT_VARIANTS[type] : wanted;
    return intVariantsFor(ctx, type, { cols }).filter((v) => list === true || list.includes(v));
  };
  const needXq = opts.types.some((t) => intsOf(t, shapeOf(t).cols).length > 0);
  const xq = ctx.storage(needXq ? quantizedXWords(Math.ceil(maxCols / 32) * 32) * 4 : 16, 'tune:xq');
  // Prefill variants per type: those the type has ('i8' only where the device has dot4I8Packed).
  const prefillOf = (type: WeightType): PrefillVariant[] =>
    !opts.prefill
      ? []
      : PREFILL_VARIANTS.filter((v) => (opts.prefill === true || (opts.prefill as readonly PrefillVariant[]).includes(v)) && prefillVariantFits(type, v) && (v !== 'i8' || intVariantsFor(ctx, type).includes('dot4')));
  const needPrefill = opts.types.some((t) => prefillOf(t).length > 0);
  const needXqT = opts.types.some((t) => prefillOf(t).some((v) => !isTileVariant(v)));
  const xTHost = needPrefill ? Float32Array.from({ length: PREFILL_TOKENS * maxCols }, (_, i) => Math.sin(i * 0.37 + 0.1 * Math.floor(i / maxCols))) : new Float32Array(4);
  const xT = ctx.storage(xTHost, 'tune:xT');
  const yT = ctx.storage(needPrefill ? PREFILL_TOKENS * maxRows * 4 : 16, 'tune:yT');
  const xqT = ctx.storage(needXqT ? PREFILL_TOKENS * quantizedXWords(Math.ceil(maxCols / 32) * 32) * 4 : 16, 'tune:xqT');
  try {
    for (const [typeIndex, type] of opts.types.entries()) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ type, typeIndex, typeCount: opts.types.length });
      const { rows: tr, cols: tc } = shapeOf(type);
      const wBytes = randomWeightBytes(type, tr, tc, 0x9e3779b9 + typeIndex);
      const w = ctx.storage(wBytes, `tune:w:${type}`);
      try {
        const weights = { type, rows: tr, cols: tc, buffer: w };
        type Candidate = { tuning: WeightKernelTuning; int?: IntVariant };
        const product = async (c: Candidate, n: number) => {
          const b = ctx.batch(`tune ${type} ${candidateName(c)}`);
          for (let i = 0; i < n; i++) {
            if (c.int) await encodeIntMatvec(ctx, b, { weights, x, xq, y, variant: c.int });
            else await encodeMatmul(ctx, b, { weights, x, y, tokens: 1, tuning: c.tuning });
          }
          b.submit();
          await ctx.sync();
        };
        /** Milliseconds per product of `n` products: the GPU's own pass times, or the wall clock around them. */
        const timedProduct = (c: Candidate, n: number): Promise<number> => timedRun(() => product(c, n), n);
        const timedRun = async (run: () => Promise<void>, n: number): Promise<number> => {
          if (clock === 'wall') {
            const t0 = now();
            await run();
            return (now() - t0) / n;
          }
          // The batch reads the hook when it is made; the times arrive after the GPU finished.
          const passes = new Promise<number>((resolve) => ctx.setTimingHook((_label, times) => resolve(times.reduce((sum, p) => sum + p.ms, 0))));
          await run();
          // A lost device never delivers the times: fail as the next GPU call would.
          const ms = await Promise.race([passes, ctx.device.lost.then(() => NaN)]);
          if (!Number.isFinite(ms)) await ctx.sync();
          return ms / n;
        };
        // Correctness first (this also compiles every pipeline before anything is timed).
        let reference: Float32Array | null = null;
        let intReference: ReturnType<typeof intMatvecRef> | null = null;
        const timings: CandidateTiming[] = [];
        const all: Candidate[] = [...candidates.map((tuning) => ({ tuning })), ...intsOf(type, tc).map((v) => ({ tuning: DEFAULT_TUNING, int: v }))];
        for (const c of all) {
          if (c.int) {
            // An integer kernel this adapter cannot compile (no packed_4x8_integer_dot_product, say) is a candidate that lost, not a failed tuning.
            try {
              await product(c, 1);
            } catch {
              timings.push({ tuning: c.tuning, int: c.int, ms: Infinity, rounds: [], agrees: false });
              continue;
            }
          } else await product(c, 1);
          const got = await ctx.readF32(y, tr);
          if (c.int) {
            // Against the integer reference over the same Q8 rounding of x (quantize_q8 matches quantizeQ8Ref bit for bit).
            intReference ??= intMatvecRef(type as IntWeightType, wBytes, tr, tc, quantizeQ8Ref(xHost.subarray(0, tc)));
            const mag = Math.max(...intReference.mag);
            let ok = Number.isFinite(mag);
            for (let i = 0; i < tr && ok; i++) ok = Math.abs(got[i]! - intReference.y[i]!) <= INT_AGREEMENT_ULPS * 2 ** -24 * mag + 2 ** -20 * Math.abs(intReference.y[i]!);
            timings.push({ tuning: c.tuning, int: c.int, ms: Infinity, rounds: [], agrees: ok });
            continue;
          }
          if (!reference) reference = got;
          let scale = 0;
          let worst = 0;
          for (let i = 0; i < tr; i++) {
            scale = Math.max(scale, Math.abs(reference[i]!));
            worst = Math.max(worst, Math.abs(got[i]! - reference[i]!));
          }
          const agrees = Number.isFinite(scale) && worst <= AGREEMENT_TOLERANCE * Math.max(1, scale);
          timings.push({ tuning: c.tuning, ms: Infinity, rounds: [], agrees });
        }
        // Each round times every candidate back to back, in alternating order, so a busy second
        // of the machine hits a candidate and the default alike.
        const timed = timings.filter((t) => t.agrees);
        for (let r = 0; r < rounds; r++) {
          for (const t of r % 2 ? [...timed].reverse() : timed) {
            opts.signal?.throwIfAborted();
            const ms = await timedProduct(t, reps);
            t.rounds.push(ms);
            t.ms = Math.min(t.ms, ms);
          }
        }
        opts.onTimings?.(type, timings);
        record.types[type] = { ...chooseTuning(timings), ...(tr !== rows || tc !== cols ? { rows: tr, cols: tc } : {}) };

        // Prefill: the tiled products (and the integer one) against the default matmul, PREFILL_TOKENS tokens.
        const variants = prefillOf(type);
        if (variants.length) {
          const prefillProduct = async (v: PrefillVariant | null, n: number) => {
            const b: GpuBatch = ctx.batch(`tune ${type} prefill ${v ?? 'matmul'}`);
            for (let i = 0; i < n; i++) {
              if (v && !isTileVariant(v)) {
                // Quantising the tokens is part of the integer product's time.
                const q = planQuantizeTokens(tc, PREFILL_TOKENS, 0, maxCols);
                recordIntDispatch(b, await intPipeline(ctx, q), q, [xT, xqT]);
                const d = planIntMatmul({ weights: { type, rows: tr, cols: tc }, variant: v === 'i8' ? 'dot4' : 'int', tokens: PREFILL_TOKENS });
                recordIntDispatch(b, await intPipeline(ctx, d), d, [w, xqT, yT]);
              } else await encodeMatmul(ctx, b, { weights, x: xT, y: yT, tokens: PREFILL_TOKENS, xStride: maxCols, entryPoint: v ? PREFILL_ENTRY[v] : 'matmul' });
            }
            b.submit();
            await ctx.sync();
          };
          const pt: { variant: PrefillVariant | null; ms: number; rounds: number[]; agrees: boolean }[] = [];
          let want: Float32Array | null = null;
          for (const v of [null, ...variants]) {
            // A kernel this adapter cannot compile is a candidate that lost, not a failed tuning.
            try {
              await prefillProduct(v, 1);
            } catch (e) {
              if (!v) throw e;
              pt.push({ variant: v, ms: Infinity, rounds: [], agrees: false });
              continue;
            }
            const got = await ctx.readF32(yT, PREFILL_TOKENS * tr);
            if (v && !isTileVariant(v)) {
              // Against the integer reference per token over the same Q8 rounding of x (as the integer decode candidates).
              let ok = true;
              for (let t = 0; t < PREFILL_TOKENS && ok; t++) {
                const ref = intMatvecRef(type as IntWeightType, wBytes, tr, tc, quantizeQ8Ref(xTHost.subarray(t * maxCols, t * maxCols + tc)));
                const mag = Math.max(...ref.mag);
                ok = Number.isFinite(mag);
                for (let i = 0; i < tr && ok; i++) ok = Math.abs(got[t * tr + i]! - ref.y[i]!) <= INT_AGREEMENT_ULPS * 2 ** -24 * mag + 2 ** -20 * Math.abs(ref.y[i]!);
              }
              pt.push({ variant: v, ms: Infinity, rounds: [], agrees: ok });
              continue;
            }
            want ??= got;
            let scale = 0;
            let worst = 0;
            for (let i = 0; i < got.length; i++) {
              scale = Math.max(scale, Math.abs(want[i]!));
              worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
            }
            pt.push({ variant: v, ms: Infinity, rounds: [], agrees: Number.isFinite(scale) && worst <= AGREEMENT_TOLERANCE * Math.max(1, scale) });
          }
          const timedP = pt.filter((t) => t.agrees);
          for (let r = 0; r < rounds; r++) {
            for (const t of r % 2 ? [...timedP].reverse() : timedP) {
              opts.signal?.throwIfAborted();
              const ms = await timedRun(() => prefillProduct(t.variant, reps), reps);
              t.rounds.push(ms);
              t.ms = Math.min(t.ms, ms);
            }
          }
          record.types[type]!.prefill = choosePrefill(pt);
        }
      } finally {
        w.destroy();
      }
    }
  } finally {
    if (clock === 'gpu') ctx.setTimingHook(previousHook);
    x.destroy();
    y.destroy();
    xq.destroy();
    xT.destroy();
    yT.destroy();
    xqT.destroy();
  }
  return record;
}

/**
 * The prefill kernel to keep, by the rule chooseTuning applies to decode shapes: the first entry is
 * the default `matmul` (variant null); a variant is kept only when its speed-up interval clears
 * the minimum win, the fastest by the median of those that do.
 */
export function choosePrefill(timings: readonly { variant: PrefillVariant | null; ms: number; rounds: number[]; agrees: boolean }[], margin = TUNING_MARGIN): PrefillTuning {
  const base = timings[0];
  if (!base || base.variant !== null || !base.agrees || base.rounds.length === 0) throw new EngineError('ENGINE_BAD_OPTION', 'the default prefill kernel must be timed first');
  const compared = timings
    .slice(1)
    .filter((t) => t.agrees && t.rounds.length === base.rounds.length)
    .map((t) => {
      const speedup = pairedSpeedupInterval(base.rounds, t.rounds);
      return { t, speedup, decision: decideSpeedup(speedup, margin) };
    })
    .sort((a, b) => b.speedup.estimate - a.speedup.estimate);
  const kept = compared.find((c) => c.decision.keep);
  const shown = kept ?? compared[0];
  const interval = shown ? { interval: { lo: shown.speedup.lo, hi: shown.speedup.hi, confidence: shown.speedup.confidence } } : {};
  if (kept) return { variant: kept.t.variant!, tokens: PREFILL_TOKENS, ms: kept.t.ms, defaultMs: base.ms, speedup: kept.speedup.estimate, ...interval, reason: kept.decision.reason };
  return {
    tokens: PREFILL_TOKENS,
    ms: base.ms,
    defaultMs: base.ms,
    speedup: 1,
    ...interval,
    ...(shown ? { challenger: shown.t.variant!, reason: shown.decision.reason } : { reason: 'Not kept: no tiled product computed the same product.' }),
  };
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

// ---- the tuning file: several adapters' records, read as hostile input --------------------------

export const TUNING_FILE_FORMAT = 'pxi-kernel-tuning';
/** Records kept: the newest per (adapter, kernels), at most this many in all. */
export const TUNING_MAX_RECORDS = 32;

const Count = z.number().int().min(1).max(1 << 20);
const TuningSchema = z.strictObject({ workgroupSize: z.number().int().min(1).max(1024), threadsPerRow: z.number().int().min(1).max(1024) });
const IntervalSchema = z.strictObject({ lo: z.number().nonnegative().max(1e6), hi: z.number().nonnegative().max(1e6), confidence: z.number().gt(0).lt(1) });
const PrefillVariantSchema = z.enum(PREFILL_VARIANTS as [PrefillVariant, ...PrefillVariant[]]);
const PrefillTuningSchema = z.strictObject({
  variant: PrefillVariantSchema.optional(),
  tokens: Count,
  ms: z.number().nonnegative(),
  defaultMs: z.number().nonnegative(),
  speedup: z.number().positive().max(1e6),
  interval: IntervalSchema.optional(),
  challenger: PrefillVariantSchema.optional(),
  reason: z.string().max(1000).optional(),
});
const TypeTuningSchema = z.strictObject({
  tuning: TuningSchema,
  ms: z.number().nonnegative(),
  defaultMs: z.number().nonnegative(),
  speedup: z.number().positive().max(1e6),
  interval: z.strictObject({ lo: z.number().nonnegative().max(1e6), hi: z.number().nonnegative().max(1e6), confidence: z.number().gt(0).lt(1) }).optional(),
  challenger: TuningSchema.optional(),
  intMatvec: z.enum(INT_VARIANTS as [IntVariant, ...IntVariant[]]).optional(),
  challengerIntMatvec: z.enum(INT_VARIANTS as [IntVariant, ...IntVariant[]]).optional(),
  reason: z.string().max(1000).optional(),
  rows: Count.optional(),
  cols: Count.optional(),
  prefill: PrefillTuningSchema.optional(),
});
const RecordSchema = z.strictObject({
  adapter: z.string().max(1000),
  kernels: z.string().regex(/^[0-9a-f]{16}$/),
  measuredAt: z.string().max(64),
  rows: Count,
  cols: Count,
  clock: z.enum(['wall', 'gpu']).optional(),
  types: z.strictObject(Object.fromEntries(WEIGHT_TYPES.map((t) => [t, TypeTuningSchema.optional()])) as Record<WeightType, z.ZodOptional<typeof TypeTuningSchema>>),
});
const FileSchema = z.strictObject({ format: z.literal(TUNING_FILE_FORMAT), version: z.literal(1), records: z.array(RecordSchema).max(TUNING_MAX_RECORDS) });

export interface TuningFile {
  format: typeof TUNING_FILE_FORMAT;
  version: 1;
  records: TuningRecord[];
}

export function emptyTuningFile(): TuningFile {
  return { format: TUNING_FILE_FORMAT, version: 1, records: [] };
}

/** Parses a tuning file's text; ENGINE_BAD_TUNING_FILE names the file, the field and the problem. */
export function parseTuningFile(text: string, file: string): TuningFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: not JSON (${(e as Error).message})`, { file });
  }
  const r = FileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(root)';
    throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: ${field}: ${issue.message}`, { file, field });
  }
  // Shapes a record names must be ones the kernels accept (a power-of-two share of the workgroup).
  for (const [i, rec] of r.data.records.entries()) {
    for (const [type, t] of Object.entries(rec.types)) {
      const { workgroupSize: wg, threadsPerRow: tpr } = t!.tuning;
      if (!isKernelTuning(t!.tuning)) {
        throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: records.${i}.types.${type}.tuning: ${wg}x${tpr} is not a kernel shape`, { file, field: `records.${i}.types.${type}.tuning` });
      }
      // A prefill kernel a record names must exist for that type.
      for (const v of [t!.prefill?.variant, t!.prefill?.challenger]) {
        if (v && !prefillVariantFits(type, v)) {
          throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: records.${i}.types.${type}.prefill: no prefill kernel ${v} for ${type}`, { file, field: `records.${i}.types.${type}.prefill` });
        }
      }
      // An integer kernel a record names must exist for that type.
      for (const f of ['intMatvec', 'challengerIntMatvec'] as const) {
        const v = t![f];
        if (v && !(isIntWeightType(type) && intVariantsOfType(type).includes(v))) {
          throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: records.${i}.types.${type}.${f}: no integer kernel ${v} for ${type}`, { file, field: `records.${i}.types.${type}.${f}` });
        }
      }
    }
  }
  return r.data as TuningFile;
}

/** The record for this adapter and these kernels, if one was measured. */
export function findTuning(file: TuningFile, adapter: string, kernels: string): TuningRecord | undefined {
  return file.records.find((r) => r.adapter === adapter && r.kernels === kernels);
}

/** The file with `record` in front, replacing an older one for the same adapter and kernels. */
export function withTuning(file: TuningFile, record: TuningRecord): TuningFile {
  const rest = file.records.filter((r) => !(r.adapter === record.adapter && r.kernels === record.kernels));
  return { ...file, records: [record, ...rest].slice(0, TUNING_MAX_RECORDS) };
}

/** A model's matrices the weight kernels read (2-D tensors of a weight type), with their type. */
function modelMatrices(tensors: readonly Pick<TensorInfo, 'dims' | 'type'>[]): { dims: readonly number[]; type: WeightType }[] {
  const out: { dims: readonly number[]; type: WeightType }[] = [];
  for (const t of tensors) {
    const type = tensorTypeName(t);
    if (t.dims.length === 2 && isWeightType(type)) out.push({ dims: t.dims, type });
  }
  return out;
}

/** The weight types of a model's matrices, sorted: what the tuner measures for it. */
export function modelWeightTypes(tensors: readonly Pick<TensorInfo, 'dims' | 'type'>[]): WeightType[] {
  return [...new Set(modelMatrices(tensors).map((m) => m.type))].sort();
}

/**
 * Per weight type, the shape of a model's largest matrix of that type (by values), with its rows
 * capped so that timing it stays short: what the tuner should time for that model.
 */
export function modelTuningShapes(tensors: readonly Pick<TensorInfo, 'dims' | 'type'>[], maxRows = 4096): Partial<Record<WeightType, { rows: number; cols: number }>> {
  const out: Partial<Record<WeightType, { rows: number; cols: number; n: number }>> = {};
  for (const t of modelMatrices(tensors)) {
    const [cols, rows] = t.dims as [number, number];
    const n = rows * cols;
    if (!out[t.type] || n > out[t.type]!.n) out[t.type] = { rows, cols, n };
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { rows: Math.min(v.rows, maxRows), cols: v.cols }]));
}

/** A fresh measurement merged into the kept one of the same adapter and kernels: the fresh types win, the others stay. */
export function mergeTuning(kept: TuningRecord | undefined, fresh: TuningRecord): TuningRecord {
  return kept ? { ...fresh, types: { ...kept.types, ...fresh.types } } : fresh;
}
