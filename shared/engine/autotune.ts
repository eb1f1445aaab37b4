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
 * (quant-matmul.ts PrefillVariant; `i8`/`i8x` for Q8_0, Q4_0, Q4_K, Q6_K, `i8sg`/`i8xsg` for Q4_K), each variant's product of PREFILL_TOKENS tokens is checked against the default `matmul`
 * kernel's and timed against it under the same rule; the record keeps one (`prefill.variant`)
 * only when proven faster, and a model loaded with the record prefills that type through it.
 */
import type { GpuBatch, GpuContext } from '../gpu';
import { EngineError } from './errors';
import { encodeIntMatvec, intPipeline, intPrefillOffered, planIntMatmul, prefillIntVariant, planQuantizeTokens, recordIntDispatch, intVariantsFor, isIntWeightType, quantizedXWords, type IntVariant, type IntWeightType } from './int-matvec';
import { intMatvecRef, quantizeQ8Ref } from './reference/int-matvec';
import { DEFAULT_TUNING, encodeMatmul, isTileVariant, PREFILL_ENTRY, PREFILL_VARIANTS, prefillVariantFits, WEIGHT_CHUNK, type PrefillVariant, type WeightKernelTuning, type WeightType } from './quant-matmul';
import { candidateName, choosePrefill, chooseTuning, sameTuning } from './tuning-choice';
import { randomWeightBytes } from './tuning-shapes';
import { adapterKey, kernelsKey, PREFILL_TOKENS, TUNING_CANDIDATES, TUNING_INT_VARIANTS, type CandidateTiming, type TuningRecord } from './tuning-record';

// The tuner's parts, one concept a module; importers of autotune.ts get them all from here.
export * from './tuning-choice';
export * from './tuning-file';
export * from './tuning-record';
export * from './tuning-shapes';

/** How far a candidate's product may drift from the default's (summation order only). */
const AGREEMENT_TOLERANCE = 1e-4;
/**
 * An integer candidate's drift from its integer reference, in units of 2^-24 · Σ|terms| of the row
 * (its block sums are exact; only f32 rounding of the terms and their sum is left), as the
 * integer kernels' tests allow.
 */
const INT_AGREEMENT_ULPS = 8;

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
  // Prefill variants per type: those the type has (the integer ones where the device runs them: dot4I8Packed, subgroups of 8).
  const prefillOf = (type: WeightType): PrefillVariant[] =>
    !opts.prefill
      ? []
      : PREFILL_VARIANTS.filter((v) => (opts.prefill === true || (opts.prefill as readonly PrefillVariant[]).includes(v)) && prefillVariantFits(type, v) && (isTileVariant(v) || intPrefillOffered(ctx, type, v)));
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
                const d = planIntMatmul({ weights: { type, rows: tr, cols: tc }, variant: prefillIntVariant(v), tokens: PREFILL_TOKENS });
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
