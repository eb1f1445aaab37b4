import { beforeAll, describe, expect, it } from 'vitest';
import {
  BufferUsage,
  checkBuffersFit,
  checkContextWindow,
  ContextWindowExceededError,
  CoreKernels,
  describeAdapter,
  DeviceLostError,
  FeatureMissingError,
  formatAdapterSummary,
  GpuValidationError,
  ModelTooLargeError,
  openDevice,
  params,
  ShaderCompileError,
  ShaderNotFoundError,
  splitWorkgroups,
  WebGpuUnavailableError,
} from '../../shared/gpu';
import { openTestContext, useGpu } from '../support/gpu';
import { openNodeGpu } from '../support/webgpu-node';

// Writes its linear workgroup index (2-D split aware) into out[idx] + a uniform offset.
const FILL = /* wgsl */ `
struct P { n: u32, add: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
override WG: u32 = 1u;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + li;
  if (i >= p.n) { return; }
  out[i] = i + p.add;
}
`;
const BROKEN = 'fn main() {\n  let x: u32 = 1.5;\n}\n';

const g = useGpu();
beforeAll(() => g.ctx?.addShaders({ t_fill: FILL, t_broken: BROKEN }));

describe('runtime without a device', () => {
  it('splits workgroup counts past the per-dimension limit', () => {
    expect(splitWorkgroups(1)).toEqual([1, 1]);
    expect(splitWorkgroups(65535)).toEqual([65535, 1]);
    const [x, y] = splitWorkgroups(65536);
    expect(x * y).toBeGreaterThanOrEqual(65536);
    expect(x).toBeLessThanOrEqual(65535);
    expect(y).toBe(2);
    const [x2, y2] = splitWorkgroups(1_000_003);
    expect(x2 * y2 - 1_000_003).toBeLessThan(y2); // little waste
  });

  it('packs uniform parameters with 16-byte padding', () => {
    const b = params().u32(7).f32(0.5).i32(-2).bytes();
    expect(b.byteLength).toBe(16);
    const dv = new DataView(b.buffer);
    expect([dv.getUint32(0, true), dv.getFloat32(4, true), dv.getInt32(8, true)]).toEqual([7, 0.5, -2]);
    expect(params().u32(1).u32(2).u32(3).u32(4).u32(5).bytes().byteLength).toBe(32);
    expect(() => params().u32(-1)).toThrow();
  });

  it('names the missing WebGPU, the missing feature, the too-large buffer and the full context', async () => {
    await expect(openDevice(null)).rejects.toBeInstanceOf(WebGpuUnavailableError);
    const fake = { features: new Set<string>(), limits: {}, info: { vendor: 'x' } } as unknown as GPUAdapter;
    await expect(openDevice(null, { adapter: fake, require: ['shader-f16'] })).rejects.toBeInstanceOf(FeatureMissingError);
    const caps = { f16: false, subgroups: false, timestamps: false, limits: { maxBufferSize: 1000, maxStorageBufferBindingSize: 500 } } as never;
    expect(() => checkBuffersFit(caps, [{ name: 'a', bytes: 400 }])).not.toThrow();
    expect(() => checkBuffersFit(caps, [{ name: 'a', bytes: 600 }])).toThrow(ModelTooLargeError);
    expect(() => checkBuffersFit(caps, [{ name: 'a', bytes: 600, bound: false }])).not.toThrow();
    expect(() => checkBuffersFit(caps, [{ name: 'a', bytes: 1001, bound: false }])).toThrow(/maxBufferSize|allows 1000/);
    expect(() => checkContextWindow(10, 6, 16)).not.toThrow();
    expect(() => checkContextWindow(10, 7, 16)).toThrow(ContextWindowExceededError);
  });
});

describe('runtime on WebGPU (Dawn)', () => {
  it('describes the adapter and grants the limits it asked for', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = await openNodeGpu();
    if (!r.gpu) return t.skip(r.reason);
    const s = describeAdapter(r.adapter);
    expect(s.features).toContain('core-features-and-limits');
    expect(typeof s.isFallbackAdapter).toBe('boolean');
    expect(s.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(formatAdapterSummary(s)).toMatch(/shader-f16 (yes|no) · subgroups (yes|no) · storage binding \d+ [MG]iB/);
    expect(g.ctx.caps.limits.maxStorageBufferBindingSize).toBe(r.adapter.limits.maxStorageBufferBindingSize);
    expect(g.ctx.caps.limits.maxComputeInvocationsPerWorkgroup).toBe(r.adapter.limits.maxComputeInvocationsPerWorkgroup);
    expect(g.ctx.caps.f16).toBe(r.adapter.features.has('shader-f16'));
  });

  it('honours disabled features and capped limits (SwiftShader-like)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const r = await openTestContext({ disableF16: true, disableSubgroups: true, maxLimits: { maxStorageBuffersPerShaderStage: 10, maxComputeInvocationsPerWorkgroup: 256 } });
    if (!r.ctx) return t.skip(r.reason);
    try {
      expect(r.ctx.caps.f16).toBe(false);
      expect(r.ctx.caps.subgroups).toBe(false);
      expect(r.ctx.caps.limits.maxStorageBuffersPerShaderStage).toBe(10);
      expect(r.ctx.caps.limits.maxComputeInvocationsPerWorkgroup).toBe(256);
      // Every core kernel must build within SwiftShader's limits (256 invocations, 10 storage buffers).
      await expect(CoreKernels.create(r.ctx)).resolves.toBeInstanceOf(CoreKernels);
    } finally {
      r.ctx.destroy();
    }
  });

  it('caches pipelines by shader, entry point and constants', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const a = await g.ctx.pipeline('t_fill');
    expect(await g.ctx.pipeline('t_fill', { entryPoint: 'main' })).toBe(a);
    const b = await g.ctx.pipeline('t_fill', { constants: { WG: 64 } });
    expect(b).not.toBe(a);
    expect(await g.ctx.pipeline('t_fill', { constants: { WG: 64 } })).toBe(b);
  });

  it('reports compile errors with shader name and line', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const e = await g.ctx.pipeline('t_broken').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ShaderCompileError);
    const err = e as ShaderCompileError;
    expect(err.messages.some((m) => m.line === 2)).toBe(true);
    expect(err.message).toMatch(/t_broken\.wgsl:2:/);
    await expect(g.ctx.pipeline('t_fill', { entryPoint: 'nope' })).rejects.toBeInstanceOf(ShaderCompileError);
    await expect(g.ctx.pipeline('no_such_shader')).rejects.toBeInstanceOf(ShaderNotFoundError);
  });

  it('dispatches past 65535 workgroups in 2-D and reads back', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const n = 65537;
    const out = g.ctx.storage(n * 4, 'fill');
    const pipe = await g.ctx.pipeline('t_fill');
    const b = g.ctx.batch('fill');
    b.dispatch(pipe, [b.uniform(params().u32(n).u32(5)), out], n);
    b.submit();
    const got = await g.ctx.readU32(out);
    let bad = -1;
    for (let i = 0; i < n; i++) if (got[i] !== i + 5) { bad = i; break; }
    expect(bad, `first wrong index ${bad}: ${got[bad]}`).toBe(-1);
    out.destroy();
  });

  it('gives each dispatch in a batch its own uniform parameters', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const pipe = await g.ctx.pipeline('t_fill', { constants: { WG: 64 } });
    const bufs = await g.ctx.checked('bufs', () => Array.from({ length: 100 }, (_, i) => g.ctx!.storage(64 * 4, `b${i}`)));
    const b = g.ctx.batch('many');
    bufs.forEach((buf, i) => b.dispatch(pipe, [b.uniform(params().u32(64).u32(i * 1000)), buf], 1));
    b.submit();
    for (const i of [0, 1, 63, 64, 99]) {
      const got = await g.ctx.readU32(bufs[i]!);
      expect(got[0]).toBe(i * 1000);
      expect(got[63]).toBe(i * 1000 + 63);
    }
    bufs.forEach((x) => x.destroy());
  });

  it('turns validation errors in checked() into GpuValidationError and oversize buffers into ModelTooLargeError', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    // MAP_READ may only be combined with COPY_DST.
    await expect(g.ctx.checked('bad usage', () => g.ctx!.createBuffer(16, BufferUsage.MAP_READ | BufferUsage.STORAGE))).rejects.toBeInstanceOf(GpuValidationError);
    expect(() => g.ctx!.storage(g.ctx!.caps.limits.maxStorageBufferBindingSize + 4)).toThrow(ModelTooLargeError);
  });

  it('reports per-pass GPU times through the timing hook', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    if (!g.ctx.caps.timestamps) return t.skip('adapter has no timestamp-query');
    const seen: { batch: string; passes: { label: string; ms: number }[] }[] = [];
    // The hook is called when the batch's timestamps have been read back: wait for that call.
    const timed = new Promise<void>((resolve) =>
      g.ctx!.setTimingHook((batch, passes) => {
        seen.push({ batch, passes });
        resolve();
      }),
    );
    const pipe = await g.ctx.pipeline('t_fill', { constants: { WG: 64 } });
    const out = g.ctx.storage(4096 * 4);
    const b = g.ctx.batch('timed');
    b.dispatch(pipe, [b.uniform(params().u32(4096)), out], 64, 'first');
    b.dispatch(pipe, [b.uniform(params().u32(4096)), out], 64, 'second');
    b.submit();
    await g.ctx.readU32(out, 1);
    await timed;
    g.ctx.setTimingHook(null);
    expect(seen.length).toBe(1);
    expect(seen[0]!.passes.map((p) => p.label)).toEqual(['first', 'second']);
    for (const p of seen[0]!.passes) expect(p.ms).toBeGreaterThanOrEqual(0);
    out.destroy();
  });

  it('throws DeviceLostError after the device is gone', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    let told = false;
    const r = await openTestContext({ onLost: () => (told = true) });
    if (!r.ctx) return t.skip(r.reason);
    const c = r.ctx;
    c.destroy();
    await c.device.lost;
    // The context hears of the loss in its own device.lost reaction: wait for that, not for a turn of the event loop.
    await expect.poll(() => c.isLost).toBe(true);
    expect(() => c.storage(16)).toThrow(DeviceLostError);
    await expect(c.pipeline('t_fill')).rejects.toThrow(DeviceLostError);
    expect(told).toBe(false); // our own destroy() is not reported as a loss
  });
});
