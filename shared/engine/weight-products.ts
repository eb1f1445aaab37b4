/**
 * Every dispatch of a forward pass that reads a weight matrix: y = W·x by the kernel the load
 * chose for W's type and the pass's shape (the integer decode and prefill products, the f32
 * matrix-vector and matrix-matrix kernels), the fused decode product, and the embedding's row
 * gather; one dispatch per row part of W, each streamed piece its own submit, a LoRA pair's
 * B·(A·x) added on top. Separate from the blocks' dataflow (forward-encoder.ts), which says which
 * products a pass makes: this says how one product is recorded.
 */
import type { CoreKernels, GpuBatch, GpuBinding, GpuContext } from '../gpu';
import { params } from '../gpu/params';
import type { ModelConfig } from '../model';
import { EngineError } from './errors';
import { planFusedMatvec, recordFusedMatvec, type FusedInput } from './fused-matvec';
import { intVariantFits, planIntMatmul, prefillIntVariantFor, planIntMatvec, planQuantize, planQuantizeTokens, recordIntDispatch, type IntDispatch, type IntVariant } from './int-matvec';
import { isTileVariant, planGetRows, planMatmul, PREFILL_ENTRY, type PrefillVariant, type WeightDispatch, type WeightKernelTuning, type WeightType } from './quant-matmul';
import type { GpuLora } from './lora';
import type { StreamPass } from './weight-stream';
import type { GpuWeight, WeightPart } from './weights';
import { intPipelineKey, pipelineKey, type Activations, type ModelParts } from './model-parts';

export class WeightProducts {
  private readonly ctx: GpuContext;
  private readonly k: CoreKernels;
  private readonly config: ModelConfig;
  private readonly tuning: WeightKernelTuning;
  private readonly matvecTuning: Partial<Record<WeightType, WeightKernelTuning>>;
  private readonly intMatvec: Partial<Record<WeightType, IntVariant>>;
  private readonly prefillMatmul: Partial<Record<WeightType, PrefillVariant>>;
  private readonly pipelines: Map<string, GPUComputePipeline>;
  private readonly embd: GpuWeight;
  /** LoRA pairs by base tensor name (empty without an adapter). */
  private readonly loras: ReadonlyMap<string, GpuLora>;
  private readonly a: Activations;
  /** The fused decode products' pipeline where fuseDecode and the model allow them, or null. */
  private readonly fusedMatvec: GPUComputePipeline | null;
  /**
   * During a pass with streamed weights (Model.forward sets them, and clears them after): its
   * reads, and how to close the batch being recorded and open the next.
   */
  feed: StreamPass | null = null;
  cut: (() => GpuBatch) | null = null;
  /** Whether a.xq holds the x of the last product recorded (for `sameX`). */
  private xqFresh = false;

  constructor(init: ModelParts) {
    this.ctx = init.ctx;
    this.k = init.k;
    this.config = init.config;
    this.tuning = init.tuning;
    this.matvecTuning = init.matvecTuning;
    this.intMatvec = init.intMatvec;
    this.prefillMatmul = init.prefillMatmul;
    this.pipelines = init.pipelines;
    this.embd = init.embd;
    this.loras = init.loras;
    this.a = init.a;
    this.fusedMatvec = init.fusedMatvec;
  }

  /**
   * y = W · input(x) (+ y when `add`) through the fused decode product, one dispatch per row part
   * of W; `normWeight` is the norm's weight for an rmsnorm input.
   */
  fusedProduct(b: GpuBatch, w: GpuWeight, x: GPUBuffer, y: GPUBuffer, input: FusedInput, normWeight: GPUBuffer | null, add: boolean): void {
    this.xqFresh = false;
    for (const part of w.parts) {
      const d = planFusedMatvec({ rows: part.rows, cols: w.cols, yOffset: part.rowStart, input, add });
      recordFusedMatvec(b, this.fusedMatvec!, d, { w: part.buffer, x, y, norm: normWeight ?? x }, `matvec_fused ${w.name}`);
    }
  }

  /** x[t] = token_embd[ids[t]]; with a split table, each run of tokens in one part is one gather. */
  encodeEmbedding(b: GpuBatch, ids: readonly number[]): GpuBatch {
    const w = this.embd;
    const E = this.config.embeddingLength;
    const partOf = (id: number) => w.parts.findIndex((p) => id >= p.rowStart && id < p.rowStart + p.rows);
    const local = new Uint32Array(ids.length);
    const owner = ids.map((id, i) => {
      const p = partOf(id);
      local[i] = id - w.parts[p]!.rowStart;
      return p;
    });
    this.ctx.write(this.a.ids, local);
    // One gather per run of tokens in one part, from the part's buffer (a slot when streamed).
    const gather = (b: GpuBatch, p: number, part: WeightPart) => {
      for (let i = 0; i < ids.length; ) {
        let j = i + 1;
        while (j < ids.length && owner[j] === owner[i]) j++;
        if (owner[i] === p) {
          const d = planGetRows({
            weights: { type: w.type, rows: part.rows, cols: w.cols, buffer: part.buffer },
            count: j - i,
            idsOffset: i,
            outOffset: i * E,
            outStride: E,
            tuning: this.tuning,
          });
          this.dispatchWeight(b, d, [part.buffer, undefined, this.a.x, this.a.ids], `get_rows ${w.name}`);
        }
        i = j;
      }
    };
    if (!w.streamed) {
      w.parts.forEach((part, p) => gather(b, p, part));
      return b;
    }
    // Streamed: every piece in order (the pass planned them all), each one submit.
    for (let p = 0; p < w.parts.length; p++) {
      gather(b, p, this.feed!.bind(w.name, p));
      b = this.nextAfterStreamed();
    }
    return b;
  }

  /** After the dispatches that read a streamed piece: submit them and free its slot for the read after next (weight-stream.ts). */
  private nextAfterStreamed(): GpuBatch {
    const next = this.cut!();
    this.feed!.release();
    return next;
  }

  /**
   * y[t, :] = W · x[t, :] for T rows of x starting at element xOffset; one dispatch per row part
   * of W (per piece, each its own submit, when W streams). Returns the batch to go on recording in.
   * `sameX`: x is what the previous product read (its quantised copy is reused by the integer kernels).
   */
  matmul(b: GpuBatch, w: GpuWeight, x: GPUBuffer, y: GPUBuffer, T: number, xOffset = 0, sameX = false): GpuBatch {
    // The integer decode kernels read resident weights only (a streamed piece goes through the f32 path).
    const variant = T === 1 && !w.streamed ? this.intMatvec[w.type] : undefined;
    if (variant && intVariantFits(variant, { cols: w.cols }, w.type) && !this.loras.has(w.name)) {
      if (!sameX || !this.xqFresh) {
        const q = planQuantize(w.cols, xOffset);
        this.dispatchInt(b, q, [x, this.a.xq], `quantize_q8 ${w.name}`);
      }
      for (const part of w.parts) {
        const d = planIntMatvec({ weights: { type: w.type, rows: part.rows, cols: w.cols }, variant, yOffset: part.rowStart });
        this.dispatchInt(b, d, [part.buffer, this.a.xq, y], `matvec ${w.name}`);
      }
      this.xqFresh = true;
      return b;
    }
    const prefill = T > 1 ? this.prefillMatmul[w.type] : undefined;
    // The integer prefill product, on resident weights without an adapter (else the f32 kernels).
    if (prefill && !isTileVariant(prefill) && !w.streamed && !this.loras.has(w.name)) {
      if (!sameX || !this.xqFresh) {
        const q = planQuantizeTokens(w.cols, T, xOffset, w.cols);
        this.dispatchInt(b, q, [x, this.a.xq], `quantize_q8 ${w.name}`);
      }
      // A shape the variant does not take goes through the plain integer product (prefillIntVariantFor).
      const variant = prefillIntVariantFor(prefill, w.type, w.cols);
      for (const part of w.parts) {
        const d = planIntMatmul({ weights: { type: w.type, rows: part.rows, cols: w.cols }, variant, tokens: T, yOffset: part.rowStart, yStride: w.rows });
        this.dispatchInt(b, d, [part.buffer, this.a.xq, y], `matmul ${w.name}`);
      }
      this.xqFresh = true;
      return b;
    }
    this.xqFresh = false;
    const product = (b: GpuBatch, part: WeightPart) => {
      const d = planMatmul({
        weights: { type: w.type, rows: part.rows, cols: w.cols, buffer: part.buffer },
        tokens: T,
        xOffset,
        xStride: w.cols,
        yOffset: part.rowStart,
        yStride: w.rows,
        tuning: T === 1 ? (this.matvecTuning[w.type] ?? this.tuning) : this.tuning,
        entryPoint: T === 1 ? 'matvec' : prefill && isTileVariant(prefill) ? PREFILL_ENTRY[prefill] : 'matmul',
      });
      this.dispatchWeight(b, d, [part.buffer, x, y], w.name);
    };
    if (w.streamed) {
      for (let p = 0; p < w.parts.length; p++) {
        product(b, this.feed!.bind(w.name, p));
        b = this.nextAfterStreamed();
      }
    } else {
      for (const part of w.parts) product(b, part);
    }
    const lora = this.loras.get(w.name);
    if (lora) {
      // y += s · B·(A·x), as llama.cpp's build_lora_mm adds it.
      this.matmul(b, lora.a, x, this.a.loraR, T, xOffset);
      this.matmul(b, lora.b, this.a.loraR, this.a.loraO, T);
      this.k.scale(b, { x: this.a.loraO, n: T * w.rows, s: lora.scale });
      this.k.addInPlace(b, { x: y, b: this.a.loraO, n: T * w.rows });
    }
    return b;
  }

  private dispatchInt(b: GpuBatch, d: IntDispatch, bindings: GpuBinding[], label: string): void {
    const p = this.pipelines.get(intPipelineKey(d));
    if (!p) throw new EngineError('ENGINE_BAD_OPTION', `no pipeline prepared for ${intPipelineKey(d)}`);
    recordIntDispatch(b, p, d, bindings, label);
  }

  private dispatchWeight(b: GpuBatch, d: WeightDispatch, bindings: (GpuBinding | undefined)[], label: string): void {
    const p = this.pipelines.get(pipelineKey(d));
    if (!p) throw new EngineError('ENGINE_BAD_OPTION', `no pipeline prepared for ${pipelineKey(d)}`);
    const u = params();
    for (const v of d.params) u.u32(v);
    b.dispatch(p, [b.uniform(u), ...bindings], d.workgroups, `${d.entryPoint} ${label}`);
  }
}
