/**
 * The frozen base of a LoRA fine-tune (QLoRA-style): the model's matrices stay on the GPU in
 * their own GGUF types (F32, F16, Q8_0, Q4_K, … every type the inference engine reads), uploaded
 * by the engine's WeightUploader from any TensorSource (a GGUF file, PixelFS tiles). A product
 * through a base matrix — forward y = x·Wᵀ and the backward pass's dx = dy·W — first expands that
 * one matrix to f32 in a scratch buffer with the weight kernels' own get_rows entry point (the
 * embedding gather, checked against shared/quant's decoders for every type), then runs the
 * training engine's f32 matrix product. So only one matrix is ever held in f32, the quantised
 * base is read as it is stored, and the transposed product of every type is "dequantise, then
 * the f32 product" — the same split llama.cpp's GPU backends use for quantised training ops.
 * The token embedding is gathered from its stored type in the same way; norm gains and biases
 * (small) are f32 buffers.
 */
import { GpuUsageError, type GpuBatch, type GpuBinding, type GpuContext } from '../gpu';
import { planGetRows, recordWeightDispatch, weightPipeline } from '../engine/quant-matmul';
import { readVector, WeightUploader, type GpuWeight, type UploadOptions } from '../engine/weights';
import type { TensorInfo, TensorSource } from '../engine/tensor-source';
import { modelArchFromGguf, modelConfigFromGguf } from '../model';
import { paramSpecs, type TrainModelConfig } from './config';
import { TrainError } from './errors';

/** Contexts above this are trained in windows no longer than it (the config caps a context at 2^16). */
const MAX_TRAIN_CONTEXT = 1 << 16;

/**
 * The training engine's configuration of an imported model, or TrainError naming what the engine
 * does not train: families other than llama and qwen2, and the features of them it lacks (RoPE
 * factors or scaling, partial rotation, a head size other than width / heads).
 */
export function trainConfigOfBase(header: TensorSource['header']): TrainModelConfig {
  const c = modelConfigFromGguf(header);
  const spec = modelArchFromGguf(header, c);
  const refuse = (what: string, value: unknown): never => {
    throw new TrainError('TRAIN_CONFIG', `${header.file}: ${what} (${String(value)}); LoRA fine-tuning runs on llama and qwen2 models without it`, { file: header.file, field: what, value });
  };
  const arch = c.architecture;
  if (arch !== 'llama' && arch !== 'qwen2') return refuse('the architecture is not llama or qwen2', arch);
  if (c.headDim * c.headCount !== c.embeddingLength) refuse('the head size is not width / heads', c.headDim);
  if (c.ropeDimensionCount !== c.headDim) refuse('RoPE rotates part of each head', c.ropeDimensionCount);
  if (spec.ropeFactorsTensor) refuse('the model has RoPE frequency factors', spec.ropeFactorsTensor);
  if (spec.ropeFreqScale !== 1) refuse('the model scales RoPE positions', spec.ropeFreqScale);
  if (c.architecture === 'llama' && c.qkvBias) refuse('this llama model has q/k/v biases', true);
  return {
    arch,
    vocab: c.vocabSize,
    dim: c.embeddingLength,
    layers: c.blockCount,
    heads: c.headCount,
    kvHeads: c.headCountKv,
    ff: c.feedForwardLength,
    context: Math.min(c.contextLength, MAX_TRAIN_CONTEXT),
    ropeTheta: c.ropeTheta,
    rmsEps: c.rmsEps,
    tied: c.tiedOutput,
    qkvBias: c.qkvBias,
  };
}

export interface FrozenBaseOptions extends Pick<UploadOptions, 'onBytes' | 'signal'> {}

export class FrozenBase {
  private readonly bufs: GPUBuffer[] = [];

  private constructor(
    private readonly ctx: GpuContext,
    readonly cfg: TrainModelConfig,
    private readonly matrices: ReadonlyMap<string, GpuWeight>,
    private readonly vectors: ReadonlyMap<string, GPUBuffer>,
    private readonly pipelines: ReadonlyMap<string, GPUComputePipeline>,
    /** u32 0, 1, 2, …: the row ids that expand a whole matrix (or part) with get_rows. */
    private readonly iota: GPUBuffer,
  ) {
    for (const w of matrices.values()) for (const p of w.parts) this.bufs.push(p.buffer);
    this.bufs.push(...vectors.values(), iota);
  }

  /** Uploads every tensor of the model that training reads; the configuration must be the source's own (trainConfigOfBase). */
  static async load(ctx: GpuContext, source: TensorSource, cfg: TrainModelConfig, opts: FrozenBaseOptions = {}): Promise<FrozenBase> {
    const byName = new Map(source.header.tensors.map((t) => [t.name, t] as const));
    const tensor = (name: string): TensorInfo => {
      const t = byName.get(name);
      if (!t) throw new TrainError('TRAIN_CONFIG', `${source.header.file}: the model has no tensor ${name}`, { file: source.header.file, tensor: name });
      return t;
    };
    const uploader = new WeightUploader(ctx, source, opts);
    const matrices = new Map<string, GpuWeight>();
    const vectors = new Map<string, GPUBuffer>();
    const done: GPUBuffer[] = [];
    try {
      for (const spec of paramSpecs(cfg)) {
        const t = tensor(spec.name);
        if (spec.shape.length === 2) {
          const w = await uploader.matrix(t);
          done.push(...w.parts.map((p) => p.buffer));
          if (w.rows !== spec.shape[0] || w.cols !== spec.shape[1]) {
            throw new TrainError('TRAIN_CONFIG', `${source.header.file}: ${spec.name} is [${w.rows}, ${w.cols}], the configuration expects [${spec.shape.join(', ')}]`, { tensor: spec.name });
          }
          matrices.set(spec.name, w);
        } else {
          const b = ctx.storage(await readVector(source, t, spec.size), `lora-base:${spec.name}`);
          done.push(b);
          vectors.set(spec.name, b);
        }
      }
      const pipelines = new Map<string, GPUComputePipeline>();
      let maxRows = 1;
      for (const w of matrices.values()) {
        for (const p of w.parts) maxRows = Math.max(maxRows, p.rows);
        const d = planGetRows({ weights: { type: w.type, rows: w.rows, cols: w.cols, buffer: w.parts[0]!.buffer }, count: 1 });
        if (!pipelines.has(w.type)) pipelines.set(w.type, await weightPipeline(ctx, d));
      }
      const iota = ctx.storage(Uint32Array.from({ length: maxRows }, (_, i) => i), 'lora-base:row-ids');
      return new FrozenBase(ctx, cfg, matrices, vectors, pipelines, iota);
    } catch (e) {
      for (const b of done) b.destroy();
      throw e;
    }
  }

  /** Elements of the largest matrix: the size of the f32 scratch a product expands into. */
  get maxMatrixElements(): number {
    return this.largestMatrix.rows * this.largestMatrix.cols;
  }

  /** The largest matrix (the one that sets the scratch's size). */
  get largestMatrix(): GpuWeight {
    let best: GpuWeight | null = null;
    for (const w of this.matrices.values()) if (!best || w.rows * w.cols > best.rows * best.cols) best = w;
    return best!;
  }

  /**
   * Throws TrainError when the largest matrix, expanded to f32, exceeds one storage binding of
   * this device (the f32 products bind it whole): a vocabulary of 150 k × 1,536 is 0.9 GB.
   */
  checkExpandFits(): void {
    const w = this.largestMatrix;
    const bytes = w.rows * w.cols * 4;
    const limit = this.ctx.caps.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new TrainError(
        'TRAIN_CONFIG',
        `${w.name} [${w.rows}, ${w.cols}] expands to ${(bytes / 2 ** 20).toFixed(0)} MiB of f32, more than one storage binding on this device (${(limit / 2 ** 20).toFixed(0)} MiB): LoRA fine-tuning expands each matrix whole (splitting it is not built yet)`,
        { tensor: w.name, bytes, limit },
      );
    }
  }

  /** Bytes of GPU memory the base holds. */
  get gpuBytes(): number {
    return this.bufs.reduce((s, b) => s + b.size, 0);
  }

  /** The weight types of the base's matrices, by count (for messages). */
  get types(): Map<string, number> {
    const out = new Map<string, number>();
    for (const w of this.matrices.values()) out.set(w.type, (out.get(w.type) ?? 0) + 1);
    return out;
  }

  has(name: string): boolean {
    return this.matrices.has(name) || this.vectors.has(name);
  }

  private matrix(name: string): GpuWeight {
    const w = this.matrices.get(name);
    if (!w) throw new GpuUsageError(`the frozen base has no matrix ${name}`);
    return w;
  }

  /** A norm gain or bias as an f32 binding. */
  vector(name: string): GpuBinding {
    const v = this.vectors.get(name);
    if (!v) throw new GpuUsageError(`the frozen base has no vector ${name}`);
    return v;
  }

  /** Like vector(), or undefined when the model has no such tensor (biases of llama). */
  optionalVector(name: string): GpuBinding | undefined {
    return this.vectors.get(name);
  }

  /** Records out[rows, cols] = W (f32) for matrix `name`; out holds at least rows·cols values. */
  expand(b: GpuBatch, name: string, out: GPUBuffer): void {
    const w = this.matrix(name);
    if (out.size < w.rows * w.cols * 4) throw new GpuUsageError(`expand ${name}: the scratch holds ${out.size / 4} values, the matrix ${w.rows * w.cols}`);
    const pipeline = this.pipelines.get(w.type)!;
    for (const p of w.parts) {
      const d = planGetRows({ weights: { type: w.type, rows: p.rows, cols: w.cols, buffer: p.buffer }, count: p.rows, outOffset: p.rowStart * w.cols });
      recordWeightDispatch(b, pipeline, d, [p.buffer, undefined, out, this.iota], `lora-base:expand:${w.type}`);
    }
  }

  /**
   * Records y[n, :] = token_embd[ids[n], :] for n < count (ids u32, each checked < vocab by the
   * caller). A matrix in several parts gathers from the part holding all rows only (the engine
   * splits only matrices larger than a binding, and an embedding that large is refused here).
   */
  embed(b: GpuBatch, ids: GpuBinding, count: number, y: GpuBinding): void {
    const w = this.matrix('token_embd.weight');
    if (w.parts.length !== 1) throw new TrainError('TRAIN_CONFIG', `token_embd.weight is ${w.bytes} bytes, more than one storage binding holds: the embedding gather needs it whole`);
    const d = planGetRows({ weights: { type: w.type, rows: w.rows, cols: w.cols, buffer: w.parts[0]!.buffer }, count });
    recordWeightDispatch(b, this.pipelines.get(w.type)!, d, [w.parts[0]!.buffer, undefined, y, ids], 'lora-base:embed');
  }

  destroy(): void {
    for (const b of this.bufs) b.destroy();
    this.bufs.length = 0;
  }
}
