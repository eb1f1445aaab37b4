/**
 * Cheap re-encoding of the forward pass. A decode step dispatches ~18 kernels per block, and
 * building a GpuBatch makes a bind group and a uniform sub-allocation for each, every token.
 * Here the same encoders (CoreKernels, the weight kernels) record into a Recorder; the
 * DispatchCache then writes all their parameters into one uniform arena with a single
 * writeBuffer and encodes one compute pass, with bind groups cached by (pipeline, bindings):
 * after the first token of a shape, a step creates no GPU objects but its command buffer.
 * GpuBatch stays the path when per-pass timing is on (it brackets each pass with timestamps).
 */
import { BufferUsage, GpuUsageError, Params, splitWorkgroups, type GpuBatch, type GpuBinding, type GpuContext, type Workgroups } from '../gpu';

interface UniformSlot {
  bytes: Uint8Array;
  offset: number;
}

interface RecordedDispatch {
  pipeline: GPUComputePipeline;
  bindings: readonly (GpuBinding | UniformSlot | undefined)[];
  workgroups: [number, number, number];
}

/** Collects dispatches through the part of GpuBatch's interface the encoders use. */
export class Recorder {
  readonly ops: RecordedDispatch[] = [];
  readonly slots: UniformSlot[] = [];

  constructor(private readonly maxPerDim: number) {}

  uniform(data: Params | ArrayBufferView): GpuBinding {
    const bytes = data instanceof Params ? data.bytes() : new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    const slot: UniformSlot = { bytes, offset: -1 };
    this.slots.push(slot);
    // The encoders pass this back to dispatch() unchanged; it only looks like a binding.
    return slot as unknown as GpuBinding;
  }

  dispatch(pipeline: GPUComputePipeline, bindings: readonly (GpuBinding | undefined)[], workgroups: Workgroups): this {
    const [x, y = 1, z = 1] = typeof workgroups === 'number' ? splitWorkgroups(workgroups, this.maxPerDim) : workgroups;
    if (x > this.maxPerDim || y > this.maxPerDim || z > this.maxPerDim) throw new GpuUsageError(`dispatch [${x}, ${y}, ${z}] exceeds ${this.maxPerDim} per dimension`);
    if (x && y && z) this.ops.push({ pipeline, bindings: bindings as RecordedDispatch['bindings'], workgroups: [x, y, z] });
    return this;
  }

  /** This recorder where an encoder expects a batch (it only calls uniform() and dispatch()). */
  asBatch(): GpuBatch {
    return this as unknown as GpuBatch;
  }
}

function isSlot(b: unknown): b is UniformSlot {
  return typeof b === 'object' && b !== null && 'bytes' in b && 'offset' in b;
}

export class DispatchCache {
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private arena: GPUBuffer | null = null;
  private readonly align: number;

  constructor(private readonly ctx: GpuContext) {
    this.align = Math.max(16, ctx.caps.limits.minUniformBufferOffsetAlignment);
  }

  recorder(): Recorder {
    return new Recorder(this.ctx.caps.limits.maxComputeWorkgroupsPerDimension);
  }

  private id(o: object): number {
    let i = this.ids.get(o);
    if (i === undefined) {
      i = this.nextId++;
      this.ids.set(o, i);
    }
    return i;
  }

  /** Writes the recorded parameters, encodes one compute pass and submits it. */
  submit(rec: Recorder, label = 'forward'): void {
    this.ctx.assertAlive();
    let size = 0;
    for (const s of rec.slots) {
      s.offset = size;
      size += Math.ceil(s.bytes.byteLength / this.align) * this.align;
    }
    if (!this.arena || this.arena.size < size) {
      // A new arena invalidates every bind group that points into the old one.
      this.arena?.destroy();
      this.groups.clear();
      this.arena = this.ctx.createBuffer(Math.max(size * 2, 4096), BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'forward:params');
    }
    const data = new Uint8Array(size);
    for (const s of rec.slots) data.set(s.bytes, s.offset);
    if (size) this.ctx.write(this.arena, data);

    const device = this.ctx.device;
    const enc = device.createCommandEncoder({ label });
    const pass = enc.beginComputePass({ label });
    for (const op of rec.ops) {
      const entries: GPUBindGroupEntry[] = [];
      let key = `${this.id(op.pipeline)}`;
      op.bindings.forEach((b, binding) => {
        if (!b) return;
        let resource: GPUBufferBinding;
        if (isSlot(b)) resource = { buffer: this.arena!, offset: b.offset, size: b.bytes.byteLength };
        else if ('buffer' in b) resource = b;
        else resource = { buffer: b };
        key += `|${binding}:${this.id(resource.buffer)}@${resource.offset ?? 0}+${resource.size ?? ''}`;
        entries.push({ binding, resource });
      });
      let group = this.groups.get(key);
      if (!group) {
        group = device.createBindGroup({ label, layout: this.ctx.bindGroupLayout(op.pipeline), entries });
        this.groups.set(key, group);
      }
      pass.setPipeline(op.pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(...op.workgroups);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
  }

  /** Forgets the cached bind groups (some name buffers that were replaced: the KV pages). */
  forgetBindGroups(): void {
    this.groups.clear();
  }

  /** Forgets the cached bind groups (the buffers they name are about to be destroyed). */
  destroy(): void {
    this.groups.clear();
    this.arena?.destroy();
    this.arena = null;
  }
}
