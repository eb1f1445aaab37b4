/** The generator's named model shapes (`pxi gen --preset`). */
import { ModelGenError } from './errors';
import type { ModelConfig } from './config';

export type PresetName =
  | 'tiny-llama'
  | 'tiny-qwen2'
  | 'qwen2-1b'
  | 'qwen2.5-7b'
  | 'tiny-qwen3'
  | 'tiny-gemma2'
  | 'tiny-gemma3'
  | 'tiny-phi3'
  | 'tiny-phi4-mini'
  | 'tiny-mistral'
  | 'tiny-smollm'
  | 'tiny-llama3';

export interface ModelPreset {
  readonly name: PresetName;
  readonly summary: string;
  readonly config: ModelConfig;
}

const PRESET_LIST: readonly ModelPreset[] = [
  {
    name: 'tiny-llama',
    summary: 'llama, 2 blocks, width 256, 4 heads / 2 KV heads, FFN 512, SentencePiece vocab 1024 (~1.7M params, tests)',
    config: {
      arch: 'llama',
      name: 'pxi tiny-llama',
      blocks: 2,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 2048,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'llama',
    },
  },
  {
    name: 'tiny-qwen2',
    summary: 'qwen2, 2 blocks, width 256, 4 heads / 2 KV heads, FFN 768, q/k/v biases, byte-level BPE 1000 tokens padded to 1024 (~2.1M params, tests)',
    config: {
      arch: 'qwen2',
      name: 'pxi tiny-qwen2',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1000,
      context: 4096,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: true,
      tied: false,
      vocabStyle: 'qwen2',
    },
  },
  {
    name: 'qwen2-1b',
    summary: 'qwen2, 16 blocks, width 2048, 16 heads / 2 KV heads, FFN 5632, vocab 151936, tied embeddings (~1.0B params, benchmarks)',
    config: {
      arch: 'qwen2',
      name: 'pxi qwen2-1b',
      blocks: 16,
      embd: 2048,
      ff: 5632,
      heads: 16,
      kvHeads: 2,
      vocab: 151936,
      tokens: 151646,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: true,
      tied: true,
      vocabStyle: 'qwen2',
    },
  },
  {
    name: 'qwen2.5-7b',
    summary: "Qwen2.5-7B's shapes: 28 blocks, width 3584, 28 heads / 4 KV heads, FFN 18944, vocab 152064, q/k/v biases, untied (~7.6B params)",
    config: {
      arch: 'qwen2',
      name: 'pxi qwen2.5-7b',
      blocks: 28,
      embd: 3584,
      ff: 18944,
      heads: 28,
      kvHeads: 4,
      vocab: 152064,
      tokens: 151646,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: true,
      tied: false,
      vocabStyle: 'qwen2',
    },
  },
  {
    name: 'tiny-qwen3',
    summary: 'qwen3, 2 blocks, width 256, 4 heads / 2 KV heads of size 128 (q 512 wide), per-head q/k RMSNorm, FFN 768, no biases, tied, byte-level BPE 1000 tokens padded to 1024',
    config: {
      arch: 'qwen3',
      name: 'pxi tiny-qwen3',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1000,
      context: 4096,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: false,
      tied: true,
      vocabStyle: 'qwen2',
      headDim: 128,
    },
  },
  {
    name: 'tiny-gemma2',
    summary: 'gemma2, 2 blocks (0 sliding window 8, 1 global), width 256, 4 heads / 2 KV heads of size 128, FFN 512 GeGLU, post-norms, soft-capping 50/30, tied, Gemma SentencePiece 1024',
    config: {
      arch: 'gemma2',
      name: 'pxi tiny-gemma2',
      blocks: 2,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 8192,
      ropeTheta: 10000,
      rmsEps: 1e-6,
      qkvBias: false,
      tied: true,
      vocabStyle: 'gemma',
      headDim: 128,
      slidingWindow: 8,
      attnSoftcap: 50,
      finalSoftcap: 30,
    },
  },
  {
    name: 'tiny-gemma3',
    summary: 'gemma3, 6 blocks (0-4 sliding window 8 at RoPE base 1e4, 5 global at 1e6), width 256, 4 heads / 1 KV head of size 128, q/k norms, FFN 512 GeGLU, tied, Gemma SentencePiece 1024',
    config: {
      arch: 'gemma3',
      name: 'pxi tiny-gemma3',
      blocks: 6,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 1,
      vocab: 1024,
      tokens: 1024,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: false,
      tied: true,
      vocabStyle: 'gemma',
      headDim: 128,
      slidingWindow: 8,
      ropeThetaSwa: 10000,
    },
  },
  {
    name: 'tiny-phi3',
    summary: 'phi3, 2 blocks, width 256, 4 heads / 4 KV heads, fused attn_qkv and gate|up, FFN 512, untied, Phi-3 SentencePiece 1024',
    config: {
      arch: 'phi3',
      name: 'pxi tiny-phi3',
      blocks: 2,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 4,
      vocab: 1024,
      tokens: 1024,
      context: 4096,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'phi3',
      ropeOriginalContext: 4096,
    },
  },
  {
    name: 'tiny-phi4-mini',
    summary: "phi3 with Phi-4-mini's layout: partial RoPE (48 of 64 dims), 4 heads / 2 KV heads, fused attn_qkv and gate|up, FFN 768, tied, Phi-3 SentencePiece 1024",
    config: {
      arch: 'phi3',
      name: 'pxi tiny-phi4-mini',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 4096,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: true,
      vocabStyle: 'phi3',
      ropeDim: 48,
      ropeOriginalContext: 4096,
    },
  },
  {
    name: 'tiny-mistral',
    summary: 'llama as Mistral 7B files are: 2 blocks, width 256, 8 heads / 2 KV heads (size 32), FFN 768, RoPE base 1e6, untied, SentencePiece 1024',
    config: {
      arch: 'llama',
      name: 'pxi tiny-mistral',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 8,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'mistral',
    },
  },
  {
    name: 'tiny-smollm',
    summary: 'llama as SmolLM2 files are: 2 blocks, width 256, 4 heads / 4 KV heads, FFN 768, tied, byte-level BPE 1024 (pre-tokenizer smollm)',
    config: {
      arch: 'llama',
      name: 'pxi tiny-smollm',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 4,
      vocab: 1024,
      tokens: 1024,
      context: 8192,
      ropeTheta: 100_000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: true,
      vocabStyle: 'smollm',
    },
  },
  {
    name: 'tiny-llama3',
    summary: 'llama as Llama 3.1 files are: 2 blocks, width 256, 4 heads / 1 KV head, FFN 768, RoPE base 5e5 with rope_freqs (factor 8), untied, byte-level BPE 1024 (llama-bpe)',
    config: {
      arch: 'llama',
      name: 'pxi tiny-llama3',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 1,
      vocab: 1024,
      tokens: 1024,
      context: 131072,
      ropeTheta: 500_000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'llama3',
      ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 },
    },
  },
];

export const MODEL_PRESETS: ReadonlyMap<PresetName, ModelPreset> = new Map(PRESET_LIST.map((p) => [p.name, p]));
export const PRESET_NAMES: readonly PresetName[] = PRESET_LIST.map((p) => p.name);

export function presetConfig(name: string): ModelConfig {
  const p = MODEL_PRESETS.get(name as PresetName);
  if (!p) {
    throw new ModelGenError('MODELGEN_PRESET', `unknown preset ${JSON.stringify(name)} (presets: ${PRESET_NAMES.join(', ')})`, { preset: name });
  }
  return p.config;
}
