import { describe, expect, it } from 'vitest';
import { QUANT_FORMATS } from '../../shared/quant';
import { getScaleMinK4, packScaleMinK4 } from '../../shared/quant/q4_k';
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
