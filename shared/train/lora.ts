/**
 * LoRA fine-tuning's trainable parameters: for each adapted matrix W [out, in] of a frozen base,
 * A [rank, in] and B [out, rank], and the layer computes y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ with
 * s = alpha / rank (llama.cpp's scale, in float32: shared/lora loraScale). The names and layouts
 * are llama.cpp's adapter tensors (`blk.N.attn_q.weight.lora_a` holds A row-major [rank, in],
 * GGUF dims [in, rank]; `.lora_b` holds B [out, rank], dims [rank, out]), so a trained adapter is
 * written without reshaping and llama.cpp's createContext({ lora }) loads it.
 *
 * Initialisation (the LoRA paper's): A ~ N(0, 1/in), so x·Aᵀ has entries of the size of x; B = 0,
 * so the adapted model starts exactly as its base.
 */
import { loraScale } from '../lora/adapter';
import { Xoshiro128 } from '../model-gen/prng';
import { headDim, type ParamSpec, type TrainModelConfig } from './config';
import { TrainError } from './errors';

/** The matrices of a block LoRA can adapt, by their GGUF name (`blk.N.<target>.weight`). */
export const LORA_TARGETS = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** Default targets: every projection of attention and of the FFN (QLoRA's choice: all linear layers). */
export const DEFAULT_LORA_TARGETS: readonly LoraTarget[] = LORA_TARGETS;

export interface LoraSettings {
  readonly rank: number;
  /** adapter.lora.alpha; the update is scaled by alpha / rank. */
  readonly alpha: number;
  readonly targets: readonly LoraTarget[];
  /**
   * Dropout on the adapters' input during training steps (0 ≤ p < 1; default 0): the LoRA
   * branch sees x ⊙ M, M = 1/(1−p) where kept (shared/train/dropout.ts); the base path sees x.
   */
  readonly dropout?: number;
}

export function isLoraTarget(s: string): s is LoraTarget {
  return (LORA_TARGETS as readonly string[]).includes(s);
}

/** [out, in] of a target matrix in a model of this configuration. */
export function targetShape(cfg: TrainModelConfig, target: LoraTarget): { out: number; in: number } {
  const hd = headDim(cfg);
  switch (target) {
    case 'attn_q':
      return { out: cfg.heads * hd, in: cfg.dim };
    case 'attn_k':
    case 'attn_v':
      return { out: cfg.kvHeads * hd, in: cfg.dim };
    case 'attn_output':
      return { out: cfg.dim, in: cfg.heads * hd };
    case 'ffn_gate':
    case 'ffn_up':
      return { out: cfg.ff, in: cfg.dim };
    case 'ffn_down':
      return { out: cfg.dim, in: cfg.ff };
  }
}

/** The scale s of the update, as llama.cpp computes it at user scale 1. */
export function loraUpdateScale(s: Pick<LoraSettings, 'alpha' | 'rank'>): number {
  return loraScale({ alpha: s.alpha }, { rank: s.rank });
}

/** Throws TrainError naming the first invalid setting. */
export function validateLoraSettings(cfg: TrainModelConfig, s: LoraSettings): void {
  const bad = (field: string, value: unknown, why: string): never => {
    throw new TrainError('TRAIN_CONFIG', `LoRA ${field} = ${String(value)} ${why}`, { field, value });
  };
  if (!Number.isInteger(s.rank) || s.rank < 1) bad('rank', s.rank, 'must be a positive integer');
  if (!Number.isFinite(s.alpha) || s.alpha <= 0) bad('alpha', s.alpha, 'must be a positive number');
  if (s.targets.length === 0) bad('targets', '[]', `must name at least one of ${LORA_TARGETS.join(', ')}`);
  if (s.dropout !== undefined && !(s.dropout >= 0 && s.dropout < 1)) bad('dropout', s.dropout, 'must be at least 0 and below 1');
  const seen = new Set<string>();
  for (const t of s.targets) {
    if (!isLoraTarget(t)) bad('targets', t, `is not one of ${LORA_TARGETS.join(', ')}`);
    if (seen.has(t)) bad('targets', t, 'is named twice');
    seen.add(t);
    const { out, in: inDim } = targetShape(cfg, t);
    if (s.rank > Math.min(out, inDim)) bad('rank', s.rank, `exceeds min(out, in) = ${Math.min(out, inDim)} of ${t} [${out}, ${inDim}]`);
  }
}

export const loraAName = (weight: string): string => `${weight}.lora_a`;
export const loraBName = (weight: string): string => `${weight}.lora_b`;

/** Every adapted matrix's name (`blk.N.<target>.weight`), block by block in LORA_TARGETS order. */
export function loraTargetNames(cfg: TrainModelConfig, s: LoraSettings): string[] {
  const out: string[] = [];
  for (let l = 0; l < cfg.layers; l++) for (const t of LORA_TARGETS) if (s.targets.includes(t)) out.push(`blk.${l}.${t}.weight`);
  return out;
}

/** The trainable parameters: A then B of each adapted matrix (all weight-decayed, as matrices are). */
export function loraParamSpecs(cfg: TrainModelConfig, s: LoraSettings): ParamSpec[] {
  validateLoraSettings(cfg, s);
  const specs: ParamSpec[] = [];
  for (const w of loraTargetNames(cfg, s)) {
    const target = w.split('.')[2] as LoraTarget;
    const { out, in: inDim } = targetShape(cfg, target);
    specs.push({ name: loraAName(w), shape: [s.rank, inDim], size: s.rank * inDim, decay: true, init: { kind: 'normal', std: 1 / Math.sqrt(inDim) } });
    specs.push({ name: loraBName(w), shape: [out, s.rank], size: out * s.rank, decay: true, init: { kind: 'zeros' } });
  }
  return specs;
}

/** Seeded initial A and B (each tensor its own stream, as initParams draws a model's). */
export function initLoraParams(cfg: TrainModelConfig, s: LoraSettings, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of loraParamSpecs(cfg, s)) {
    const a = new Float32Array(p.size);
    if (p.init.kind === 'normal') Xoshiro128.forTensor(seed >>> 0, p.name).fillNormal(a, p.init.std);
    out.set(p.name, a);
  }
  return out;
}
