/** The RoPE frequency tables the forward pass uploads per block (llama.cpp's forms). */
import type { ModelArchSpec, ModelConfig } from '../model';

/**
 * Inverse frequencies for the rope kernel, as llama.cpp forms them: theta_scale =
 * base^(-2 / ropeDims) in f32 and theta_i = theta_scale^i by repeated f32 products; pairs past
 * ropeDims / 2 get 0 (angle 0: passed through, llama.cpp's partial rotation for normal RoPE).
 */
export function llamaRopeInvFreq(headDim: number, ropeDims: number, base: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  const scale = Math.fround(Math.pow(base, -2 / ropeDims));
  let f = 1;
  for (let i = 0; i < ropeDims / 2; i++) {
    out[i] = f;
    f = Math.fround(f * scale);
  }
  return out;
}

/**
 * The RoPE table of a block: llamaRopeInvFreq of its base (gemma3's sliding layers have their
 * own), each pair divided by its factor (Llama 3.1's rope_freqs, Phi-3's short factors) and
 * times the linear scale, as llama.cpp forms theta = freq_scale · (p · base^(-2i/d)) / factor.
 */
export function layerRopeInvFreq(c: ModelConfig, arch: ModelArchSpec, sliding: boolean, factors: Float32Array | null): Float32Array {
  const out = llamaRopeInvFreq(c.headDim, c.ropeDimensionCount, sliding ? arch.ropeThetaSliding : c.ropeTheta);
  const scale = sliding ? arch.ropeFreqScaleSliding : arch.ropeFreqScale;
  for (let i = 0; i < c.ropeDimensionCount / 2; i++) {
    let f = out[i]!;
    if (factors) f = Math.fround(f / factors[i]!);
    out[i] = Math.fround(f * scale);
  }
  return out;
}
