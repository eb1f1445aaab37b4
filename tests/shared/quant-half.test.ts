import { describe, expect, it } from 'vitest';
import {
  bf16ToF32,
  f16ToF32,
  f32BitsToBf16Bits,
  f32BitsToF16Bits,
  f32ToBf16,
  f32ToF16,
} from '../../shared/quant';
import { rng } from './quant-helpers';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => ((f32[0] = x), u32[0]);
const valueOf = (u: number) => ((u32[0] = u), f32[0]);

describe('f16', () => {
  it('decodes known bit patterns', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0400)).toBe(2 ** -14);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
  });

  it('encodes with ties to even, subnormals, overflow, inf, nan and -0', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie, 0x3c00 is even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, 0x3c02 is even
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519.99)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // tie between 65504 and 65536: even is inf
    expect(f32ToF16(1e10)).toBe(0x7c00);
    expect(f32ToF16(-1e10)).toBe(0xfc00);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal
    expect(f32ToF16(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 units: 2
    expect(f32ToF16(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the normals
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(Infinity)).toBe(0x7c00);
    expect(f32ToF16(NaN)).toBe(0x7e00);
  });

  it('rounds the exact double, not the double rounded to f32 first', () => {
    // Through f32 this would become the tie 1 + 2^-11 and round down to 0x3c00.
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -40)).toBe(0x3c01);
  });

  it('round-trips all 63488 non-NaN patterns, and midpoints go to the even neighbour', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >> 10) & 0x1f;
      if (e === 31 && (h & 0x3ff) !== 0) continue; // NaN
      if (f32ToF16(f16ToF32(h)) !== h || f32BitsToF16Bits(bitsOf(f16ToF32(h))) !== h) bad++;
      const next = h + 1;
      if ((h & 0x7fff) < 0x7bff + 1 && (h & 0x7fff) !== 0x7bff) {
        const mid = (f16ToF32(h) + f16ToF32(next)) / 2; // exact in double
        const want = h % 2 === 0 ? h : next;
        if (f32ToF16(mid) !== want || f32BitsToF16Bits(bitsOf(mid)) !== want) bad++;
      }
    }
    expect(bad).toBe(0);
  });

  it('the f32-bit encoder agrees with the exact encoder on random f32 patterns', () => {
    const r = rng(7);
    const mismatches: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const u = Math.floor(r() * 2 ** 32) >>> 0;
      const x = valueOf(u);
      if (Number.isNaN(x)) {
        expect((f32BitsToF16Bits(u) & 0x7e00) === 0x7e00).toBe(true);
        continue;
      }
      if (f32BitsToF16Bits(u) !== f32ToF16(x)) mismatches.push(u.toString(16));
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});

describe('bf16', () => {
  it('decodes and encodes known values', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc0a0)).toBe(-5);
    expect(bf16ToF32(0x7f7f)).toBe(valueOf(0x7f7f0000));
    expect(bf16ToF32(0x0001)).toBe(2 ** -133);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie to even
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie to even
    expect(f32ToBf16(2 ** -133)).toBe(0x0001);
    expect(f32ToBf16(2 ** -134)).toBe(0x0000); // tie to even (zero)
    expect(f32ToBf16(3.5e38)).toBe(0x7f80); // beyond max bf16 (~3.39e38) rounds to inf
    expect(f32ToBf16(-0)).toBe(0x8000);
    expect(f32BitsToBf16Bits(0x7f800001) & 0x7fc0).toBe(0x7fc0); // NaN stays NaN, quiet
  });

  it('the f32-bit encoder agrees with the exact encoder on random f32 patterns', () => {
    const r = rng(11);
    let bad = 0;
    for (let i = 0; i < 200_000; i++) {
      const u = Math.floor(r() * 2 ** 32) >>> 0;
      const x = valueOf(u);
      if (Number.isNaN(x)) continue;
      if (f32BitsToBf16Bits(u) !== f32ToBf16(x)) bad++;
    }
    expect(bad).toBe(0);
  });
});
