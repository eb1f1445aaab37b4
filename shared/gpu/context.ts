import { AllocationLedger } from './ledger';
import { describeAdapter, summarizeLimits, type AdapterSummary, type LimitsSummary } from './adapter';
import {
  DeviceLostError,
  FeatureMissingError,
  GpuUsageError,
  GpuValidationError,
  ModelTooLargeError,
  OutOfGpuMemoryError,
  ShaderCompileError,
  ShaderNotFoundError,
  WebGpuUnavailableError,
  type ShaderMessage,
} from './errors';
import { Params } from './params';
import { expandShaderIncludes, isIncludeOnlyShader, shaderLineOrigin, type ExpandedShader } from './shader-includes';

/** WGSL text by shader name (file name without `.wgsl`), supplied by the host (disk, Vite `?raw`). */
export type ShaderSource = Readonly<Record<string, string>>;

// The WebGPU usage bits, spelled out so shared code does not depend on the GPUBufferUsage global.
export const BufferUsage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  INDIRECT: 0x100,
  QUERY_RESOLVE: 0x200,
} as const;
const MAP_MODE_READ = 0x1;

/** Features this engine uses when present. */
export type OptionalFeature = 'shader-f16' | 'subgroups' | 'timestamp-query';

/** Limits asked for in `requiredLimits`, up to what the adapter offers (or `maxLimits`). */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
] as const;
export type RequestedLimit = (typeof REQUESTED_LIMITS)[number];

export interface OpenDeviceOptions {
  /** An adapter already requested (tests, `pxi gpu`); otherwise `gpu.requestAdapter()` is called. */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  disableF16?: boolean;
  disableSubgroups?: boolean;
  disableTimestamps?: boolean;
  /** Features that must be present: a missing one throws FeatureMissingError. */
  require?: OptionalFeature[];
  /** Ask for at most these limits (e.g. emulate SwiftShader's 10 storage buffers / 256 invocations). */
  maxLimits?: Partial<Record<RequestedLimit, number>>;
  shaders?: ShaderSource;
  label?: string;
  /** Called once when the device is lost for any reason other than our own destroy(). */
  onLost?: (e: DeviceLostError) => void;
}

export interface GpuCaps {
  f16: boolean;
  subgroups: boolean;
  timestamps: boolean;
  /** The limits the device was granted (not the adapter's). */
  limits: LimitsSummary;
}

/** A buffer, or a range of one, for a binding. */
export type GpuBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };
/** Bindings of group 0 by binding number; holes (undefined) are skipped. */
export type GpuBindings = readonly (GpuBinding | undefined)[];
/** A 1-D count (split into 2-D past the per-dimension limit) or explicit [x, y, z]. */
export type Workgroups = number | readonly [number, number?, number?];

export interface PassTiming {
  label: string;
  ms: number;
}
export type TimingHook = (batchLabel: string, passes: PassTiming[]) => void;

export interface PipelineOptions {
  entryPoint?: string;
  constants?: Record<string, number>;
}

/**
 * Splits `n` workgroups into [x, y] with x, y <= maxPerDim. Kernels that accept a 1-D count
 * compute their linear index as `wid.x + wid.y * nwg.x` and bound-check it, since x*y may exceed n.
 */
export function splitWorkgroups(n: number, maxPerDim = 65535): [number, number] {
  if (!Number.isInteger(n) || n < 0) throw new GpuUsageError(`workgroup count must be a non-negative integer, got ${n}`);
  if (n <= maxPerDim) return [n, 1];
  const y = Math.ceil(n / maxPerDim);
  if (y > maxPerDim) throw new GpuUsageError(`workgroup count ${n} exceeds ${maxPerDim}² even when split`);
  return [Math.ceil(n / y), y];
}

export async function openDevice(gpu: GPU | null | undefined, opts: OpenDeviceOptions = {}): Promise<GpuContext> {
  if (!gpu && !opts.adapter) throw new WebGpuUnavailableError('WebGPU is not available here (no navigator.gpu / webgpu binding)');
  let adapter: GPUAdapter | null | undefined = opts.adapter;
  if (!adapter) {
    try {
      adapter = await gpu!.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
    } catch (e) {
      throw new WebGpuUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
    }
  }
  if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter was found (requestAdapter returned null)');
  const summary = describeAdapter(adapter);

  for (const f of opts.require ?? []) {
    if (!adapter.features.has(f)) throw new FeatureMissingError(f, undefined, { adapter: summary.description || summary.device });
  }
  const want = (f: OptionalFeature, disabled?: boolean) => adapter!.features.has(f) && (!disabled || opts.require?.includes(f) === true);
  const features: GPUFeatureName[] = [];
  if (want('shader-f16', opts.disableF16)) features.push('shader-f16');
  if (want('subgroups', opts.disableSubgroups)) features.push('subgroups');
  if (want('timestamp-query', opts.disableTimestamps)) features.push('timestamp-query');

  const requiredLimits: Record<string, number> = {};
  for (const k of REQUESTED_LIMITS) {
    const offered = Number((adapter.limits as unknown as Record<string, number>)[k]);
    const cap = opts.maxLimits?.[k];
    requiredLimits[k] = cap !== undefined ? Math.min(offered, cap) : offered;
  }

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: opts.label ?? 'pxi', requiredFeatures: features, requiredLimits });
  } catch (e) {
    throw new WebGpuUnavailableError(`requestDevice failed: ${(e as Error).message}`, { adapter: summary });
  }
  const caps: GpuCaps = {
    f16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    timestamps: device.features.has('timestamp-query'),
    limits: summarizeLimits(device.limits),
  };
  const ctx = new GpuContext(device, caps, summary, opts);
  // Keep the instance and adapter reachable for the device's lifetime: dawn.node crashed
  // (futex / mutex errors) when the GPU instance was garbage-collected under a live device.
  ctx.keepAlive = [gpu, adapter];
  return ctx;
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

const UNIFORM_CHUNK = 16 * 1024;
// WebGPU caps a query set at 4096 queries (two per pass); a 7B decode step has ~540 dispatches.
const MAX_TIMED_PASSES = 2048;

/**
 * Dispatches and copies recorded into one command encoder. Per-dispatch parameters come from
 * `uniform()`, sub-allocated from a few shared buffers written once at submit. Consecutive
 * dispatches share one compute pass unless timing is on (then one pass each, with timestamps).
 */
export class GpuBatch {
  private readonly ctx: GpuContext;
  readonly label: string;
  private readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly chunks: { buffer: GPUBuffer; data: Uint8Array<ArrayBuffer>; used: number }[] = [];
  private readonly timed: string[] = [];
  private querySet: GPUQuerySet | null = null;
  private readonly hook: TimingHook | null;
  private submitted = false;

  constructor(ctx: GpuContext, label: string) {
    this.ctx = ctx;
    this.label = label;
    this.encoder = ctx.device.createCommandEncoder({ label });
    this.hook = ctx.activeTimingHook;
  }

  /** Parameters for one dispatch, as a binding into this batch's uniform arena. */
  uniform(data: Params | ArrayBufferView): GpuBinding {
    const bytes = asBytes(data);
    const align = Math.max(16, this.ctx.caps.limits.minUniformBufferOffsetAlignment);
    const size = Math.ceil(bytes.byteLength / 16) * 16;
    if (size > UNIFORM_CHUNK) throw new GpuUsageError(`uniform of ${size} bytes is larger than a chunk (${UNIFORM_CHUNK})`);
    let c = this.chunks[this.chunks.length - 1];
    if (!c || Math.ceil(c.used / align) * align + size > UNIFORM_CHUNK) {
      const buffer = this.ctx.createBuffer(UNIFORM_CHUNK, BufferUsage.UNIFORM | BufferUsage.COPY_DST, `${this.label}:params`);
      c = { buffer, data: new Uint8Array(UNIFORM_CHUNK), used: 0 };
      this.chunks.push(c);
    }
    const offset = Math.ceil(c.used / align) * align;
    c.data.set(bytes, offset);
    c.used = offset + size;
    return { buffer: c.buffer, offset, size };
  }

  dispatch(pipeline: GPUComputePipeline, bindings: GpuBindings, workgroups: Workgroups, label = pipeline.label): this {
    this.assertOpen();
    const maxDim = this.ctx.caps.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = typeof workgroups === 'number' ? splitWorkgroups(workgroups, maxDim) : workgroups;
    if (x > maxDim || y > maxDim || z > maxDim) throw new GpuUsageError(`dispatch ${label}: [${x}, ${y}, ${z}] exceeds ${maxDim} per dimension`);
    if (x === 0 || y === 0 || z === 0) return this;
    const entries: GPUBindGroupEntry[] = [];
    bindings.forEach((b, i) => {
      if (!b) return;
      entries.push({ binding: i, resource: 'buffer' in b ? b : { buffer: b } });
    });
    const group = this.ctx.device.createBindGroup({ label, layout: this.ctx.bindGroupLayout(pipeline), entries });
    let pass: GPUComputePassEncoder;
    if (this.hook && this.timed.length < MAX_TIMED_PASSES) {
      this.endPass();
      this.querySet ??= this.ctx.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_TIMED_PASSES });
      const i = this.timed.length;
      this.timed.push(label);
      pass = this.encoder.beginComputePass({
        label,
        timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
      return this;
    }
    this.pass ??= this.encoder.beginComputePass({ label: this.label });
    pass = this.pass;
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    return this;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): this {
    this.assertOpen();
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    return this;
  }

  clear(buffer: GPUBuffer, offset = 0, size?: number): this {
    this.assertOpen();
    this.endPass();
    this.encoder.clearBuffer(buffer, offset, size);
    return this;
  }

  submit(): void {
    this.assertOpen();
    this.endPass();
    this.submitted = true;
    const dev = this.ctx.device;
    let resolveBuf: GPUBuffer | null = null;
    let readBuf: GPUBuffer | null = null;
    const n = this.timed.length;
    if (this.querySet && n > 0) {
      resolveBuf = dev.createBuffer({ label: 'timestamps:resolve', size: 16 * n, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
      readBuf = dev.createBuffer({ label: 'timestamps:read', size: 16 * n, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      this.ctx.ledger.add(resolveBuf, 'timestamps:resolve', 16 * n, 'staging');
      this.ctx.ledger.add(readBuf, 'timestamps:read', 16 * n, 'staging');
      this.encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolveBuf, 0);
      this.encoder.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, 16 * n);
    }
    for (const c of this.chunks) dev.queue.writeBuffer(c.buffer, 0, c.data, 0, c.used);
    dev.queue.submit([this.encoder.finish()]);
    // Destroying after submit is allowed: the submitted work keeps them alive until it finishes.
    for (const c of this.chunks) c.buffer.destroy();
    if (readBuf && resolveBuf && this.hook) {
      const hook = this.hook;
      const labels = this.timed.slice();
      const qs = this.querySet!;
      const rb = readBuf;
      const res = resolveBuf;
      void rb
        .mapAsync(MAP_MODE_READ)
        .then(() => {
          const t = new BigUint64Array(rb.getMappedRange());
          hook(
            this.label,
            labels.map((label, i) => ({ label, ms: Number(t[2 * i + 1] - t[2 * i]) / 1e6 })),
          );
        })
        .catch(() => undefined) // timing is best-effort; a lost device is reported elsewhere
        .finally(() => {
          rb.destroy();
          res.destroy();
          qs.destroy();
        });
    }
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  private assertOpen(): void {
    this.ctx.assertAlive();
    if (this.submitted) throw new GpuUsageError(`batch "${this.label}" was already submitted`);
  }
}

function asBytes(data: Params | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (data instanceof Params) return data.bytes();
  // WebGPU typings want an ArrayBuffer-backed view; a SharedArrayBuffer one works the same at run time.
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
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
