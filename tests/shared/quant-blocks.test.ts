import { describe, expect, it } from 'vitest';
import { QUANT_FORMATS } from '../../shared/quant';
import { getScaleMinK4, packScaleMinK4 } from '../../shared/quant/q4_k';
import { q3kScale } from '../../shared/quant/q3_k';
import { IQ4_KVALUES, nearestCode } from '../../shared/quant/iq4_nl';
import { rng } from './quant-helpers';

// Hand-built blocks. The expected values are worked out by hand from the ggml format
// definitions (ggml-common.h / dequantize_row_* in ggml-quants.c), not by running our decoder.

describe('Q8_0 block', () => {
  it('decodes d · int8', () => {
    const b = new Uint8Array(34);
    b[0] = 0x00;
    b[1] = 0x38; // d = f16 0x3800 = 0.5
    const q = [0, 1, -1, 127, -128, 2, -3];
    q.forEach((v, j) => (b[2 + j] = v & 0xff));
    const y = QUANT_FORMATS.Q8_0.dequantize(b, 32);
    expect(Array.from(y.subarray(0, 8))).toEqual([0, 0.5, -0.5, 63.5, -64, 1, -1.5, 0]);
  });
});

describe('Q4_0 block', () => {
  it('decodes d · (nibble − 8); low nibbles are elements 0..15, high nibbles 16..31', () => {
    const b = new Uint8Array(18);
    b[1] = 0x40; // d = 2.0
    for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
    const y = QUANT_FORMATS.Q4_0.dequantize(b, 32);
    expect(y[0]).toBe(-16); // (0 − 8)·2
    expect(y[8]).toBe(0);
    expect(y[15]).toBe(14); // (15 − 8)·2
    expect(y[16]).toBe(14); // high nibble of byte 0 = 15
    expect(y[31]).toBe(-16); // high nibble of byte 15 = 0
    expect(y[20]).toBe(6); // byte 4: high nibble 11 → (11 − 8)·2
  });
});

describe('Q4_K block', () => {
  // sc = [1, 2, 3, 4, 33, 40, 63, 17], m = [0, 1, 2, 3, 50, 20, 63, 5], packed by hand:
  //  bytes 0..3: sc[j] | (sc[j+4] >> 4) << 6   → 0x81 0x82 0xC3 0x44
  //  bytes 4..7: m[j]  | (m[j+4] >> 4) << 6    → 0xC0 0x41 0xC2 0x03
  //  bytes 8..11: sc[j+4] & 15 | (m[j+4] & 15) << 4 → 0x21 0x48 0xFF 0x51
  const packed = [0x81, 0x82, 0xc3, 0x44, 0xc0, 0x41, 0xc2, 0x03, 0x21, 0x48, 0xff, 0x51];
  const sc = [1, 2, 3, 4, 33, 40, 63, 17];
  const m = [0, 1, 2, 3, 50, 20, 63, 5];

  it('unpacks the 6-bit scales and mins as get_scale_min_k4', () => {
    const s = Uint8Array.from(packed);
    for (let j = 0; j < 8; j++) expect(getScaleMinK4(j, s, 0)).toEqual([sc[j], m[j]]);
  });

  it('packScaleMinK4 is the inverse of get_scale_min_k4 over random 6-bit values', () => {
    const r = rng(3);
    const out = new Uint8Array(14);
    for (let t = 0; t < 500; t++) {
      const s = Array.from({ length: 8 }, () => Math.floor(r() * 64));
      const mm = Array.from({ length: 8 }, () => Math.floor(r() * 64));
      packScaleMinK4(s, mm, out, 1);
      for (let j = 0; j < 8; j++) expect(getScaleMinK4(j, out, 1)).toEqual([s[j], mm[j]]);
    }
    packScaleMinK4(sc, m, out, 0);
    expect(Array.from(out.subarray(0, 12))).toEqual(packed);
  });

  it('decodes d·sc·q − dmin·m per 32-value sub-block', () => {
    const b = new Uint8Array(144);
    b[1] = 0x3c; // d = 1.0
    b[3] = 0x38; // dmin = 0.5
    b.set(packed, 4);
    // qs byte i = i & 0xff: chunk c byte l has low nibble l & 15 and high nibble 2c + (l >> 4).
    for (let i = 0; i < 128; i++) b[16 + i] = i;
    const y = QUANT_FORMATS.Q4_K.dequantize(b, 256);
    expect(y[0]).toBe(0); // c0 low, l=0: 1·1·0 − 0.5·0
    expect(y[5]).toBe(5); // 1·1·5 − 0
    expect(y[49]).toBe(1.5); // c0 high, l=17: q = 1, 2·1 − 0.5·1
    expect(y[71]).toBe(20); // c1 low (sub-block 2), l=7: byte 39 → q 7; 3·7 − 0.5·2
    expect(y[116]).toBe(10.5); // c1 high (sub-block 3), l=20: byte 52 → q 3; 4·3 − 0.5·3
    expect(y[138]).toBe(305); // c2 low (sub-block 4), l=10: byte 74 → q 10; 33·10 − 0.5·50
    expect(y[160]).toBe(150); // c2 high (sub-block 5), l=0: byte 64 → q 4; 40·4 − 0.5·20
    expect(y[195]).toBe(157.5); // c3 low (sub-block 6), l=3: byte 99 → q 3; 63·3 − 0.5·63
    expect(y[255]).toBe(116.5); // c3 high (sub-block 7), l=31: byte 127 → q 7; 17·7 − 0.5·5
  });
});

describe('Q6_K block', () => {
  it('decodes d·scale·(ql | qh << 4 − 32) with the ql/qh interleave', () => {
    const b = new Uint8Array(210);
    const scales = [1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 127, -128];
    scales.forEach((s, j) => (b[192 + j] = s & 0xff));
    b[208] = 0x00;
    b[209] = 0x34; // d = 0.25
    // With ql = qh = 0 every q is −32; a few bytes are set by hand:
    b[0] = 0x3a; // ql[0]: low 0xA → element 0, high 3 → element 64
    b[128] = 0xe4; // qh[0] = 0b11_10_01_00: element 0 gets 0, 32 gets 1, 64 gets 2, 96 gets 3
    b[64 + 20] = 0x0f; // second half, ql[20]: low 0xF → element 148
    b[128 + 32 + 20] = 0x03; // second half, qh[20]: bits 0-1 = 3 → element 148
    const y = QUANT_FORMATS.Q6_K.dequantize(b, 256);
    expect(y[0]).toBe(-5.5); // q = 10 − 32 = −22, scale[0] = 1: 0.25·1·(−22)
    expect(y[32]).toBe(-8); // q = (0 | 1 << 4) − 32 = −16, scale[2] = 2
    expect(y[64]).toBe(2.25); // q = (3 | 2 << 4) − 32 = 3, scale[4] = 3
    expect(y[96]).toBe(16); // q = (0 | 3 << 4) − 32 = 16, scale[6] = 4
    expect(y[1]).toBe(-8); // untouched: q = −32, scale[0] = 1
    expect(y[16]).toBe(8); // untouched, scale[1] = −1
    expect(y[148]).toBe(-38.75); // q = (15 | 3 << 4) − 32 = 31, scale[9] = −5
    expect(y[212]).toBe(56); // q = −32, scale[13] = −7
    expect(y[224]).toBe(-1016); // q = −32, scale[14] = 127
    expect(y[240]).toBe(1024); // q = −32, scale[15] = −128
  });
});

describe('Q4_1 block', () => {
  it('decodes d · nibble + m; low nibbles are elements 0..15, high nibbles 16..31', () => {
    const b = new Uint8Array(20);
    b[1] = 0x38; // d = 0.5
    b[3] = 0xc0; // m = −2
    for (let j = 0; j < 16; j++) b[4 + j] = j | ((15 - j) << 4);
    const y = QUANT_FORMATS.Q4_1.dequantize(b, 32);
    expect(y[0]).toBe(-2); // 0.5·0 − 2
    expect(y[15]).toBe(5.5); // 0.5·15 − 2
    expect(y[16]).toBe(5.5); // high nibble of byte 0 = 15
    expect(y[31]).toBe(-2);
    expect(y[20]).toBe(3.5); // byte 4: high nibble 11
  });
});

describe('Q5_0 block', () => {
  it('decodes d · ((nibble | qh bit << 4) − 16); qh bit i belongs to element i', () => {
    const b = new Uint8Array(22);
    b[1] = 0x34; // d = 0.25
    b.set([0x01, 0x00, 0x00, 0x80], 2); // qh = 0x80000001: elements 0 and 31
    b[6] = 0x3a; // element 0 low 0xA, element 16 high 3
    b[6 + 15] = 0xf0; // element 15 low 0, element 31 high 15
    const y = QUANT_FORMATS.Q5_0.dequantize(b, 32);
    expect(y[0]).toBe(2.5); // (10 | 16) − 16 = 10
    expect(y[16]).toBe(-3.25); // 3 − 16
    expect(y[15]).toBe(-4); // 0 − 16
    expect(y[31]).toBe(3.75); // (15 | 16) − 16 = 15
    expect(y[1]).toBe(-4);
  });
});

describe('Q5_1 block', () => {
  it('decodes d · (nibble | qh bit << 4) + m', () => {
    const b = new Uint8Array(24);
    b[1] = 0x38; // d = 0.5
    b[3] = 0x3c; // m = 1
    b.set([0x02, 0x00, 0x01, 0x00], 4); // qh = 0x00010002: elements 1 and 16
    b[8] = 0xf0; // element 0 low 0, element 16 high 15
    b[9] = 0x07; // element 1 low 7, element 17 high 0
    const y = QUANT_FORMATS.Q5_1.dequantize(b, 32);
    expect(y[0]).toBe(1); // 0.5·0 + 1
    expect(y[16]).toBe(16.5); // 0.5·31 + 1
    expect(y[1]).toBe(12.5); // 0.5·23 + 1
    expect(y[17]).toBe(1);
  });
});

describe('IQ4_NL block', () => {
  it('decodes d · KVALUES[code] with the Q4_0 nibble order', () => {
    expect(IQ4_KVALUES).toEqual([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);
    const b = new Uint8Array(18);
    b[1] = 0x38; // d = 0.5
    b[2] = 0xf0; // element 0 code 0, element 16 code 15
    b[2 + 3] = 0x78; // element 3 code 8, element 19 code 7
    const y = QUANT_FORMATS.IQ4_NL.dequantize(b, 32);
    expect(y[0]).toBe(-63.5);
    expect(y[16]).toBe(56.5);
    expect(y[3]).toBe(0.5);
    expect(y[19]).toBe(-5);
    expect(y[31]).toBe(-63.5);
  });

  it('nearestCode picks the closest grid value (ties to the lower code)', () => {
    expect(nearestCode(-500)).toBe(0);
    expect(nearestCode(500)).toBe(15);
    expect(nearestCode(1)).toBe(8);
    expect(nearestCode(-4.5)).toBe(7); // −10 and 1 are 5.5 away: equal, lower code
    expect(nearestCode(-4)).toBe(8);
    expect(nearestCode(100)).toBe(14); // 89 is 11 away, 113 is 13
  });
});

describe('IQ4_XS block', () => {
  it('decodes d · (ls − 32) · KVALUES[code] per 32-value sub-block', () => {
    // ls: sub-block 0 = 33, 1 = 31, 6 = 0, 7 = 63, others 32. Low nibbles in scales_l (byte j/2,
    // nibble j%2): 0xF1 0x00 0x00 0xF0; high 2-bit pairs in scales_h: 2,1,2,2,2,2,0,3 → 0xCAA6.
    const b = new Uint8Array(136);
    b[1] = 0x34; // d = 0.25
    b[2] = 0xa6;
    b[3] = 0xca;
    b.set([0xf1, 0x00, 0x00, 0xf0], 4);
    b[8] = 0x9f; // sub-block 0: element 0 code 15, element 16 code 9
    b[8 + 112 + 15] = 0x88; // sub-block 7, byte 15: elements 239 and 255 code 8
    const y = QUANT_FORMATS.IQ4_XS.dequantize(b, 256);
    expect(y[0]).toBe(28.25); // 0.25·1·113
    expect(y[16]).toBe(3.25); // 0.25·1·13
    expect(y[1]).toBe(-31.75); // 0.25·1·(−127)
    expect(y[32]).toBe(31.75); // 0.25·(−1)·(−127)
    expect(y[200]).toBe(1016); // 0.25·(−32)·(−127)
    expect(y[224]).toBe(-984.25); // 0.25·31·(−127)
    expect(y[239]).toBe(7.75); // 0.25·31·1
    expect(y[255]).toBe(7.75);
    expect(y[100] === 0).toBe(true); // ls = 32: scale 0
  });
});

describe('Q5_K block', () => {
  // The Q4_K test's scales and mins: sc = [1, 2, 3, 4, 33, 40, 63, 17], m = [0, 1, 2, 3, 50, 20, 63, 5].
  const packed = [0x81, 0x82, 0xc3, 0x44, 0xc0, 0x41, 0xc2, 0x03, 0x21, 0x48, 0xff, 0x51];

  it('decodes d·sc·(nibble | qh bit << 4) − dmin·m; qh[l] bit 2c / 2c+1 extends chunk c low / high', () => {
    const b = new Uint8Array(176);
    b[1] = 0x3c; // d = 1
    b[3] = 0x38; // dmin = 0.5
    b.set(packed, 4);
    b[16 + 0] = 0x01; // qh[0] bit 0: sub-block 0, value 0
    b[16 + 5] = 0x04; // qh[5] bit 2: sub-block 2, value 5
    b[16 + 17] = 0x80; // qh[17] bit 7: sub-block 7, value 17
    for (let i = 0; i < 128; i++) b[48 + i] = i; // chunk c byte l: low l & 15, high 2c + (l >> 4)
    const y = QUANT_FORMATS.Q5_K.dequantize(b, 256);
    expect(y[0]).toBe(16); // q = 0 | 16: 1·16 − 0
    expect(y[5]).toBe(5);
    expect(y[49]).toBe(1.5); // sub-block 1, l = 17: q = 1; 2·1 − 0.5·1
    expect(y[69]).toBe(62); // sub-block 2, l = 5: q = 5 | 16 = 21; 3·21 − 0.5·2
    expect(y[138]).toBe(305); // sub-block 4, l = 10: q = 10; 33·10 − 0.5·50
    expect(y[241]).toBe(388.5); // sub-block 7, l = 17: q = 7 | 16 = 23; 17·23 − 0.5·5
    expect(y[255]).toBe(116.5); // sub-block 7, l = 31: q = 7; 17·7 − 2.5
  });
});

describe('Q3_K block', () => {
  // Scales (stored +32): s0 = 33, s1 = 31, s2 = 34, s4 = 36, s5 = 63, s8 = 40, s15 = 0, others
  // 32. Low nibbles: bytes 0..7 hold s0..s7 (low) and s8..s15 (high nibble); high 2-bit pairs:
  // byte 8 + t holds s_t, s_t+4, s_t+8, s_t+12 in bits 0-1, 2-3, 4-5, 6-7.
  const scaleBytes = [0x81, 0x0f, 0x02, 0x00, 0x04, 0x0f, 0x00, 0x00, 0xaa, 0xad, 0xaa, 0x2a];
  const scales = [33, 31, 34, 32, 36, 63, 32, 32, 40, 32, 32, 32, 32, 32, 32, 0];

  it('unpacks the sixteen 6-bit scales', () => {
    const s = Uint8Array.from(scaleBytes);
    expect(Array.from({ length: 16 }, (_, i) => q3kScale(s, 0, i))).toEqual(scales);
  });

  it('decodes d·(scale − 32)·(low 2 bits + 4·hmask bit − 4)', () => {
    const b = new Uint8Array(110);
    b.set(scaleBytes, 96);
    b[109] = 0x38; // d = 0.5
    b[32] = 0xe4; // qs[0]: shifts j = 0..3 give 0, 1, 2, 3 for r = 0 of half 0
    b[64] = 0x03; // qs[32]: j = 0 gives 3 for r = 0 of half 1
    b[0] = 0x15; // hmask[0]: bits 0 (n0 j0), 2 (n0 j2), 4 (n1 j0)
    const y = QUANT_FORMATS.Q3_K.dequantize(b, 256);
    expect(y[0]).toBe(0); // q = 0 + 4 − 4 = 0
    expect(y[1]).toBe(-2); // q = −4, s0: 0.5·1·(−4)
    expect(y[17]).toBe(2); // s1 = −1
    expect(y[32]).toBe(-3); // j = 1: q = 1 − 4 = −3, s2 = +2
    expect(y[64]).toBe(4); // j = 2: q = 2 + 4 − 4 = 2, s4 = +4
    expect(y[80]).toBe(-62); // s5 = +31, q = −4
    expect(y[128]).toBe(12); // half 1, j = 0: q = 3, s8 = +8
    expect(y[130]).toBe(-16); // q = −4, s8
    expect(y[255]).toBe(64); // s15 = −32, q = −4
  });
});

describe('Q2_K block', () => {
  it('decodes d·sc·q − dmin·m with 2-bit quants in the Q3_K order', () => {
    const b = new Uint8Array(84);
    b[0] = 0x21; // s0: sc 1, m 2
    b[1] = 0x03; // s1: sc 3, m 0
    b[2] = 0x12; // s2: sc 2, m 1
    b[8] = 0xf2; // s8: sc 2, m 15
    b[15] = 0x1f; // s15: sc 15, m 1
    b[16] = 0xe4; // qs[0]: j = 0..3 → 0, 1, 2, 3
    b[16 + 49] = 0xc0; // qs[49] (half 1, r = 17): j = 3 → 3
    b[81] = 0x38; // d = 0.5
    b[83] = 0x34; // dmin = 0.25
    const y = QUANT_FORMATS.Q2_K.dequantize(b, 256);
    expect(y[0]).toBe(-0.5); // 0.5·1·0 − 0.25·2
    expect(y[1]).toBe(-0.5);
    expect(y[32]).toBe(0.75); // j = 1, s2: 0.5·2·1 − 0.25·1
    expect(y[128]).toBe(-3.75); // half 1, s8: 0 − 0.25·15
    expect(y[240]).toBe(-0.25); // s15, q = 0
    expect(y[241]).toBe(22.25); // s15, q = 3: 0.5·15·3 − 0.25
  });
});

describe('F16 / BF16 / F32 storage', () => {
  it('reads little-endian elements', () => {
    const f16 = Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]);
    expect(Array.from(QUANT_FORMATS.F16.dequantize(f16, 3))).toEqual([1, -2, 2 ** -24]);
    const bf16 = Uint8Array.from([0x80, 0x3f, 0xa0, 0xc0]);
    expect(Array.from(QUANT_FORMATS.BF16.dequantize(bf16, 2))).toEqual([1, -5]);
    // An unaligned view of f32 data still decodes.
    const raw = Uint8Array.from([9, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc1]);
    expect(Array.from(QUANT_FORMATS.F32.dequantize(raw.subarray(1), 2))).toEqual([1, -10]);
  });
});
