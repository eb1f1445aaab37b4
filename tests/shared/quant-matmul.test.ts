import { describe, expect, it } from 'vitest';
import { GpuUsageError } from '../../shared/gpu';
import {
  padWeightBytes,
  planGetRows,
  planMatmul,
  WEIGHT_CHUNK,
  WEIGHT_SHADERS,
  WEIGHT_TYPES,
  weightBytes,
} from '../../shared/engine/quant-matmul';
import { getRowsRef, matmulRef } from '../../shared/engine/reference/matmul';
import { QUANT_FORMATS } from '../../shared/quant';

// The dispatch planning of shared/engine/quant-matmul.ts and the CPU references, without a GPU.

const dummy = {} as GPUBuffer;

describe('planMatmul', () => {
  it('picks the shader and entry point, and packs the params in WGSL field order', () => {
    const d = planMatmul({ weights: { type: 'Q4_K', rows: 100, cols: 512, buffer: dummy, byteOffset: 64 }, tokens: 7, xOffset: 4, xStride: 516, yOffset: 3, yStride: 101 });
    expect(d.shader).toBe('matvec_q4_k');
    expect(d.entryPoint).toBe('matmul');
    expect(d.constants).toEqual({ WG: 64, TPR: 1 });
    expect(d.workgroups).toEqual([2, 1, 2]); // 100 rows / 64 per group; 7 tokens / 4 per tile
    expect(d.params).toEqual([100, 512, 7, 16, 4, 516, 3, 101]);
    expect(planMatmul({ weights: { type: 'F16', rows: 1, cols: 8, buffer: dummy } }).entryPoint).toBe('matvec');
  });

  it('splits row groups past 65535 workgroups and divides rows by WG/TPR', () => {
    const lmHead = planMatmul({ weights: { type: 'Q6_K', rows: 151936, cols: 1024, buffer: dummy }, tuning: { workgroupSize: 64, threadsPerRow: 32 } });
    const groups = 151936 / 2;
    expect(lmHead.workgroups[0]).toBeLessThanOrEqual(65535);
    expect(lmHead.workgroups[0] * lmHead.workgroups[1]).toBeGreaterThanOrEqual(groups);
    expect(planMatmul({ weights: { type: 'F32', rows: 65, cols: 4, buffer: dummy }, tuning: { workgroupSize: 32, threadsPerRow: 8 } }).workgroups).toEqual([17, 1, 1]);
  });

  it('refuses shapes and tunings the kernels cannot run, with GpuUsageError', () => {
    const bad = [
      () => planMatmul({ weights: { type: 'Q8_0', rows: 4, cols: 48, buffer: dummy } }), // not whole blocks
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 6, buffer: dummy } }), // not a multiple of 4
      () => planMatmul({ weights: { type: 'Q4_K', rows: 0, cols: 256, buffer: dummy } }),
      () => planMatmul({ weights: { type: 'Q4_0', rows: 4, cols: 32, buffer: dummy, byteOffset: 2 } }),
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 32, buffer: dummy, byteOffset: 8 } }), // vec4 reads
      () => planMatmul({ weights: { type: 'Q4_K', rows: 4, cols: 256, buffer: dummy, byteOffset: 36 } }),
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 8, buffer: dummy }, xOffset: 2 }),
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 8, buffer: dummy }, tokens: 2, xStride: 4 }),
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 8, buffer: dummy }, tokens: 2, entryPoint: 'matvec' }),
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 8, buffer: dummy }, tuning: { workgroupSize: 64, threadsPerRow: 3 } }),
      () => planMatmul({ weights: { type: 'F32', rows: 4, cols: 8, buffer: dummy }, tuning: { workgroupSize: 16, threadsPerRow: 32 } }),
      () => planMatmul({ weights: { type: 'Q5_K', rows: 4, cols: 256, buffer: dummy, byteOffset: 4 } }), // vec4 reads
      () => planMatmul({ weights: { type: 'Q5_0', rows: 4, cols: 32, buffer: dummy, byteOffset: 2 } }),
      () => planMatmul({ weights: { type: 'IQ3_S' as 'Q4_K', rows: 4, cols: 256, buffer: dummy } }), // no kernel
    ];
    for (const f of bad) expect(f).toThrow(GpuUsageError);
  });
});

describe('planGetRows', () => {
  it('runs one invocation per (id, chunk)', () => {
    const d = planGetRows({ weights: { type: 'Q8_0', rows: 32000, cols: 4096, buffer: dummy }, count: 3, outOffset: 10 });
    expect(d.entryPoint).toBe('get_rows');
    expect(d.workgroups).toEqual([Math.ceil((3 * 4096) / 32 / 64), 1, 1]);
    expect(d.params).toEqual([32000, 4096, 3, 0, 0, 0, 10, 4096]);
    expect(planGetRows({ weights: { type: 'F32', rows: 2, cols: 4, buffer: dummy }, count: 0 }).workgroups[0]).toBe(0);
  });
});

describe('geometry', () => {
  it('chunks divide the ggml block (or are whole blocks) and byte sizes follow the blocks', () => {
    for (const t of WEIGHT_TYPES) {
      const bs = QUANT_FORMATS[t].blockSize;
      expect(bs % WEIGHT_CHUNK[t] === 0 || WEIGHT_CHUNK[t] % bs === 0).toBe(true);
      expect(WEIGHT_SHADERS[t]).toBe(`matvec_${t.toLowerCase()}`);
    }
    expect(weightBytes('Q4_K', 2, 512)).toBe(2 * 2 * 144);
    expect(weightBytes('Q6_K', 3, 256)).toBe(3 * 210);
    expect(padWeightBytes(new Uint8Array(34)).length).toBe(48); // room for the word after the end
    expect(padWeightBytes(new Uint8Array(32)).length).toBe(48);
  });
});

describe('references', () => {
  it('matmulRef computes Y[t, r] = Σ W[r, c]·X[t, c]', () => {
    const w = Float32Array.from([1, 2, 3, 4, 5, 6]); // 2 rows × 3 cols
    const x = Float32Array.from([1, 0, -1, 2, 2, 2]); // 2 tokens
    expect(Array.from(matmulRef(w, 2, 3, x, 2))).toEqual([-2, -2, 12, 30]);
  });

  it('getRowsRef copies rows and marks out-of-range ids with NaN', () => {
    const w = Float32Array.from([1, 2, 3, 4]);
    const out = getRowsRef(w, 2, 2, [1, 0, 2]);
    expect(Array.from(out.subarray(0, 4))).toEqual([3, 4, 1, 2]);
    expect(Number.isNaN(out[4]) && Number.isNaN(out[5])).toBe(true);
  });
});
