import { describe, expect, it } from 'vitest';
import { PxiError } from '../../shared/errors';
import { GGML_TYPES } from '../../shared/gguf/ggml-types';
import {
  getQuantFormat,
  QUANT_FORMATS,
  QUANT_TYPE_NAMES,
  quantByteSize,
  QuantError,
  type QuantTypeName,
} from '../../shared/quant';
import { uniform, weightLike } from './quant-helpers';

// Block geometry from ggml-common.h (the static_asserts on each block_* struct).
const GGML_GEOMETRY: Record<QuantTypeName, [number, number]> = {
  F32: [1, 4],
  F16: [1, 2],
  BF16: [1, 2],
  Q8_0: [32, 34],
  Q4_0: [32, 18],
  Q4_1: [32, 20],
  Q5_0: [32, 22],
  Q5_1: [32, 24],
  Q2_K: [256, 84],
  Q3_K: [256, 110],
  Q4_K: [256, 144],
  Q5_K: [256, 176],
  Q6_K: [256, 210],
  IQ4_NL: [32, 18],
  IQ4_XS: [256, 136],
};

function errors(x: Float32Array, y: Float32Array, block: number) {
  let se = 0;
  let ss = 0;
  let worstBlockRel = 0;
  for (let b0 = 0; b0 < x.length; b0 += block) {
    let amax = 0;
    let emax = 0;
    for (let i = b0; i < b0 + block; i++) {
      const e = Math.abs(x[i] - y[i]);
      se += e * e;
      ss += x[i] * x[i];
      amax = Math.max(amax, Math.abs(x[i]));
      emax = Math.max(emax, e);
    }
    if (amax > 0) worstBlockRel = Math.max(worstBlockRel, emax / amax);
  }
  return { nrmse: Math.sqrt(se / ss), worstBlockRel };
}

describe('registry', () => {
  it('has the fifteen engine types with ggml block geometry', () => {
    expect([...QUANT_TYPE_NAMES].sort()).toEqual(Object.keys(GGML_GEOMETRY).sort());
    expect(QUANT_TYPE_NAMES).toHaveLength(15);
    for (const name of QUANT_TYPE_NAMES) {
      const f = getQuantFormat(name);
      expect(f.name).toBe(name);
      expect([f.blockSize, f.bytesPerBlock]).toEqual(GGML_GEOMETRY[name]);
      expect(quantByteSize(name, 4 * 256)).toBe(((4 * 256) / f.blockSize) * f.bytesPerBlock);
    }
  });

  it('agrees with the GGUF reader\'s ggml type table (shared/gguf/ggml-types.ts)', () => {
    for (const name of QUANT_TYPE_NAMES) {
      const t = GGML_TYPES.find((g) => g.name === name);
      expect(t, name).toBeDefined();
      expect([t!.blockSize, t!.blockBytes]).toEqual([QUANT_FORMATS[name].blockSize, QUANT_FORMATS[name].bytesPerBlock]);
    }
  });

  it('rejects types the engine does not run', () => {
    expect(() => getQuantFormat('IQ3_S')).toThrow(QuantError);
    expect(() => getQuantFormat('Q8_K')).toThrow(QuantError);
    expect(() => getQuantFormat('IQ2_XS')).toThrow(PxiError);
    expect(() => getQuantFormat('toString')).toThrow(expect.objectContaining({ code: 'QUANT_TYPE' }));
  });
});

describe.each(QUANT_TYPE_NAMES)('%s lengths', (name) => {
  const f = QUANT_FORMATS[name];

  it('quantises whole blocks to whole blocks of bytes', () => {
    for (const blocks of [1, 3]) {
      const n = blocks * f.blockSize;
      expect(f.quantize(uniform(n, 5)).length).toBe(blocks * f.bytesPerBlock);
      expect(f.dequantize(f.quantize(uniform(n, 5)), n).length).toBe(n);
    }
  });

  it('rejects too few bytes with QUANT_BYTES', () => {
    const bytes = new Uint8Array(2 * f.bytesPerBlock - 1);
    expect(() => f.dequantize(bytes, 2 * f.blockSize)).toThrow(expect.objectContaining({ code: 'QUANT_BYTES' }));
  });
});

const BLOCK_TYPES = QUANT_TYPE_NAMES.filter((n) => QUANT_FORMATS[n].blockSize > 1);

describe('block formats refuse partial blocks', () => {
  it.each(BLOCK_TYPES)('%s: QUANT_LENGTH for blockSize + 1 and − 1', (name) => {
    const f = QUANT_FORMATS[name];
    for (const n of [f.blockSize + 1, f.blockSize - 1]) {
      expect(() => f.quantize(new Float32Array(n))).toThrow(expect.objectContaining({ code: 'QUANT_LENGTH' }));
      expect(() => f.dequantize(new Uint8Array(2 * f.bytesPerBlock), n)).toThrow(
        expect.objectContaining({ code: 'QUANT_LENGTH' }),
      );
      expect(() => quantByteSize(name, n)).toThrow(QuantError);
    }
  });
});

describe('block formats refuse non-finite values', () => {
  it.each(BLOCK_TYPES)('%s', (name) => {
    const x = new Float32Array(256);
    x[77] = NaN;
    expect(() => QUANT_FORMATS[name].quantize(x)).toThrow(expect.objectContaining({ code: 'QUANT_VALUE' }));
    x[77] = -Infinity;
    expect(() => QUANT_FORMATS[name].quantize(x)).toThrow(QuantError);
  });
});

// Round-trip bounds, per type, on two data sets of 64 super-blocks each: uniform in [-1, 1) and
// weight-like (near-normal with 0.5% outliers at 8x). nrmse = ||x − y|| / ||x||.
// worstBlockRel = max over blocks of max|x − y| / max|x| (blocks of 32 for Q*_0, 256 for K).
// Derived bounds: F16 / BF16 half an ulp relative; Q8_0 d/2 = amax/254 (d is f16-rounded, then
// used for quantising, so no clipping); Q4_0 d = amax/8 (the top value 7d is one step under
// +amax); Q5_0 d = amax/16 likewise; Q4_1 / Q5_1 d/2 = range/30, range/62 ≤ amax/15, amax/31
// (m and d are f16-rounded before quantising). K-quant and IQ4 bounds are measured (worst of
// the two data sets: Q4_K 0.104, Q6_K 0.028, Q2_K 0.28 / 0.44, Q3_K 0.171 / 0.250, Q5_K 0.041 /
// 0.061, IQ4_NL 0.092 / 0.136, IQ4_XS 0.093 / 0.132) plus ~10-15% headroom; our quantisers
// are round-to-nearest with a small scale search, not ggml's importance-weighted ones.
const BOUNDS: Record<QuantTypeName, { nrmse: number; blockRel: number }> = {
  F32: { nrmse: 0, blockRel: 0 },
  F16: { nrmse: 2.5e-4, blockRel: 2 ** -11 },
  BF16: { nrmse: 2e-3, blockRel: 2 ** -8 },
  Q8_0: { nrmse: 8e-3, blockRel: (1 / 254) * (1 + 2 ** -10) },
  Q4_0: { nrmse: 0.13, blockRel: (1 / 8) * (1 + 2 ** -10) },
  Q4_1: { nrmse: 0.1, blockRel: (1 / 15) * (1 + 2 ** -9) },
  Q5_0: { nrmse: 0.065, blockRel: (1 / 16) * (1 + 2 ** -10) },
  Q5_1: { nrmse: 0.05, blockRel: (1 / 31) * (1 + 2 ** -9) },
  Q2_K: { nrmse: 0.32, blockRel: 0.5 },
  Q3_K: { nrmse: 0.19, blockRel: 0.28 },
  Q4_K: { nrmse: 0.09, blockRel: 0.12 },
  Q5_K: { nrmse: 0.046, blockRel: 0.07 },
  Q6_K: { nrmse: 0.025, blockRel: 0.032 },
  IQ4_NL: { nrmse: 0.105, blockRel: 0.155 },
  IQ4_XS: { nrmse: 0.105, blockRel: 0.15 },
};

describe.each(QUANT_TYPE_NAMES)('%s round trip', (name) => {
  const f = QUANT_FORMATS[name];
  const n = 64 * 256;

  it.each([
    ['uniform', uniform(n, 101)],
    ['weight-like', weightLike(n, 202)],
  ] as const)('on %s data stays within the bounds', (_label, x) => {
    const y = f.dequantize(f.quantize(x), n);
    const { nrmse, worstBlockRel } = errors(x, y, Math.max(f.blockSize, 32));
    expect(nrmse).toBeLessThanOrEqual(BOUNDS[name].nrmse);
    expect(worstBlockRel).toBeLessThanOrEqual(BOUNDS[name].blockRel);
  });

  it('handles zero, constant, spike, tiny and large blocks', () => {
    const bs = Math.max(f.blockSize, 32);
    const cases: [string, (i: number) => number][] = [
      ['zero', () => 0],
      ['constant +0.3', () => 0.3],
      ['constant −0.3', () => -0.3],
      ['spike', (i) => (i === 5 ? 4 : 0)],
      ['large', (i) => ((i % 7) - 3) * 1000],
    ];
    for (const [label, g] of cases) {
      const x = Float32Array.from({ length: bs }, (_, i) => g(i));
      const y = f.dequantize(f.quantize(x), bs);
      const amax = Math.max(...x.map(Math.abs));
      for (let i = 0; i < bs; i++) {
        const err = Math.abs(x[i] - y[i]);
        if (err > BOUNDS[name].blockRel * amax) throw new Error(`${label}: element ${i} = ${y[i]}, want ${x[i]}`);
      }
    }
    // Below f16's smallest subnormal the block scale underflows to zero, as in ggml: values
    // come back as zero (never NaN).
    const tiny = f.dequantize(f.quantize(new Float32Array(bs).fill(1e-9)), bs);
    for (const v of tiny) expect(Math.abs(v)).toBeLessThanOrEqual(1e-9);
  });
});

describe('quantiser quality', () => {
  it('orders Q2_K > Q3_K > Q4_0 > Q4_K > Q5_K > Q6_K > Q8_0 in error on weight-like data', () => {
    const x = weightLike(32 * 256, 9);
    const e = (name: QuantTypeName) => errors(x, QUANT_FORMATS[name].dequantize(QUANT_FORMATS[name].quantize(x), x.length), 256).nrmse;
    expect(e('Q3_K')).toBeLessThan(e('Q2_K'));
    expect(e('Q4_0')).toBeLessThan(e('Q3_K'));
    expect(e('Q4_K')).toBeLessThan(e('Q4_0'));
    expect(e('Q5_K')).toBeLessThan(e('Q4_K'));
    expect(e('Q6_K')).toBeLessThan(e('Q5_K'));
    expect(e('Q8_0')).toBeLessThan(e('Q6_K'));
  });

  it('an offset or a fifth bit helps: Q4_1 < Q4_0, Q5_0 < Q4_0, Q5_1 < Q5_0; the IQ4 grid beats Q4_0', () => {
    const x = weightLike(32 * 256, 10);
    const e = (name: QuantTypeName) => errors(x, QUANT_FORMATS[name].dequantize(QUANT_FORMATS[name].quantize(x), x.length), 256).nrmse;
    expect(e('Q4_1')).toBeLessThan(e('Q4_0'));
    expect(e('Q5_0')).toBeLessThan(e('Q4_0'));
    expect(e('Q5_1')).toBeLessThan(e('Q5_0'));
    expect(e('IQ4_NL')).toBeLessThan(e('Q4_0'));
    expect(e('IQ4_XS')).toBeLessThan(e('Q4_0'));
  });

  it('re-quantising a Q8_0 / Q4_0 decode reproduces it exactly (the stored grid is a fixed point)', () => {
    for (const name of ['Q8_0', 'Q4_0'] as const) {
      const f = QUANT_FORMATS[name];
      const y1 = f.dequantize(f.quantize(weightLike(4096, 3)), 4096);
      const y2 = f.dequantize(f.quantize(y1), 4096);
      expect(Array.from(y2)).toEqual(Array.from(y1));
    }
  });
});

describe('dequantize on views of a larger buffer', () => {
  it('F32 reads exactly the viewed bytes, whatever the view offset (Node Buffer.slice is a view)', async () => {
    const { getQuantFormat } = await import('../../shared/quant');
    const pool = new Uint8Array(64);
    const values = new Float32Array([1.5, -2.25, 3.125]);
    pool.set(new Uint8Array(values.buffer), 13);
    const view = pool.subarray(13, 13 + 12);
    // A view whose slice() does not copy, like Node's Buffer.
    const bufferLike = Object.assign(view, { slice: (a?: number, b?: number) => view.subarray(a, b) });
    expect([...getQuantFormat('F32').dequantize(bufferLike, 3)]).toEqual([1.5, -2.25, 3.125]);
  });
});
