/**
 * The context of one WebGPU device: shaders and the pipeline cache, buffers, read-back, and the
 * batches recorded on it (batch.ts). Opening one: device.ts.
 */
import { AllocationLedger } from './ledger';
import type { AdapterSummary } from './adapter';
import { GpuBatch, type GpuBindings, type TimingHook, type Workgroups } from './batch';
import { BufferUsage, MAP_MODE_READ } from './buffer-usage';
import type { GpuCaps, OpenDeviceOptions } from './device';
import {
  DeviceLostError,
  GpuUsageError,
  GpuValidationError,
  ModelTooLargeError,
  OutOfGpuMemoryError,
  ShaderCompileError,
  ShaderNotFoundError,
  type ShaderMessage,
} from './errors';
import { asBytes, type Params } from './params';
import { expandShaderIncludes, isIncludeOnlyShader, shaderLineOrigin, type ExpandedShader } from './shader-includes';

/** WGSL text by shader name (file name without `.wgsl`), supplied by the host (disk, Vite `?raw`). */
export type ShaderSource = Readonly<Record<string, string>>;

export interface PipelineOptions {
  entryPoint?: string;
  constants?: Record<string, number>;
}

/**
 * One device and what hangs off it: capabilities, shaders, the pipeline cache, buffer helpers,
 * batched dispatch and read-back. After the device is lost every method throws DeviceLostError.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly caps: GpuCaps;
  readonly adapter: AdapterSummary;
  /** Every GPU buffer created through this context, until destroyed (ledger.ts). */
  readonly ledger: AllocationLedger;
  private lostError: DeviceLostError | null = null;
  private readonly sources = new Map<string, string>();
  /** Expanded text (//#include) of each compiled shader, for its line map and its includes. */
  private readonly expanded = new Map<string, ExpandedShader>();
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private timingHook: TimingHook | null = null;
  /** @internal Objects that must outlive the device (the GPU instance, the adapter). */
  keepAlive: unknown[] = [];

  constructor(device: GPUDevice, caps: GpuCaps, adapter: AdapterSummary, opts: OpenDeviceOptions = {}) {
    const t0 = performance.now();
    this.ledger = new AllocationLedger(() => performance.now() - t0);
    this.device = device;
    this.caps = caps;
    this.adapter = adapter;
    if (opts.shaders) this.addShaders(opts.shaders);
    void device.lost.then((info) => {
      this.lostError = new DeviceLostError(String(info.reason ?? 'unknown'), info.message);
      if (info.reason !== 'destroyed') opts.onLost?.(this.lostError);
    });
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  /** Throws DeviceLostError once the device is gone. Cheap: call it before any GPU work. */
  assertAlive(): void {
    if (this.lostError) throw this.lostError;
  }

  // ---- shaders and pipelines ------------------------------------------------------------

  /** Adds or replaces shaders; `_name` files are include-only (shader-includes.ts). */
  addShaders(src: ShaderSource): void {
    for (const [name, code] of Object.entries(src)) {
      if (this.sources.get(name) !== code) {
        this.sources.set(name, code);
        // A changed include changes every shader that pulled it in.
        for (const [s, e] of [...this.expanded]) if (s === name || e.includes.includes(name)) this.forgetShader(s);
        this.forgetShader(name);
      }
    }
  }

  private forgetShader(name: string): void {
    this.expanded.delete(name);
    this.modules.delete(name);
    for (const k of [...this.pipelines.keys()]) if (k.startsWith(`${name}|`)) this.pipelines.delete(k);
  }

  /** The WGSL a shader compiles from, includes expanded (what a cache of its measurements is keyed by). */
  shaderText(name: string): string {
    return expandShaderIncludes(name, this.sources).code;
  }

  /** True for a loaded shader that can be compiled (not an include-only `_name` file). */
  hasShader(name: string): boolean {
    return this.sources.has(name) && !isIncludeOnlyShader(name);
  }

  /** A compiled module; compile errors become ShaderCompileError with file, line and message. */
  shaderModule(name: string): Promise<GPUShaderModule> {
    if (this.lostError) return Promise.reject(this.lostError);
    let p = this.modules.get(name);
    if (!p) {
      if (!this.sources.has(name)) return Promise.reject(new ShaderNotFoundError(name, [...this.sources.keys()].filter((n) => !isIncludeOnlyShader(n))));
      if (isIncludeOnlyShader(name)) {
        return Promise.reject(new GpuUsageError(`shader "${name}" is include-only (leading "_"): pull it into a shader with //#include "${name}"`, { name }));
      }
      p = (async () => {
        const ex = expandShaderIncludes(name, this.sources); // ShaderIncludeError: missing file, cycle
        this.expanded.set(name, ex);
        const module = this.device.createShaderModule({ label: name, code: ex.code });
        const msgs = await compileMessages(module, ex);
        if (msgs.length) throw new ShaderCompileError(name, undefined, msgs);
        return module;
      })();
      p.catch(() => this.modules.delete(name));
      this.modules.set(name, p);
    }
    return p;
  }

  /** Cached by shader + entry point + override constants. */
  pipeline(shader: string, opts: PipelineOptions = {}): Promise<GPUComputePipeline> {
    if (this.lostError) return Promise.reject(this.lostError);
    const entryPoint = opts.entryPoint ?? 'main';
    const consts = opts.constants ?? {};
    const key = `${shader}|${entryPoint}|${Object.keys(consts).sort().map((k) => `${k}=${consts[k]}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = (async () => {
        const module = await this.shaderModule(shader);
        try {
          return await this.device.createComputePipelineAsync({
            label: `${shader}:${entryPoint}`,
            layout: 'auto',
            compute: { module, entryPoint, constants: consts },
          });
        } catch (e) {
          this.assertAlive();
          const ex = this.expanded.get(shader);
          const msgs = ex ? await compileMessages(module, ex) : [];
          throw new ShaderCompileError(shader, entryPoint, msgs, (e as Error).message);
        }
      })();
      p.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  // ---- buffers -------------------------------------------------------------------------

  /**
   * Runs `fn` (synchronous: allocations, writes) inside out-of-memory and validation error
   * scopes and throws OutOfGpuMemoryError / GpuValidationError from what they caught.
   */
  async checked<T>(label: string, fn: () => T): Promise<T> {
    this.assertAlive();
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let result: T | undefined;
    let thrown: unknown;
    try {
      result = fn();
    } catch (e) {
      thrown = e;
    }
    const validation = d.popErrorScope();
    const oom = d.popErrorScope();
    const [ve, oe] = await Promise.all([validation, oom]);
    if (thrown !== undefined) throw thrown;
    this.assertAlive();
    if (oe) throw new OutOfGpuMemoryError(label, oe.message);
    if (ve) throw new GpuValidationError(label, ve.message);
    return result as T;
  }

  /** A raw buffer; size is rounded up to 4 bytes and checked against maxBufferSize. */
  createBuffer(size: number, usage: number, label = 'buffer'): GPUBuffer {
    this.assertAlive();
    const bytes = Math.max(4, Math.ceil(size / 4) * 4);
    if (bytes > this.caps.limits.maxBufferSize) {
      throw new ModelTooLargeError(`buffer "${label}" needs ${bytes} bytes; this GPU allows ${this.caps.limits.maxBufferSize} per buffer`, {
        label,
        bytes,
        limit: this.caps.limits.maxBufferSize,
      });
    }
    const buf = this.device.createBuffer({ label, size: bytes, usage });
    this.ledger.add(buf, label, bytes);
    return buf;
  }

  /**
   * A storage buffer (also COPY_SRC | COPY_DST) holding `init` or `init` bytes of zeros. Must fit
   * one binding (maxStorageBufferBindingSize). Wrap in `checked()` to see out-of-memory.
   */
  storage(init: ArrayBufferView | number, label = 'storage', extraUsage = 0): GPUBuffer {
    const size = typeof init === 'number' ? init : init.byteLength;
    const lim = this.caps.limits.maxStorageBufferBindingSize;
    if (size > lim) {
      throw new ModelTooLargeError(`storage buffer "${label}" needs ${size} bytes; this GPU binds at most ${lim}`, { label, bytes: size, limit: lim });
    }
    const usage = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST | extraUsage;
    if (typeof init === 'number') return this.createBuffer(size, usage, label);
    const buf = this.device.createBuffer({ label, size: Math.max(4, Math.ceil(size / 4) * 4), usage, mappedAtCreation: true });
    this.ledger.add(buf, label, buf.size);
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength));
    buf.unmap();
    return buf;
  }

  /** A standalone uniform buffer (for parameters that live long; per-dispatch ones use GpuBatch.uniform). */
  uniform(data: Params | ArrayBufferView, label = 'uniform'): GPUBuffer {
    const bytes = asBytes(data);
    const buf = this.createBuffer(Math.ceil(bytes.byteLength / 16) * 16, BufferUsage.UNIFORM | BufferUsage.COPY_DST, label);
    this.device.queue.writeBuffer(buf, 0, bytes);
    return buf;
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.assertAlive();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies bytes between two buffers on the queue, after everything submitted before it. */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.assertAlive();
    const enc = this.device.createCommandEncoder({ label: 'copy' });
    enc.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.device.queue.submit([enc.finish()]);
  }

  /** Copies `size` bytes (multiple of 4) from `offset` of a COPY_SRC buffer back to the CPU. */
  async read(buffer: GPUBuffer, offset = 0, size = buffer.size - offset): Promise<ArrayBuffer> {
    this.assertAlive();
    if (offset % 4 || size % 4) throw new GpuUsageError(`read offset and size must be multiples of 4 (got ${offset}, ${size})`);
    const staging = this.device.createBuffer({ label: `${buffer.label}:readback`, size: Math.max(4, size), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.ledger.add(staging, staging.label, staging.size, 'staging');
    try {
      const enc = this.device.createCommandEncoder();
      if (size > 0) enc.copyBufferToBuffer(buffer, offset, staging, 0, size);
      this.device.queue.submit([enc.finish()]);
      try {
        await staging.mapAsync(MAP_MODE_READ, 0, Math.max(4, size));
      } catch (e) {
        this.assertAlive();
        throw e;
      }
      const copy = staging.getMappedRange(0, size).slice(0);
      // Unmap before destroy: dawn.node crashed when a still-mapped buffer was destroyed.
      staging.unmap();
      return copy;
    } finally {
      staging.destroy();
    }
  }

  async readF32(buffer: GPUBuffer, count?: number, offsetElems = 0): Promise<Float32Array> {
    const n = count ?? buffer.size / 4 - offsetElems;
    return new Float32Array(await this.read(buffer, offsetElems * 4, n * 4));
  }

  async readU32(buffer: GPUBuffer, count?: number, offsetElems = 0): Promise<Uint32Array> {
    const n = count ?? buffer.size / 4 - offsetElems;
    return new Uint32Array(await this.read(buffer, offsetElems * 4, n * 4));
  }

  // ---- dispatch --------------------------------------------------------------------------

  /** Records passes into one command buffer; nothing runs until `submit()`. */
  batch(label = 'batch'): GpuBatch {
    this.assertAlive();
    return new GpuBatch(this, label);
  }

  /** One dispatch, submitted now. */
  dispatch(pipeline: GPUComputePipeline, bindings: GpuBindings, workgroups: Workgroups, label?: string): void {
    this.batch(label).dispatch(pipeline, bindings, workgroups, label).submit();
  }

  /** Waits until all submitted work has finished (for timing and tests). */
  async sync(): Promise<void> {
    this.assertAlive();
    await this.device.queue.onSubmittedWorkDone();
    this.assertAlive();
  }

  /** Per-pass GPU timings (timestamp-query) reported after each batch; null turns it off. */
  setTimingHook(hook: TimingHook | null): boolean {
    this.timingHook = hook;
    return hook !== null && this.caps.timestamps;
  }

  /** @internal */
  get activeTimingHook(): TimingHook | null {
    return this.caps.timestamps ? this.timingHook : null;
  }

  /** @internal */
  bindGroupLayout(p: GPUComputePipeline): GPUBindGroupLayout {
    let l = this.layouts.get(p);
    if (!l) {
      l = p.getBindGroupLayout(0);
      this.layouts.set(p, l);
    }
    return l;
  }

  destroy(): void {
    this.device.destroy();
  }
}

/** Error messages of a module, with lines mapped back through the includes to the file edited. */
async function compileMessages(module: GPUShaderModule, ex: ExpandedShader): Promise<ShaderMessage[]> {
  let info: GPUCompilationInfo;
  try {
    info = await module.getCompilationInfo();
  } catch {
    return [];
  }
  const lines = ex.code.split('\n');
  return [...info.messages]
    .filter((m) => m.type === 'error')
    .map((m) => {
      const o = shaderLineOrigin(ex, m.lineNum);
      return { line: o?.line ?? m.lineNum, column: m.linePos, message: m.message, text: lines[m.lineNum - 1], ...(o ? { file: o.file } : {}) };
    });
}
