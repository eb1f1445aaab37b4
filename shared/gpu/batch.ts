/**
 * Recorded GPU work: bindings, workgroup counts, per-pass timings, and GpuBatch, the dispatches
 * and copies of one command encoder.
 */
import { BufferUsage, MAP_MODE_READ } from './buffer-usage';
import type { GpuContext } from './context';
import { GpuUsageError } from './errors';
import { asBytes, type Params } from './params';

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
