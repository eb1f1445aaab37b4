/**
 * Float64 reference of a whole llama/qwen2 training step, composed from ops.ts: the forward pass
 * with what the backward pass needs kept, the backward pass written out op by op, and a plain
 * AdamW loop. The GPU engine's loss and gradients, and its loss curve, are checked against this.
 *
 * Per layer (llama; qwen2 adds q/k/v biases and pairs RoPE as NEOX):
 *   h  = rmsnorm(x, attn_norm);  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  rope(q), rope(k)
 *   x += attention(q, k, v)·Woᵀ
 *   h2 = rmsnorm(x, ffn_norm);   x += (silu(h2·Wgᵀ)·(h2·Wuᵀ))·Wdᵀ
 * logits = rmsnorm(x, output_norm)·(output or token_embd)ᵀ.
 */
import { headDim, paramSpecs, ropeNeox, type ParamSpec, type TrainModelConfig } from '../config';
import { ropeInvFreq } from '../../engine/reference/rope';
import {
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  embeddingBackward,
  embeddingForward,
  linearBackward,
  linearForward,
  rmsnormBackward,
  rmsnormForward,
  ropeBackward,
  ropeForward,
  swigluBackward,
  swigluForward,
} from './ops';
import { adamwStep, clipScale, globalNorm, learningRate } from './optim';

type Params = ReadonlyMap<string, ArrayLike<number>>;

/**
 * Something added to a block's linear layers (LoRA adapters): `forward` adds its output for
 * matrix `name` (input x [N, In]) into y [N, Out]; `backward` adds its input gradient for upstream
 * dy into dx [N, In] (and keeps its own parameters' gradients). Called for every block matrix,
 * in the forward and the backward order.
 */
export interface LinearExtra {
  forward(name: string, x: Float64Array, y: Float64Array, N: number, In: number, Out: number): void;
  backward(name: string, dy: ArrayLike<number>, x: Float64Array, dx: Float64Array, N: number, In: number, Out: number): void;
}

interface LayerCache {
  x: Float64Array; // residual stream entering the layer
  h: Float64Array;
  rstd: Float64Array;
  qr: Float64Array; // q, k after RoPE (what attention saw)
  kr: Float64Array;
  v: Float64Array;
  att: Float64Array;
  probs: Float64Array;
  x1: Float64Array; // residual after the attention block
  h2: Float64Array;
  rstd2: Float64Array;
  gate: Float64Array;
  up: Float64Array;
  act: Float64Array;
}

interface ForwardCache {
  layers: LayerCache[];
  xf: Float64Array; // residual entering the final norm
  hf: Float64Array;
  rstdf: Float64Array;
  logits: Float64Array;
}

function get(params: Params, name: string, size: number): ArrayLike<number> {
  const p = params.get(name);
  if (!p) throw new RangeError(`reference model: parameter ${name} is missing`);
  if (p.length !== size) throw new RangeError(`reference model: ${name} has ${p.length} values, expected ${size}`);
  return p;
}

/** Checks every parameter is present with its size (and nothing extra), so a mix-up fails loudly. */
function checkParams(cfg: TrainModelConfig, params: Params): void {
  const specs = paramSpecs(cfg);
  for (const s of specs) get(params, s.name, s.size);
  if (params.size !== specs.length) {
    const known = new Set(specs.map((s) => s.name));
    const extra = [...params.keys()].filter((k) => !known.has(k));
    throw new RangeError(`reference model: unknown parameters ${extra.join(', ')}`);
  }
}

function forward(cfg: TrainModelConfig, params: Params, ids: Int32Array, B: number, T: number, extra?: LinearExtra): ForwardCache {
  const N = B * T;
  if (ids.length !== N) throw new RangeError(`reference model: ${ids.length} input ids, expected B·T = ${N}`);
  const D = cfg.dim;
  const H = cfg.heads;
  const Hk = cfg.kvHeads;
  const hd = headDim(cfg);
  const F = cfg.ff;
  const neox = ropeNeox(cfg);
  const invFreq = ropeInvFreq(hd, cfg.ropeTheta);
  const P = (name: string, size: number) => get(params, name, size);
  let x = embeddingForward(P('token_embd.weight', cfg.vocab * D), ids, D);
  const layers: LayerCache[] = [];
  for (let l = 0; l < cfg.layers; l++) {
    const p = `blk.${l}.`;
    const bias = (n: string, size: number) => (cfg.qkvBias ? P(`${p}${n}.bias`, size) : null);
    const { y: h, rstd } = rmsnormForward(x, P(`${p}attn_norm.weight`, D), N, D, cfg.rmsEps);
    const q = linearForward(h, P(`${p}attn_q.weight`, H * hd * D), bias('attn_q', H * hd), N, D, H * hd);
    const k = linearForward(h, P(`${p}attn_k.weight`, Hk * hd * D), bias('attn_k', Hk * hd), N, D, Hk * hd);
    const v = linearForward(h, P(`${p}attn_v.weight`, Hk * hd * D), bias('attn_v', Hk * hd), N, D, Hk * hd);
    extra?.forward(`${p}attn_q.weight`, h, q, N, D, H * hd);
    extra?.forward(`${p}attn_k.weight`, h, k, N, D, Hk * hd);
    extra?.forward(`${p}attn_v.weight`, h, v, N, D, Hk * hd);
    const qr = ropeForward(q, invFreq, N, T, H, hd, neox);
    const kr = ropeForward(k, invFreq, N, T, Hk, hd, neox);
    const { out: att, probs } = attentionForward(qr, kr, v, B, T, H, Hk, hd);
    const o = linearForward(att, P(`${p}attn_output.weight`, D * H * hd), null, N, H * hd, D);
    extra?.forward(`${p}attn_output.weight`, att, o, N, H * hd, D);
    const x1 = new Float64Array(N * D);
    for (let i = 0; i < x1.length; i++) x1[i] = x[i]! + o[i]!;
    const { y: h2, rstd: rstd2 } = rmsnormForward(x1, P(`${p}ffn_norm.weight`, D), N, D, cfg.rmsEps);
    const gate = linearForward(h2, P(`${p}ffn_gate.weight`, F * D), null, N, D, F);
    const up = linearForward(h2, P(`${p}ffn_up.weight`, F * D), null, N, D, F);
    extra?.forward(`${p}ffn_gate.weight`, h2, gate, N, D, F);
    extra?.forward(`${p}ffn_up.weight`, h2, up, N, D, F);
    const act = swigluForward(gate, up);
    const down = linearForward(act, P(`${p}ffn_down.weight`, D * F), null, N, F, D);
    extra?.forward(`${p}ffn_down.weight`, act, down, N, F, D);
    const x2 = new Float64Array(N * D);
    for (let i = 0; i < x2.length; i++) x2[i] = x1[i]! + down[i]!;
    layers.push({ x, h, rstd, qr, kr, v, att, probs, x1, h2, rstd2, gate, up, act });
    x = x2;
  }
  const { y: hf, rstd: rstdf } = rmsnormForward(x, P('output_norm.weight', D), N, D, cfg.rmsEps);
  const wOut = P(cfg.tied ? 'token_embd.weight' : 'output.weight', cfg.vocab * D);
  const logits = linearForward(hf, wOut, null, N, D, cfg.vocab);
  return { layers, xf: x, hf, rstdf, logits };
}

/** Splits tokens[B, T+1] into inputs tokens[:, :T] and targets tokens[:, 1:], each [B·T]. */
export function splitTokens(tokens: Int32Array, B: number, T: number): { ids: Int32Array; targets: Int32Array } {
  if (tokens.length !== B * (T + 1)) throw new RangeError(`reference model: ${tokens.length} tokens, expected B·(T+1) = ${B * (T + 1)}`);
  const ids = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = tokens[b * (T + 1) + t]!;
      targets[b * T + t] = tokens[b * (T + 1) + t + 1]!;
    }
  }
  return { ids, targets };
}

/** logits[B·T, vocab] for input ids[B·T] (row n = b·T + t). */
export function referenceLogits(cfg: TrainModelConfig, params: Params, tokens: Int32Array, B: number, T: number): Float64Array {
  checkParams(cfg, params);
  return forward(cfg, params, tokens, B, T).logits;
}

function addInto(dst: Float64Array, src: ArrayLike<number>): void {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i]!;
}

/**
 * Mean cross-entropy over the B·T targets of tokens[B, T+1] and its gradient with respect to
 * every parameter (keyed by paramSpecs name; a tied model's token_embd.weight gets the sum of
 * its embedding and its logits gradients).
 */
export function referenceLossAndGrads(
  cfg: TrainModelConfig,
  params: Params,
  tokens: Int32Array,
  B: number,
  T: number,
  extra?: LinearExtra,
): { loss: number; grads: Map<string, Float64Array> } {
  checkParams(cfg, params);
  const { ids, targets } = splitTokens(tokens, B, T);
  const N = B * T;
  const D = cfg.dim;
  const H = cfg.heads;
  const Hk = cfg.kvHeads;
  const hd = headDim(cfg);
  const F = cfg.ff;
  const V = cfg.vocab;
  const neox = ropeNeox(cfg);
  const invFreq = ropeInvFreq(hd, cfg.ropeTheta);
  const P = (name: string) => params.get(name)!;
  const grads = new Map<string, Float64Array>();

  const c = forward(cfg, params, ids, B, T, extra);
  const { loss } = crossEntropyForward(c.logits, targets, N, V);

  // Head: logits = hf·Woutᵀ, hf = rmsnorm(xf).
  const dlogits = crossEntropyBackward(c.logits, targets, N, V, 1 / N);
  const outName = cfg.tied ? 'token_embd.weight' : 'output.weight';
  const head = linearBackward(dlogits, c.hf, P(outName), N, D, V);
  grads.set(outName, head.dw);
  const fn = rmsnormBackward(head.dx, c.xf, P('output_norm.weight'), c.rstdf, N, D);
  grads.set('output_norm.weight', fn.dw);
  let dx = fn.dx; // gradient of the residual stream

  for (let l = cfg.layers - 1; l >= 0; l--) {
    const p = `blk.${l}.`;
    const L = c.layers[l]!;
    // FFN block: x2 = x1 + down(swiglu(gate(h2), up(h2))), h2 = rmsnorm(x1).
    const down = linearBackward(dx, L.act, P(`${p}ffn_down.weight`), N, F, D);
    extra?.backward(`${p}ffn_down.weight`, dx, L.act, down.dx, N, F, D);
    grads.set(`${p}ffn_down.weight`, down.dw);
    const sw = swigluBackward(down.dx, L.gate, L.up);
    const g = linearBackward(sw.dgate, L.h2, P(`${p}ffn_gate.weight`), N, D, F);
    const u = linearBackward(sw.dup, L.h2, P(`${p}ffn_up.weight`), N, D, F);
    extra?.backward(`${p}ffn_gate.weight`, sw.dgate, L.h2, g.dx, N, D, F);
    extra?.backward(`${p}ffn_up.weight`, sw.dup, L.h2, u.dx, N, D, F);
    grads.set(`${p}ffn_gate.weight`, g.dw);
    grads.set(`${p}ffn_up.weight`, u.dw);
    addInto(g.dx, u.dx);
    const n2 = rmsnormBackward(g.dx, L.x1, P(`${p}ffn_norm.weight`), L.rstd2, N, D);
    grads.set(`${p}ffn_norm.weight`, n2.dw);
    addInto(dx, n2.dx); // residual: dx1 = dx2 + through the block

    // Attention block: x1 = x + attn(rope(q(h)), rope(k(h)), v(h))·Woᵀ, h = rmsnorm(x).
    const o = linearBackward(dx, L.att, P(`${p}attn_output.weight`), N, H * hd, D);
    extra?.backward(`${p}attn_output.weight`, dx, L.att, o.dx, N, H * hd, D);
    grads.set(`${p}attn_output.weight`, o.dw);
    const at = attentionBackward(o.dx, L.qr, L.kr, L.v, L.probs, B, T, H, Hk, hd);
    const dq = ropeBackward(at.dq, invFreq, N, T, H, hd, neox);
    const dk = ropeBackward(at.dk, invFreq, N, T, Hk, hd, neox);
    const lq = linearBackward(dq, L.h, P(`${p}attn_q.weight`), N, D, H * hd);
    const lk = linearBackward(dk, L.h, P(`${p}attn_k.weight`), N, D, Hk * hd);
    const lv = linearBackward(at.dv, L.h, P(`${p}attn_v.weight`), N, D, Hk * hd);
    extra?.backward(`${p}attn_q.weight`, dq, L.h, lq.dx, N, D, H * hd);
    extra?.backward(`${p}attn_k.weight`, dk, L.h, lk.dx, N, D, Hk * hd);
    extra?.backward(`${p}attn_v.weight`, at.dv, L.h, lv.dx, N, D, Hk * hd);
    grads.set(`${p}attn_q.weight`, lq.dw);
    grads.set(`${p}attn_k.weight`, lk.dw);
    grads.set(`${p}attn_v.weight`, lv.dw);
    if (cfg.qkvBias) {
      grads.set(`${p}attn_q.bias`, lq.db);
      grads.set(`${p}attn_k.bias`, lk.db);
      grads.set(`${p}attn_v.bias`, lv.db);
    }
    addInto(lq.dx, lk.dx);
    addInto(lq.dx, lv.dx);
    const n1 = rmsnormBackward(lq.dx, L.x, P(`${p}attn_norm.weight`), L.rstd, N, D);
    grads.set(`${p}attn_norm.weight`, n1.dw);
    addInto(dx, n1.dx);
  }

  const dEmbd = embeddingBackward(dx, ids, V, D);
  if (cfg.tied) addInto(grads.get('token_embd.weight')!, dEmbd);
  else grads.set('token_embd.weight', dEmbd);

  // Return the gradients in paramSpecs order (the order of the flat buffers and checkpoints).
  const ordered = new Map<string, Float64Array>();
  for (const s of paramSpecs(cfg)) ordered.set(s.name, grads.get(s.name)!);
  return { loss, grads: ordered };
}

export interface ReferenceTrainOptions {
  readonly maxLr: number;
  readonly minLr: number;
  readonly warmup: number;
  readonly total: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Largest global gradient norm; 0 or Infinity: no clipping. */
  readonly clip: number;
  /** Micro-batches per optimizer step (gradients averaged); default 1. */
  readonly accum?: number;
}

export interface ReferenceTrainResult {
  /** Per step: the mean loss of its micro-batches, measured before the step's update. */
  losses: number[];
  /** Per step: the global norm of the averaged gradient, before clipping. */
  gradNorms: number[];
  /** Per step: the learning rate used. */
  lrs: number[];
  params: Map<string, Float64Array>;
}

/**
 * AdamW training on the given batches (each tokens[B, T+1]): step s (1-based) uses batches
 * (s−1)·accum .. s·accum−1, averages their gradients, clips the average by global norm, and takes
 * one AdamW step at learningRate(s). Runs ⌊batches/accum⌋ steps. Fully deterministic.
 */
export function referenceTrain(
  cfg: TrainModelConfig,
  params0: Params,
  batches: readonly Int32Array[],
  B: number,
  T: number,
  opt: ReferenceTrainOptions,
): ReferenceTrainResult {
  checkParams(cfg, params0);
  return referenceOptimize(paramSpecs(cfg), params0, batches, opt, (params, tokens) => referenceLossAndGrads(cfg, params, tokens, B, T));
}

/**
 * The optimizer loop of referenceTrain over any parameters (`specs`) and any loss: `lossAndGrads`
 * gives the loss of one micro-batch and the gradient of every parameter in `specs`.
 */
export function referenceOptimize(
  specs: readonly ParamSpec[],
  params0: Params,
  batches: readonly Int32Array[],
  opt: ReferenceTrainOptions,
  lossAndGrads: (params: ReadonlyMap<string, Float64Array>, tokens: Int32Array) => { loss: number; grads: ReadonlyMap<string, ArrayLike<number>> },
): ReferenceTrainResult {
  const accum = opt.accum ?? 1;
  if (!(Number.isInteger(accum) && accum >= 1)) throw new RangeError(`referenceTrain: accum ${accum} must be an integer ≥ 1`);
  const params = new Map<string, Float64Array>();
  const m = new Map<string, Float64Array>();
  const v = new Map<string, Float64Array>();
  for (const s of specs) {
    params.set(s.name, Float64Array.from(params0.get(s.name)!));
    m.set(s.name, new Float64Array(s.size));
    v.set(s.name, new Float64Array(s.size));
  }
  const steps = Math.floor(batches.length / accum);
  const losses: number[] = [];
  const gradNorms: number[] = [];
  const lrs: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const sum = new Map<string, Float64Array>();
    for (const s of specs) sum.set(s.name, new Float64Array(s.size));
    let lossSum = 0;
    for (let a = 0; a < accum; a++) {
      const r = lossAndGrads(params, batches[(step - 1) * accum + a]!);
      lossSum += r.loss;
      for (const s of specs) addInto(sum.get(s.name)!, r.grads.get(s.name)!);
    }
    for (const g of sum.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! / accum;
    const norm = globalNorm([...sum.values()]);
    const scale = opt.clip > 0 ? clipScale(norm, opt.clip) : 1;
    if (scale !== 1) for (const g of sum.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
    const lr = learningRate(step, opt);
    for (const s of specs) {
      adamwStep(params.get(s.name)!, sum.get(s.name)!, m.get(s.name)!, v.get(s.name)!, step, {
        lr,
        beta1: opt.beta1,
        beta2: opt.beta2,
        eps: opt.eps,
        weightDecay: opt.weightDecay,
        decay: s.decay,
      });
    }
    losses.push(lossSum / accum);
    gradNorms.push(norm);
    lrs.push(lr);
  }
  return { losses, gradNorms, lrs, params };
}
