/**
 * Tensor data, made chunk by chunk so no model is ever whole in memory.
 *
 * Two methods:
 * - `quantize`: draw approximately normal values (Xoshiro128.fillNormal) and encode them with the
 *   project's quantisers (shared/quant). An F32 file and a Q4_K file of the same seed then hold the
 *   same model, one quantised. Quantising is slow (a few MB/s of weights for the K-quants), so this
 *   is for small models.
 * - `direct`: for block types, write valid ggml blocks straight from random bits: the quants are
 *   uniform random nibbles/bytes, and each block's scales are set so the decoded values have the
 *   tensor's standard deviation and mean zero (random signs cancel the −0.5 offset of the signed
 *   formats; Q4_K's mins equal its scales with dmin = 7.5·d, which centres every sub-block). The
 *   values are uniform within a block rather than normal, which a random model does not mind.
 *   Float types are the same under both methods.
 *
 * The byte stream of a tensor does not depend on how it is chunked: chunks are whole rows, and a
 * multiple of 4 rows (so of 4 bytes) except the last, so every chunk starts on a fresh draw.
 */
import { QUANT_FORMATS } from '../quant';
import { f32ToF16 } from '../quant/half';
import { IQ4_KVALUES } from '../quant/iq4_nl';
import { packScaleMinK4 } from '../quant/q4_k';
import { ModelGenError } from './errors';
import { Xoshiro128 } from './prng';
import { elementCount, tensorBytes, type GenTensor } from './tensors';

export type GenMethod = 'quantize' | 'direct';

/** Default chunk size in bytes of output. */
export const DEFAULT_CHUNK_BYTES = 8 << 20;

/** Per-block scale jitter: each block's scale is multiplied by f, uniform in [0.8, 1.2]. */
const JITTER_LO = 0.8;
const JITTER_SPAN = 0.4;
const JITTER_RMS = Math.sqrt(1 + (JITTER_SPAN * JITTER_SPAN) / 12);
/** Standard deviation of a uniform integer over n consecutive values. */
const uniformStd = (n: number): number => Math.sqrt((n * n - 1) / 12);
/** RMS of the IQ4 grid over a uniform code (signed scales cancel its mean). */
const IQ4_RMS = Math.sqrt(IQ4_KVALUES.reduce((a, v) => a + v * v, 0) / 16);
/** RMS of a magnitude uniform over lo..hi (integers). */
const uniformRms = (lo: number, hi: number): number => {
  const mean = (lo + hi) / 2;
  return Math.sqrt(mean * mean + uniformStd(hi - lo + 1) ** 2);
};

export interface TensorChunks {
  readonly tensor: GenTensor;
  readonly byteSize: number;
  /** The next chunk of whole rows, or undefined when the tensor is done. */
  next(): Uint8Array | undefined;
}

/** Chunks of `t`'s data under `seed`, about `chunkBytes` each. */
export function tensorChunks(t: GenTensor, seed: number, method: GenMethod, chunkBytes = DEFAULT_CHUNK_BYTES): TensorChunks {
  const rng = Xoshiro128.forTensor(seed, t.name);
  const rowLen = t.dims[0]!;
  const rows = elementCount(t) / rowLen;
  const byteSize = tensorBytes(t);
  const rowBytes = byteSize / rows;
  // Quantising reads floats (4 bytes per value) besides writing blocks: bound the floats too.
  const perRow = method === 'quantize' ? Math.max(rowBytes, rowLen * 4) : rowBytes;
  const rowsPerChunk = Math.max(4, Math.floor(chunkBytes / perRow / 4) * 4);
  const direct = method === 'direct' && t.type !== 'F32' && t.type !== 'F16' && t.type !== 'BF16';
  let row = 0;
  return {
    tensor: t,
    byteSize,
    next() {
      if (row >= rows) return undefined;
      const n = Math.min(rowsPerChunk, rows - row);
      row += n;
      // Fixed contents (rope_freqs) are written as they are.
      if (t.values) return QUANT_FORMATS[t.type].quantize(t.values.subarray((row - n) * rowLen, row * rowLen));
      if (direct) return synthBlocks(t, rng, n * rowBytes);
      const values = new Float32Array(n * rowLen);
      rng.fillNormal(values, t.std, t.mean);
      return QUANT_FORMATS[t.type].quantize(values);
    },
  };
}

/** Random words for `bytes` bytes (rounded up to whole words), viewed as bytes. */
function randomBytes(rng: Xoshiro128, bytes: number): Uint8Array<ArrayBuffer> {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  rng.fillU32(words);
  return new Uint8Array(words.buffer, 0, bytes);
}

/** A block scale with jitter and, where `signed`, a random sign, from 16 random bits. */
function jitteredScale(base: number, bits16: number, signed: boolean): number {
  const f = JITTER_LO + JITTER_SPAN * ((bits16 & 0x7fff) / 0x8000);
  return signed && bits16 & 0x8000 ? -base * f : base * f;
}

function writeF16(out: Uint8Array, o: number, v: number): void {
  const h = f32ToF16(v);
  out[o] = h & 0xff;
  out[o + 1] = h >>> 8;
}

/**
 * `bytes` bytes of valid blocks of t's type: every byte random, then each block's scale fields
 * rewritten from the random bits they held (so one stream of draws makes the whole block).
 */
function synthBlocks(t: GenTensor, rng: Xoshiro128, bytes: number): Uint8Array {
  const out = randomBytes(rng, bytes);
  const sigma = t.std;
  switch (t.type) {
    case 'Q8_0': {
      // value = d·q, q uniform over int8: mean −0.5 (cancelled by the sign of d), std 73.9.
      const base = sigma / (uniformStd(256) * JITTER_RMS);
      for (let o = 0; o < bytes; o += 34) writeF16(out, o, jitteredScale(base, out[o]! | (out[o + 1]! << 8), true));
      return out;
    }
    case 'Q4_0': {
      // value = d·(q − 8), q uniform 0..15.
      const base = sigma / (uniformStd(16) * JITTER_RMS);
      for (let o = 0; o < bytes; o += 18) writeF16(out, o, jitteredScale(base, out[o]! | (out[o + 1]! << 8), true));
      return out;
    }
    case 'Q4_K': {
      // value = d·sc·q − dmin·m with sc = m uniform 32..63 and dmin = 7.5·d: d·sc·(q − 7.5).
      const scRms = Math.sqrt(47.5 * 47.5 + (32 * 32 - 1) / 12);
      const base = sigma / (uniformStd(16) * scRms * JITTER_RMS);
      const sc = new Uint8Array(8);
      for (let o = 0; o < bytes; o += 144) {
        const d = Math.abs(jitteredScale(base, out[o]! | (out[o + 1]! << 8), false));
        const dh = f32ToF16(d);
        const mh = f32ToF16(d * 7.5);
        // Eight 5-bit draws from bytes 4..11 (before they are overwritten by the packing).
        for (let j = 0; j < 8; j++) sc[j] = 32 + (out[o + 4 + j]! & 31);
        packScaleMinK4(sc, sc, out, o + 4);
        out[o] = dh & 0xff;
        out[o + 1] = dh >>> 8;
        out[o + 2] = mh & 0xff;
        out[o + 3] = mh >>> 8;
      }
      return out;
    }
    case 'Q4_1':
    case 'Q5_1': {
      // value = d·q + m, q uniform 0..nmax, m = −d·nmax/2: centred.
      const [bytesPer, levels] = t.type === 'Q4_1' ? [20, 16] : [24, 32];
      const base = sigma / (uniformStd(levels) * JITTER_RMS);
      for (let o = 0; o < bytes; o += bytesPer) {
        const d = Math.abs(jitteredScale(base, out[o]! | (out[o + 1]! << 8), false));
        writeF16(out, o, d);
        writeF16(out, o + 2, (-d * (levels - 1)) / 2);
      }
      return out;
    }
    case 'Q5_0': {
      // value = d·(q − 16), q uniform 0..31.
      const base = sigma / (uniformStd(32) * JITTER_RMS);
      for (let o = 0; o < bytes; o += 22) writeF16(out, o, jitteredScale(base, out[o]! | (out[o + 1]! << 8), true));
      return out;
    }
    case 'IQ4_NL': {
      // value = d·KVALUES[code], code uniform; the random sign of d cancels the grid's mean.
      const base = sigma / (IQ4_RMS * JITTER_RMS);
      for (let o = 0; o < bytes; o += 18) writeF16(out, o, jitteredScale(base, out[o]! | (out[o + 1]! << 8), true));
      return out;
    }
    case 'IQ4_XS': {
      // value = d·(ls − 32)·KVALUES[code], ls − 32 = ±(16..31) with a random sign per sub-block.
      const base = sigma / (IQ4_RMS * uniformRms(16, 31) * JITTER_RMS);
      for (let o = 0; o < bytes; o += 136) {
        let sh = 0;
        let sl = 0;
        for (let j = 0; j < 8; j++) {
          const r = out[o + 8 + j]!; // a random code byte as the draw (codes stay random)
          const mag = 16 + (r & 15);
          const ls = r & 0x80 ? 32 - mag : 32 + mag; // 1..16 or 48..63
          sl |= (ls & 0xf) << (4 * j);
          sh |= (ls >> 4) << (2 * j);
        }
        writeF16(out, o, Math.abs(jitteredScale(base, out[o]! | (out[o + 1]! << 8), false)));
        out[o + 2] = sh & 0xff;
        out[o + 3] = sh >>> 8;
        for (let i = 0; i < 4; i++) out[o + 4 + i] = (sl >>> (8 * i)) & 0xff;
      }
      return out;
    }
    case 'Q5_K': {
      // value = d·sc·q − dmin·m with sc = m uniform 32..63 and dmin = 15.5·d: d·sc·(q − 15.5).
      const base = sigma / (uniformStd(32) * uniformRms(32, 63) * JITTER_RMS);
      const sc = new Uint8Array(8);
      for (let o = 0; o < bytes; o += 176) {
        const d = Math.abs(jitteredScale(base, out[o]! | (out[o + 1]! << 8), false));
        for (let j = 0; j < 8; j++) sc[j] = 32 + (out[o + 4 + j]! & 31);
        packScaleMinK4(sc, sc, out, o + 4);
        writeF16(out, o, d);
        writeF16(out, o + 2, d * 15.5);
      }
      return out;
    }
    case 'Q3_K': {
      // value = d·(ls − 32)·q, q uniform −4..3, ls − 32 = ±(16..30) with a random sign per sub-block.
      const qRms = Math.sqrt(uniformStd(8) ** 2 + 0.25);
      const magRms = 2 * uniformRms(8, 15); // magnitudes 16, 18, .., 30
      const base = sigma / (qRms * magRms * JITTER_RMS);
      for (let o = 0; o < bytes; o += 110) {
        // Sixteen 4-bit draws (sign, 3 bits of magnitude) from the first 8 scale bytes.
        const draw = out.slice(o + 96, o + 104);
        out.fill(0, o + 96, o + 108);
        for (let s = 0; s < 16; s++) {
          const r = (draw[s >> 1]! >> (4 * (s & 1))) & 15;
          const mag = 16 + 2 * (r & 7);
          const ls = r & 8 ? 32 - mag : 32 + mag;
          if (s < 8) out[o + 96 + s]! |= ls & 0xf;
          else out[o + 96 + s - 8]! |= (ls & 0xf) << 4;
          out[o + 104 + (s & 3)]! |= (ls >> 4) << (2 * (s >> 2));
        }
        writeF16(out, o + 108, Math.abs(jitteredScale(base, out[o + 108]! | (out[o + 109]! << 8), false)));
      }
      return out;
    }
    case 'Q2_K': {
      // value = d·sc·q − dmin·m with sc = m uniform 8..15 and dmin = 1.5·d: d·sc·(q − 1.5).
      const base = sigma / (uniformStd(4) * uniformRms(8, 15) * JITTER_RMS);
      for (let o = 0; o < bytes; o += 84) {
        for (let s = 0; s < 16; s++) {
          const v = 8 + (out[o + s]! & 7);
          out[o + s] = v | (v << 4);
        }
        const d = Math.abs(jitteredScale(base, out[o + 80]! | (out[o + 81]! << 8), false));
        writeF16(out, o + 80, d);
        writeF16(out, o + 82, d * 1.5);
      }
      return out;
    }
    case 'Q6_K': {
      // value = d·sc·(q − 32), q uniform 0..63, sc = ±(64..127) with a random sign per sub-block.
      const scRms = Math.sqrt(95.5 * 95.5 + (64 * 64 - 1) / 12);
      const base = sigma / (uniformStd(64) * scRms * JITTER_RMS);
      for (let o = 0; o < bytes; o += 210) {
        for (let j = 0; j < 16; j++) {
          const r = out[o + 192 + j]!;
          const mag = 64 + (r & 63);
          out[o + 192 + j] = (r & 0x80 ? -mag : mag) & 0xff;
        }
        writeF16(out, o + 208, Math.abs(jitteredScale(base, out[o + 208]! | (out[o + 209]! << 8), false)));
      }
      return out;
    }
    default:
      throw new ModelGenError('MODELGEN_TYPE', `no direct block synthesis for ${t.type}`, { type: t.type });
  }
}
