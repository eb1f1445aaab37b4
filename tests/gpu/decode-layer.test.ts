import { describe, expect, it } from 'vitest';
import { DECODE_LAYER_ENTRY, DECODE_LAYER_SHADER, layerOffsets, packLayer, planDecodeLayer, recordDecodeLayer, type DecodeLayerPlan, type DecodeLayerShape } from '../../shared/engine/decode-layer';
import { decodeLayerRef } from '../../shared/engine/reference/fused';
import { ropeInvFreq } from '../../shared/engine/reference/rope';
import { GpuUsageError } from '../../shared/gpu';
import { compareClose, randomF32, rng } from '../support/compare';
import { useGpu } from '../support/gpu';

// A whole decode block in one dispatch (shaders/decode_layer_f32.wgsl) against decodeLayerRef
// (the references of the five dispatches it replaces, f64 sums) over many block shapes: stories260K's,
// grouped and ungrouped heads, NEOX and adjacent-pair RoPE, partial RoPE, heads that take two
// passes of the workgroup, positions across the attention's key chunks. Tolerance: the block
// chains an RMSNorm, three products, attention and SwiGLU in f32 with values of order 1 (weights
// scaled by 1/sqrt(cols)); each stage's own tolerance in tests/gpu/fused*.test.ts is ~1e-5
// relative, and the largest error seen over these cases is 2.4e-7 (x, 2026-12-07, lavapipe), so
// atol = rtol = 3e-6 leaves a margin of more than 10x while a wrong index or a missed term (errors
// of order 1e-1) fails. The caches' new row (q | k | v product, RoPE) takes the same tolerance.
// The kernel is also bit for bit the engine's five-dispatch block on whole models
// (tests/gpu/engine-fused.test.ts).
const TOL = { atol: 3e-6, rtol: 3e-6 };

const g = useGpu();

interface Case extends DecodeLayerShape {
  pos0: number;
  /** Split q | k | v into this many row parts (packLayer copies each). */
  qkvParts?: number;
}

const STORIES: DecodeLayerShape = { E: 64, heads: 8, kvHeads: 4, headDim: 8, F: 172, ropeDims: 8, neox: false };

const CASES: Case[] = [
  ...[0, 1, 15, 16, 17, 40].map((pos0) => ({ ...STORIES, pos0 })),
  { ...STORIES, pos0: 33, qkvParts: 3 },
  { E: 128, heads: 4, kvHeads: 4, headDim: 32, F: 344, ropeDims: 32, neox: true, pos0: 37 },
  { E: 128, heads: 4, kvHeads: 1, headDim: 32, F: 96, ropeDims: 16, neox: true, pos0: 70 },
  { E: 64, heads: 8, kvHeads: 2, headDim: 8, F: 64, ropeDims: 4, neox: false, pos0: 20 },
  // 32 heads of 16: AW 16, so two passes of 16 heads through the 256 invocations.
  { E: 256, heads: 32, kvHeads: 8, headDim: 16, F: 128, ropeDims: 16, neox: false, pos0: 18 },
  // 6 heads of 64: AW 64, passes of 4 heads, the second half empty.
  { E: 96, heads: 6, kvHeads: 2, headDim: 64, F: 64, ropeDims: 64, neox: true, pos0: 65 },
];

function scaled(n: number, cols: number, r: () => number): Float32Array {
  const w = randomF32(n, r);
  const s = 1 / Math.sqrt(cols);
  for (let i = 0; i < n; i++) w[i] = Math.fround(w[i]! * s);
  return w;
}

async function runCase(c: Case, seed: number, pipeline: GPUComputePipeline, plan: DecodeLayerPlan): Promise<string | null> {
  const ctx = g.ctx!;
  const r = rng(seed);
  const { E, F, heads, kvHeads, headDim } = c;
  const Q = heads * headDim;
  const KV = kvHeads * headDim;
  const R = Q + 2 * KV;
  const maxContext = c.pos0 + 3;
  const x = randomF32(E, r, -2, 2);
  const attnNorm = randomF32(E, r, 0.5, 1.5);
  const ffnNorm = randomF32(E, r, 0.5, 1.5);
  const wqkv = scaled(R * E, E, r);
  const wo = scaled(E * Q, Q, r);
  const wgu = scaled(2 * F * E, E, r);
  const wdown = scaled(E * F, F, r);
  const invFreq = ropeInvFreq(c.ropeDims, 10000);
  const kCache = new Float32Array(maxContext * KV);
  const vCache = new Float32Array(maxContext * KV);
  kCache.set(randomF32(c.pos0 * KV, r, -2, 2));
  vCache.set(randomF32(c.pos0 * KV, r, -2, 2));
  const scale = 1 / Math.sqrt(headDim);
  const eps = 1e-5;

  const buffers: GPUBuffer[] = [];
  const buf = (v: Float32Array, label: string) => {
    const b = ctx.storage(v, label);
    buffers.push(b);
    return b;
  };
  try {
    // q | k | v in row parts, as a model loaded in parts holds it.
    const nParts = c.qkvParts ?? 1;
    const per = Math.ceil(R / nParts);
    const qkvParts = [];
    for (let r0 = 0; r0 < R; r0 += per) {
      const rows = Math.min(per, R - r0);
      qkvParts.push({ buffer: buf(wqkv.slice(r0 * E, (r0 + rows) * E), 'qkv part'), rowStart: r0, rows });
    }
    const one = (w: Float32Array, rows: number, label: string) => [{ buffer: buf(w, label), rowStart: 0, rows }];
    const pack = packLayer(ctx, plan, { attnNorm: buf(attnNorm, 'attnNorm'), qkv: qkvParts, o: one(wo, E, 'o'), ffnNorm: buf(ffnNorm, 'ffnNorm'), gu: one(wgu, 2 * F, 'gu'), down: one(wdown, E, 'down') }, 'pack');
    buffers.push(pack);
    const xb = buf(x, 'x');
    const kb = buf(kCache, 'kCache');
    const vb = buf(vCache, 'vCache');
    const fb = buf(invFreq, 'invFreq');
    const b = ctx.batch('decode layer');
    recordDecodeLayer(b, pipeline, plan, { pos0: c.pos0, scale, eps }, { pack, x: xb, kCache: kb, vCache: vb, invFreq: fb }, 'decode_layer');
    b.submit();
    const gotX = await ctx.readF32(xb, E);
    const gotK = await ctx.readF32(kb, maxContext * KV);
    const gotV = await ctx.readF32(vb, maxContext * KV);

    const want = decodeLayerRef({
      x,
      attnNorm,
      wqkv,
      wo,
      ffnNorm,
      wgu,
      wdown,
      invFreq,
      kCache,
      vCache,
      shape: { E, F, heads, kvHeads, headDim, pos0: c.pos0, neox: c.neox, ropeDims: c.ropeDims, scale, eps },
    });
    const label = `${JSON.stringify(c)} seed ${seed}`;
    // Not vacuous: the block moved x.
    let moved = 0;
    for (let i = 0; i < E; i++) moved = Math.max(moved, Math.abs(want[i]! - x[i]!));
    if (!(moved > 1e-2)) return `${label}: the reference block barely moves x (${moved}); the case tests nothing`;
    return compareClose(gotX, want, TOL, `${label} x`) ?? compareClose(gotK, kCache, TOL, `${label} kCache`) ?? compareClose(gotV, vCache, TOL, `${label} vCache`);
  } finally {
    for (const b of buffers) b.destroy();
  }
}

describe('decode_layer_f32: a whole block of a one-token step in one dispatch', () => {
  it('matches decodeLayerRef over block shapes, positions and RoPE kinds', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const ctx = g.ctx;
    const failures: string[] = [];
    const pipelines = new Map<string, GPUComputePipeline>();
    for (const [i, c] of CASES.entries()) {
      const plan = planDecodeLayer(c, ctx.caps.limits);
      if ('unfit' in plan) {
        failures.push(`${JSON.stringify(c)}: unfit: ${plan.unfit}`);
        continue;
      }
      // One pipeline per set of constants (the stories260K cases share one).
      const key = JSON.stringify(plan.constants);
      let pipeline = pipelines.get(key);
      if (!pipeline) {
        pipeline = await ctx.pipeline(DECODE_LAYER_SHADER, { entryPoint: DECODE_LAYER_ENTRY, constants: plan.constants });
        pipelines.set(key, pipeline);
      }
      const err = await runCase(c, 100 + i, pipeline, plan);
      if (err) failures.push(err);
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it('plans: offsets tile the pack; a shape beyond the workgroup memory is refused with the reason, bad shapes throw', () => {
    const o = layerOffsets(STORIES);
    // 64-wide norms (16 vec4s), then [128, 64], [64, 64], norm, [344, 64], [64, 172].
    expect(o).toEqual({ attnNorm: 0, qkv: 16, o: 16 + 2048, ffnNorm: 16 + 2048 + 1024, gu: 16 + 2048 + 1024 + 16, down: 16 + 2048 + 1024 + 16 + 5504, vec4s: 16 + 2048 + 1024 + 16 + 5504 + 2752 });
    const limits = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256 };
    const p = planDecodeLayer(STORIES, limits);
    expect('unfit' in p).toBe(false);
    if (!('unfit' in p)) {
      expect(p.aw).toBe(16);
      // 8 heads of AW 16: 128 invocations, one pass.
      expect(p.constants).toMatchObject({ WG: 128, AW: 16, E4: 16, R: 128, Q4: 16, F4: 43, HS: 64, NEOX: 0 });
      expect(p.workgroupBytes).toBeLessThanOrEqual(16384);
    }
    const many = planDecodeLayer({ E: 256, heads: 32, kvHeads: 8, headDim: 16, F: 128, ropeDims: 16, neox: false }, limits);
    expect('unfit' in many ? many.unfit : many.constants).toMatchObject({ WG: 256, HS: 256 });
    const wide = planDecodeLayer({ ...STORIES, E: 2048, F: 5632, heads: 16, kvHeads: 2, headDim: 128, ropeDims: 128 }, limits);
    expect('unfit' in wide && wide.unfit).toMatch(/workgroup memory/);
    expect('unfit' in planDecodeLayer({ ...STORIES, F: 170 }, limits)).toBe(true);
    expect(() => planDecodeLayer({ ...STORIES, heads: 6, kvHeads: 4 }, limits)).toThrow(GpuUsageError);
    expect(() => planDecodeLayer({ ...STORIES, ropeDims: 7 }, limits)).toThrow(GpuUsageError);
  });
});
