/**
 * The engine in Node: WebGPU through `webgpu` (Dawn), the WGSL from shaders/, weights from a
 * GGUF file on disk. `openNodeModel(path)` gives everything `pxi run` / `pxi chat`, the parity
 * tests and the benchmarks need; `close()` frees the GPU buffers, the device and the file.
 */
import { FileByteSource } from '../storage/file-byte-source';
import { memorySource } from '../../shared/binary/byte-source';
import { openNodeGpu } from '../gpu/node-webgpu';
import { loadShadersFromDir } from '../gpu/shaders';
import { openDevice, WebGpuUnavailableError, type GpuContext, type OpenDeviceOptions } from '../../shared/gpu';
import { Model, type ModelLoadOptions } from '../../shared/engine/model';
import { openGgufTensorSource, type TensorSource } from '../../shared/engine/tensor-source';
import { chatTemplateFromGguf, tokenizerFromGguf, type Tokenizer } from '../../shared/tokenizer';
import type { TuningRecord } from '../../shared/engine/autotune';
import { loraAdapterFromGguf, type LoraAdapter } from '../../shared/lora';
import { savedTuningFor, tuningFilePath } from './tuning-store';

export interface NodeModel {
  ctx: GpuContext;
  model: Model;
  tokenizer: Tokenizer;
  /** `tokenizer.chat_template`, when the file has one. */
  chatTemplate: string | undefined;
  source: TensorSource;
  /** Seconds spent loading (header, device, upload). */
  loadSeconds: number;
  /** The saved kernel measurement the decode kernels use (pxi tune), or null for the default shapes. */
  tuning: TuningRecord | null;
  close(): Promise<void>;
}

export interface OpenNodeModelOptions extends ModelLoadOptions {
  device?: Omit<OpenDeviceOptions, 'shaders' | 'adapter'>;
  /** An open context to load into (tests share one); it is not destroyed by close(). */
  ctx?: GpuContext;
  /**
   * The kernel tuning file to take this adapter's decode-kernel shapes from (default
   * $PXI_HOME/kernel-tuning.json, written by `pxi tune`); false: default shapes. Not consulted
   * when `tuning` or `matvecTuning` is given.
   */
  tuningFile?: string | false;
  /** Hears what a load accepted but a person should know: an unreadable tuning file, the tokenizer's repairs, a context past the trained one. */
  onWarning?: (message: string) => void;
  /** A llama.cpp LoRA adapter GGUF to apply (checked against the model: names and shapes), and its scale (default 1). */
  loraPath?: string;
  /** The same adapter given as bytes (a stored adapter read from the volume); `loraPath` names it in messages. */
  loraBytes?: Uint8Array;
  loraScale?: number;
}

/**
 * Opens an adapter file (or its bytes, named `path` in messages) and checks it against the base;
 * the file closes when `use` is done (read what you need in it).
 */
export async function withLoraAdapter<T>(path: string, base: TensorSource, use: (lora: { adapter: LoraAdapter; source: TensorSource }) => Promise<T>, bytes?: Uint8Array): Promise<T> {
  const file = bytes ? null : await FileByteSource.open(path);
  try {
    const source = await openGgufTensorSource(file ?? memorySource(bytes!), path);
    return await use({ adapter: loraAdapterFromGguf(source.header, base.header), source });
  } finally {
    await file?.close();
  }
}

/** Opens a WebGPU device in Node with every shader of shaders/ (WebGpuUnavailableError with the reason when there is none). */
export async function openNodeContext(opts: Omit<OpenDeviceOptions, 'shaders' | 'adapter'> = {}): Promise<GpuContext> {
  const r = await openNodeGpu();
  if (!r.gpu) throw new WebGpuUnavailableError(r.reason);
  return openDevice(r.gpu, { ...opts, adapter: r.adapter, shaders: loadShadersFromDir() });
}

/**
 * Loads a model from any TensorSource (a GGUF file, a model stored as pixels) into a Node
 * WebGPU device. `release` frees what the source holds (a file handle) on close or failure.
 */
export async function openModelFromSource(
  source: TensorSource,
  opts: OpenNodeModelOptions = {},
  release: () => Promise<void> = () => Promise.resolve(),
  startedAt = performance.now(),
): Promise<NodeModel> {
  const file = source.header.file;
  let ctx: GpuContext | undefined;
  try {
    // Tokenizer and configuration problems surface before the device is opened.
    const tokenizer = tokenizerFromGguf(source.header.metadata, file);
    const chatTemplate = chatTemplateFromGguf(source.header.metadata, file);
    ctx = opts.ctx ?? (await openNodeContext(opts.device));
    const saved = opts.tuning || opts.matvecTuning || opts.tuningFile === false ? undefined : savedTuningFor(ctx, opts.tuningFile ?? tuningFilePath(), opts.onWarning);
    // The saved record's shapes, and the integer decode kernels and tiled prefill products it kept (unless the caller chose its own).
    const loadOpts = saved
      ? { ...opts, matvecTuning: saved.table, ...(opts.intMatvec ? {} : { intMatvec: saved.intMatvec }), ...(opts.prefillMatmul ? {} : { prefillMatmul: saved.prefillMatmul }) }
      : opts;
    const model = opts.loraPath
      ? await withLoraAdapter(opts.loraPath, source, (lora) => Model.load(ctx!, source, { ...loadOpts, lora: { ...lora, scale: opts.loraScale ?? 1 } }), opts.loraBytes)
      : await Model.load(ctx, source, loadOpts);
    for (const w of loadWarnings(file, tokenizer, model, opts.contextLength)) opts.onWarning?.(w);
    const owned = opts.ctx ? null : ctx;
    return {
      ctx,
      model,
      tokenizer,
      chatTemplate,
      source,
      loadSeconds: (performance.now() - startedAt) / 1000,
      tuning: saved?.record ?? null,
      async close() {
        model.destroy();
        owned?.destroy();
        await release();
      },
    };
  } catch (e) {
    if (ctx && !opts.ctx) ctx.destroy();
    await release();
    throw e;
  }
}

/**
 * What a load accepted but a person should hear about: the tokenizer's repairs (a BOS/EOS/UNK id
 * outside the vocabulary, kept at llama.cpp's default) and a context longer than the model was
 * trained for (it runs, as in llama.cpp, but positions past it are out of distribution).
 */
export function loadWarnings(file: string, tokenizer: Tokenizer, model: Model, asked: number | undefined): string[] {
  const out = tokenizer.warnings.map((w) => `${file}: tokenizer: ${w}`);
  const trained = model.config.contextLength;
  if (asked !== undefined && trained > 0 && asked > trained) {
    out.push(`${file}: a context of ${asked} is longer than the ${trained} the model was trained for; text past ${trained} tokens may be nonsense`);
  }
  return out;
}

/** A model from a GGUF file on disk. */
export async function openNodeModel(path: string, opts: OpenNodeModelOptions = {}): Promise<NodeModel> {
  const t0 = performance.now();
  const file = await FileByteSource.open(path);
  let source: TensorSource;
  try {
    source = await openGgufTensorSource(file, path);
  } catch (e) {
    await file.close();
    throw e;
  }
  return openModelFromSource(source, opts, () => file.close(), t0);
}
