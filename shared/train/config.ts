/**
 * The shape of a model being trained and the list of its parameters. Parameters are named and
 * shaped exactly as in a llama/qwen2 GGUF (row-major [rows, cols]: a weight matrix has `out`
 * rows of `in` values, and y = x · Wᵀ), so a trained model is written out without renaming and
 * llama.cpp reads it as it reads any other.
 */
import { TrainError } from './errors';

export type TrainArch = 'llama' | 'qwen2';

export interface TrainModelConfig {
  readonly arch: TrainArch;
  readonly vocab: number;
  /** Hidden width (embedding_length). */
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  /** FFN inner width. */
  readonly ff: number;
  /** Longest sequence trained on (and written as context_length). */
  readonly context: number;
  readonly ropeTheta: number;
  readonly rmsEps: number;
  /** No output.weight: the logits use token_embd.weight. */
  readonly tied: boolean;
  /** q/k/v projections carry biases (qwen2). */
  readonly qkvBias: boolean;
}

/** How a parameter starts: N(0, std²), all ones (norm gains) or all zeros (biases). */
export type ParamInit = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };

export interface ParamSpec {
  /** GGUF tensor name, e.g. `blk.0.attn_q.weight`. */
  readonly name: string;
  /** [rows, cols] for matrices, [n] for vectors (GGUF's ne is the reverse). */
  readonly shape: readonly number[];
  readonly size: number;
  /** AdamW's decoupled weight decay applies to matrices, not to norm gains or biases. */
  readonly decay: boolean;
  readonly init: ParamInit;
}

/** RoPE pairs as llama.cpp pairs them for the architecture: adjacent (llama) or split halves (qwen2). */
export function ropeNeox(cfg: TrainModelConfig): boolean {
  return cfg.arch === 'qwen2';
}

export function headDim(cfg: TrainModelConfig): number {
  return cfg.dim / cfg.heads;
}

/** Caps far above anything trained here; beyond them a recipe is a mistake, not a model. */
const CAPS = { vocab: 1 << 18, dim: 1 << 14, layers: 256, heads: 256, ff: 1 << 16, context: 1 << 16 } as const;

/** Throws TrainError naming the first field that is invalid or does not fit the others. */
export function validateModelConfig(cfg: TrainModelConfig, source = 'model config'): void {
  const bad = (field: string, value: unknown, why: string): never => {
    throw new TrainError('TRAIN_CONFIG', `${source}: ${field} = ${String(value)} ${why}`, { field, value });
  };
  if (cfg.arch !== 'llama' && cfg.arch !== 'qwen2') bad('arch', cfg.arch, 'is not one of llama, qwen2');
  for (const k of ['vocab', 'dim', 'layers', 'heads', 'kvHeads', 'ff', 'context'] as const) {
    const v = cfg[k];
    if (!Number.isSafeInteger(v) || v < 1) bad(k, v, 'must be a positive integer');
    const cap = k === 'kvHeads' ? CAPS.heads : CAPS[k];
    if (v > cap) bad(k, v, `is above the cap of ${cap}`);
  }
  if (cfg.vocab < 4) bad('vocab', cfg.vocab, 'must be at least 4 (unk, bos, eos and one more)');
  if (cfg.dim % cfg.heads !== 0) bad('heads', cfg.heads, `does not divide dim = ${cfg.dim}`);
  if (cfg.heads % cfg.kvHeads !== 0) bad('kvHeads', cfg.kvHeads, `does not divide heads = ${cfg.heads}`);
  if (headDim(cfg) % 2 !== 0) bad('heads', cfg.heads, `gives an odd head size ${headDim(cfg)} (RoPE rotates pairs)`);
  if (!(cfg.ropeTheta > 0) || !Number.isFinite(cfg.ropeTheta)) bad('ropeTheta', cfg.ropeTheta, 'must be a positive number');
  if (!(cfg.rmsEps > 0) || !(cfg.rmsEps < 1)) bad('rmsEps', cfg.rmsEps, 'must be in (0, 1)');
  if (typeof cfg.tied !== 'boolean') bad('tied', cfg.tied, 'must be true or false');
  if (typeof cfg.qkvBias !== 'boolean') bad('qkvBias', cfg.qkvBias, 'must be true or false');
}

/**
 * Every parameter in a fixed order (the order of the flat parameter buffer and of checkpoints).
 * Initialisation follows GPT-2 / llm.c: N(0, 0.02²) for matrices, with the two projections that
 * write into the residual stream (attn_output, ffn_down) scaled by 1/√(2·layers); gains one,
 * biases zero.
 */
export function paramSpecs(cfg: TrainModelConfig): ParamSpec[] {
  validateModelConfig(cfg);
  const hd = headDim(cfg);
  const std = 0.02;
  const residStd = std / Math.sqrt(2 * cfg.layers);
  const out: ParamSpec[] = [];
  const mat = (name: string, rows: number, cols: number, s = std) =>
    out.push({ name, shape: [rows, cols], size: rows * cols, decay: true, init: { kind: 'normal', std: s } });
  const vec = (name: string, n: number, init: ParamInit) => out.push({ name, shape: [n], size: n, decay: false, init });
  mat('token_embd.weight', cfg.vocab, cfg.dim);
  for (let l = 0; l < cfg.layers; l++) {
    const p = `blk.${l}.`;
    vec(`${p}attn_norm.weight`, cfg.dim, { kind: 'ones' });
    mat(`${p}attn_q.weight`, cfg.heads * hd, cfg.dim);
    mat(`${p}attn_k.weight`, cfg.kvHeads * hd, cfg.dim);
    mat(`${p}attn_v.weight`, cfg.kvHeads * hd, cfg.dim);
    if (cfg.qkvBias) {
      vec(`${p}attn_q.bias`, cfg.heads * hd, { kind: 'zeros' });
      vec(`${p}attn_k.bias`, cfg.kvHeads * hd, { kind: 'zeros' });
      vec(`${p}attn_v.bias`, cfg.kvHeads * hd, { kind: 'zeros' });
    }
    mat(`${p}attn_output.weight`, cfg.dim, cfg.heads * hd, residStd);
    vec(`${p}ffn_norm.weight`, cfg.dim, { kind: 'ones' });
    mat(`${p}ffn_gate.weight`, cfg.ff, cfg.dim);
    mat(`${p}ffn_up.weight`, cfg.ff, cfg.dim);
    mat(`${p}ffn_down.weight`, cfg.dim, cfg.ff, residStd);
  }
  vec('output_norm.weight', cfg.dim, { kind: 'ones' });
  if (!cfg.tied) mat('output.weight', cfg.vocab, cfg.dim);
  return out;
}

export function parameterCount(cfg: TrainModelConfig): number {
  return paramSpecs(cfg).reduce((s, p) => s + p.size, 0);
}
