/**
 * The float64 training reference against an independent autograd: TensorFlow.js on its pure-JS
 * CPU backend. Each op, and then the whole llama / qwen2 model, is built in tfjs from its own
 * primitives (gather, matMul, rsqrt, softmax, logSoftmax, sigmoid, cos/sin, reshape/transpose,
 * oneHot) and differentiated by tf.grads / tf.valueAndGrads, so neither the forward formulas
 * nor any backward formula is shared with shared/train/reference/*.
 *
 * LoRA: the adapters' loss and gradients (shared/train/reference/lora.ts, by the chain rule through
 * W' = W + s·B·A) against tfjs differentiating a model built on W' formed in tfjs.
 *
 * Tolerance: tfjs computes in float32 (its CPU backend has no float64), so the bound is float32's:
 * |tfjs − ours| ≤ 1e-5 + 1e-4·|ours| for the ops (values of order one) and for the whole model
 * (logits up to ~5, gradients up to ~1, each through ~20 ops). Every f32 op adds a relative error
 * of ~6e-8 and a sum of n terms ~√n·6e-8 of its largest term, so errors of a few 1e-7 are
 * expected; a wrong term gives errors of the size of the value (1e-3 and up). Measured worst
 * |error|: ops 2.2e-7 (linear's y), whole-model logits 6.8e-7, gradients 2.3e-7, loss 7e-8 —
 * the bound has a margin of 15 to 50.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareClose, randomF32, rng } from '../support/compare';
import { headDim, paramSpecs, ropeNeox, type TrainModelConfig } from '../../shared/train/config';
import { ropeInvFreq } from '../../shared/engine/reference/rope';
import { referenceLogits, referenceLossAndGrads, splitTokens } from '../../shared/train/reference/model';
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
} from '../../shared/train/reference/ops';
import { randomParams, TINY_LLAMA, TINY_QWEN2 } from '../support/train-models';
import { loraParamSpecs, loraTargetNames, loraUpdateScale, type LoraSettings } from '../../shared/train/lora';
import { referenceLoraLossAndGrads } from '../../shared/train/reference/lora';

const OP_TOL = { atol: 1e-5, rtol: 1e-4 };
const MODEL_TOL = { atol: 1e-5, rtol: 1e-4 };

beforeAll(async () => {
  // PROD silences tfjs's "install the node backend" banner (and nothing we rely on).
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  expect(tf.getBackend()).toBe('cpu');
});

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, label: string, tol: { atol: number; rtol: number }): void {
  // Ours (f64) is `want`: the relative part of the bound scales with the more exact value.
  const msg = compareClose(got, want, tol, label);
  expect(msg, msg ?? '').toBeNull();
}

const t2 = (a: ArrayLike<number>, shape: number[]) => tf.tensor(Float32Array.from(a), shape, 'float32');
const vals = (t: tf.Tensor) => t.dataSync() as Float32Array;

// ---------------------------------------------------------------- the ops, written in tfjs

function tfRmsnorm(x: tf.Tensor, w: tf.Tensor, eps: number): tf.Tensor {
  return x.mul(tf.rsqrt(x.square().mean(-1, true).add(eps))).mul(w);
}

function tfLinear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const y = tf.matMul(x, w, false, true);
  return b ? y.add(b) : y;
}

/** Angles f32(t)·invFreq formed in tfjs (one f32 multiply, as the spec rounds them); cos/sin in f32. */
function tfRope(x: tf.Tensor, invFreq: Float32Array, N: number, T: number, heads: number, hd: number, neox: boolean): tf.Tensor {
  const half = hd / 2;
  const pos = tf.tensor(Float32Array.from({ length: N }, (_, n) => n % T), [N, 1, 1]);
  const ang = pos.mul(tf.tensor(invFreq, [1, 1, half])); // [N, 1, half]
  const c = tf.cos(ang);
  const s = tf.sin(ang);
  // Normal pairs are the two entries of the last axis of [.., half, 2]; NEOX pairs the halves [.., 2, half].
  const axis = neox ? 2 : 3;
  const xr = x.reshape(neox ? [N, heads, 2, half] : [N, heads, half, 2]);
  const [x0, x1] = tf.unstack(xr, axis) as [tf.Tensor, tf.Tensor];
  const y0 = x0.mul(c).sub(x1.mul(s));
  const y1 = x0.mul(s).add(x1.mul(c));
  return tf.stack([y0, y1], axis).reshape([N, heads * hd]);
}

function tfAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, B: number, T: number, H: number, Hk: number, hd: number): tf.Tensor {
  const heads = (x: tf.Tensor, n: number) => x.reshape([B, T, n, hd]).transpose([0, 2, 1, 3]);
  // GQA: query head h reads kv head floor(h / (H/Hk)); gather's gradient scatters back to it.
  const kvOf = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / Hk))), 'int32');
  const qh = heads(q, H);
  const kh = tf.gather(heads(k, Hk), kvOf, 1);
  const vh = tf.gather(heads(v, Hk), kvOf, 1);
  const mask = tf.tensor(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [T, T]);
  const p = tf.softmax(tf.matMul(qh, kh, false, true).mul(1 / Math.sqrt(hd)).add(mask));
  return tf.matMul(p, vh).transpose([0, 2, 1, 3]).reshape([B * T, H * hd]);
}

function tfSwiglu(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  return g.mul(tf.sigmoid(g)).mul(u);
}

function tfCrossEntropy(logits: tf.Tensor, targets: Int32Array, N: number, V: number): tf.Scalar {
  const onehot = tf.oneHot(tf.tensor1d(targets, 'int32'), V).toFloat();
  return tf.sum(onehot.mul(tf.logSoftmax(logits))).neg().div(N) as tf.Scalar;
}

/** Forward y = f(xs) and the vector-Jacobian products for upstream dy, from tfjs. */
function tfVjp(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): { y: Float32Array; dxs: Float32Array[] } {
  return tf.tidy(() => {
    const y = vals(f(...xs));
    const dxs = tf.grads(f)(xs, dy).map(vals);
    return { y, dxs };
  });
}

describe('train reference ops vs tfjs autograd (f32)', () => {
  it('embedding', () => {
    const r = rng(101);
    const [V, D] = [7, 5];
    const ids = new Int32Array([3, 0, 3, 6, 1, 3, 0, 2]);
    const table = randomF32(V * D, r);
    const dy = randomF32(ids.length * D, r);
    const idsT = tf.tensor1d(ids, 'int32');
    const t = tfVjp((w) => tf.gather(w!, idsT), [t2(table, [V, D])], t2(dy, [ids.length, D]));
    expectClose(t.y, embeddingForward(table, ids, D), 'y', OP_TOL);
    expectClose(t.dxs[0]!, embeddingBackward(dy, ids, V, D), 'dTable', OP_TOL);
  });

  for (const [N, D, eps] of [
    [3, 5, 1e-5],
    [6, 16, 1e-6],
  ] as const) {
    it(`rmsnorm N=${N} D=${D}`, () => {
      const r = rng(102 + D);
      const x = randomF32(N * D, r, -2, 2);
      const w = randomF32(D, r, 0.5, 1.5);
      const dy = randomF32(N * D, r);
      const t = tfVjp((a, b) => tfRmsnorm(a!, b!, eps), [t2(x, [N, D]), t2(w, [D])], t2(dy, [N, D]));
      const f = rmsnormForward(x, w, N, D, eps);
      const g = rmsnormBackward(dy, x, w, f.rstd, N, D);
      expectClose(t.y, f.y, 'y', OP_TOL);
      expectClose(t.dxs[0]!, g.dx, 'dx', OP_TOL);
      expectClose(t.dxs[1]!, g.dw, 'dw', OP_TOL);
    });
  }

  for (const [N, In, Out] of [
    [3, 4, 5],
    [10, 16, 12],
  ] as const) {
    it(`linear N=${N} In=${In} Out=${Out} with bias`, () => {
      const r = rng(103 + In);
      const x = randomF32(N * In, r);
      const w = randomF32(Out * In, r);
      const b = randomF32(Out, r);
      const dy = randomF32(N * Out, r);
      const t = tfVjp((a, ww, bb) => tfLinear(a!, ww!, bb), [t2(x, [N, In]), t2(w, [Out, In]), t2(b, [Out])], t2(dy, [N, Out]));
      const g = linearBackward(dy, x, w, N, In, Out);
      expectClose(t.y, linearForward(x, w, b, N, In, Out), 'y', OP_TOL);
      expectClose(t.dxs[0]!, g.dx, 'dx', OP_TOL);
      expectClose(t.dxs[1]!, g.dw, 'dw', OP_TOL);
      expectClose(t.dxs[2]!, g.db, 'db', OP_TOL);
    });
  }

  for (const [B, T, heads, hd, neox, theta] of [
    [2, 4, 2, 4, false, 10000],
    [2, 4, 2, 4, true, 10000],
    [1, 12, 3, 8, false, 10], // small theta: angles up to 11 rad
    [3, 7, 1, 6, true, 10],
  ] as const) {
    it(`rope B=${B} T=${T} heads=${heads} hd=${hd} ${neox ? 'neox' : 'normal'}`, () => {
      const r = rng(104 + hd + T);
      const N = B * T;
      const inv = ropeInvFreq(hd, theta);
      const x = randomF32(N * heads * hd, r);
      const dy = randomF32(N * heads * hd, r);
      const t = tfVjp((a) => tfRope(a!, inv, N, T, heads, hd, neox), [t2(x, [N, heads * hd])], t2(dy, [N, heads * hd]));
      expectClose(t.y, ropeForward(x, inv, N, T, heads, hd, neox), 'y', OP_TOL);
      expectClose(t.dxs[0]!, ropeBackward(dy, inv, N, T, heads, hd, neox), 'dx', OP_TOL);
    });
  }

  for (const [B, T, H, Hk, hd] of [
    [2, 5, 4, 2, 4],
    [2, 4, 2, 2, 8],
    [1, 6, 3, 1, 4],
  ] as const) {
    it(`attention B=${B} T=${T} H=${H} Hk=${Hk} hd=${hd}`, () => {
      const r = rng(105 + H * 3 + Hk);
      const N = B * T;
      const q = randomF32(N * H * hd, r, -1.5, 1.5);
      const k = randomF32(N * Hk * hd, r, -1.5, 1.5);
      const v = randomF32(N * Hk * hd, r);
      const dy = randomF32(N * H * hd, r);
      const t = tfVjp(
        (a, b, c) => tfAttention(a!, b!, c!, B, T, H, Hk, hd),
        [t2(q, [N, H * hd]), t2(k, [N, Hk * hd]), t2(v, [N, Hk * hd])],
        t2(dy, [N, H * hd]),
      );
      const f = attentionForward(q, k, v, B, T, H, Hk, hd);
      const g = attentionBackward(dy, q, k, v, f.probs, B, T, H, Hk, hd);
      expectClose(t.y, f.out, 'out', OP_TOL);
      expectClose(t.dxs[0]!, g.dq, 'dq', OP_TOL);
      expectClose(t.dxs[1]!, g.dk, 'dk', OP_TOL);
      expectClose(t.dxs[2]!, g.dv, 'dv', OP_TOL);
    });
  }

  it('swiglu', () => {
    const r = rng(106);
    const gate = randomF32(40, r, -6, 6);
    const up = randomF32(40, r, -2, 2);
    const dy = randomF32(40, r);
    const t = tfVjp((g, u) => tfSwiglu(g!, u!), [t2(gate, [40]), t2(up, [40])], t2(dy, [40]));
    const g = swigluBackward(dy, gate, up);
    expectClose(t.y, swigluForward(gate, up), 'a', OP_TOL);
    expectClose(t.dxs[0]!, g.dgate, 'dgate', OP_TOL);
    expectClose(t.dxs[1]!, g.dup, 'dup', OP_TOL);
  });

  for (const [N, V, spread] of [
    [6, 11, 3],
    [4, 32, 20],
  ] as const) {
    it(`cross-entropy N=${N} V=${V} logits ±${spread}`, () => {
      const r = rng(107 + V);
      const logits = randomF32(N * V, r, -spread, spread);
      const targets = new Int32Array(N).map(() => Math.floor(r() * V));
      const { value, grads } = tf.tidy(() => {
        const vg = tf.valueAndGrads((l: tf.Tensor) => tfCrossEntropy(l, targets, N, V))([t2(logits, [N, V])]);
        return { value: vg.value.dataSync()[0]!, grads: vals(vg.grads[0]!) };
      });
      // The loss is of order spread, so its f32 error is too: relative bound only.
      expect(Math.abs(value - crossEntropyForward(logits, targets, N, V).loss)).toBeLessThan(1e-5 * Math.max(1, spread));
      expectClose(grads, crossEntropyBackward(logits, targets, N, V, 1 / N), 'dlogits', OP_TOL);
    });
  }
});

// ---------------------------------------------------------------- the whole model, written in tfjs

/** Mean cross-entropy of the model on tokens[B, T+1], from named tfjs tensors (tied: one tensor used twice). */
function tfModel(cfg: TrainModelConfig, P: Map<string, tf.Tensor>, ids: Int32Array, B: number, T: number): tf.Tensor {
  const N = B * T;
  const hd = headDim(cfg);
  const inv = ropeInvFreq(hd, cfg.ropeTheta);
  const neox = ropeNeox(cfg);
  const p = (n: string) => P.get(n)!;
  let x = tf.gather(p('token_embd.weight'), tf.tensor1d(ids, 'int32'));
  for (let l = 0; l < cfg.layers; l++) {
    const b = `blk.${l}.`;
    const bias = (n: string) => (cfg.qkvBias ? p(`${b}${n}.bias`) : undefined);
    const h = tfRmsnorm(x, p(`${b}attn_norm.weight`), cfg.rmsEps);
    const q = tfRope(tfLinear(h, p(`${b}attn_q.weight`), bias('attn_q')), inv, N, T, cfg.heads, hd, neox);
    const k = tfRope(tfLinear(h, p(`${b}attn_k.weight`), bias('attn_k')), inv, N, T, cfg.kvHeads, hd, neox);
    const v = tfLinear(h, p(`${b}attn_v.weight`), bias('attn_v'));
    x = x.add(tfLinear(tfAttention(q, k, v, B, T, cfg.heads, cfg.kvHeads, hd), p(`${b}attn_output.weight`)));
    const h2 = tfRmsnorm(x, p(`${b}ffn_norm.weight`), cfg.rmsEps);
    const a = tfSwiglu(tfLinear(h2, p(`${b}ffn_gate.weight`)), tfLinear(h2, p(`${b}ffn_up.weight`)));
    x = x.add(tfLinear(a, p(`${b}ffn_down.weight`)));
  }
  const hf = tfRmsnorm(x, p('output_norm.weight'), cfg.rmsEps);
  return tfLinear(hf, p(cfg.tied ? 'token_embd.weight' : 'output.weight'));
}


describe('train reference model vs tfjs autograd (f32)', () => {
  for (const cfg of [TINY_LLAMA, TINY_QWEN2]) {
    it(`${cfg.arch} (${cfg.tied ? 'tied' : 'untied'}, heads ${cfg.heads}/${cfg.kvHeads}): logits, loss and every gradient`, () => {
      const [B, T] = [2, 5];
      const params = randomParams(cfg, 201);
      const r = rng(202);
      const tokens = new Int32Array(B * (T + 1)).map(() => Math.floor(r() * cfg.vocab));
      const { ids, targets } = splitTokens(tokens, B, T);
      const specs = paramSpecs(cfg);
      const got = tf.tidy(() => {
        const ts = specs.map((s) => t2(params.get(s.name)!, [...s.shape]));
        const asMap = (xs: tf.Tensor[]) => new Map(specs.map((s, i) => [s.name, xs[i]!]));
        const logits = vals(tfModel(cfg, asMap(ts), ids, B, T));
        const f = (...xs: tf.Tensor[]) => tfCrossEntropy(tfModel(cfg, asMap(xs), ids, B, T), targets, B * T, cfg.vocab);
        const vg = tf.valueAndGrads(f)(ts);
        return { logits, loss: vg.value.dataSync()[0]!, grads: vg.grads.map(vals) };
      });
      expectClose(got.logits, referenceLogits(cfg, params, ids, B, T), 'logits', MODEL_TOL);
      const ref = referenceLossAndGrads(cfg, params, tokens, B, T);
      expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-5);
      specs.forEach((s, i) => expectClose(got.grads[i]!, ref.grads.get(s.name)!, s.name, MODEL_TOL));
    });
  }
});

describe('LoRA training reference vs tfjs autograd (f32)', () => {
  // tfjs builds W' = W + s·B·A itself (matMul of B and A) for each adapted matrix and
  // differentiates the whole model's loss with respect to A and B; the reference takes dW' and
  // the chain rule (shared/train/reference/lora.ts).
  const CASES: readonly (readonly [TrainModelConfig, LoraSettings])[] = [
    [TINY_LLAMA, { rank: 2, alpha: 3, targets: ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down'] }],
    [TINY_QWEN2, { rank: 3, alpha: 1, targets: ['attn_q', 'ffn_down'] }],
  ];
  for (const [cfg, lora] of CASES) {
    it(`${cfg.arch}, rank ${lora.rank}: loss and every A and B gradient`, () => {
      const [B, T] = [2, 5];
      const base = randomParams(cfg, 211);
      const r = rng(212);
      const specs = loraParamSpecs(cfg, lora);
      const adapters = new Map(specs.map((s) => [s.name, Float32Array.from({ length: s.size }, () => r() - 0.5)]));
      const tokens = new Int32Array(B * (T + 1)).map(() => Math.floor(r() * cfg.vocab));
      const { ids, targets } = splitTokens(tokens, B, T);
      const s = loraUpdateScale(lora);
      const got = tf.tidy(() => {
        const baseT = new Map(paramSpecs(cfg).map((p) => [p.name, t2(base.get(p.name)!, [...p.shape])]));
        const ts = specs.map((p) => t2(adapters.get(p.name)!, [...p.shape]));
        const f = (...xs: tf.Tensor[]) => {
          const w = new Map(baseT);
          for (const name of loraTargetNames(cfg, lora)) {
            const a = xs[specs.findIndex((p) => p.name === `${name}.lora_a`)]!;
            const b = xs[specs.findIndex((p) => p.name === `${name}.lora_b`)]!;
            w.set(name, baseT.get(name)!.add(tf.matMul(b, a).mul(s)));
          }
          return tfCrossEntropy(tfModel(cfg, w, ids, B, T), targets, B * T, cfg.vocab);
        };
        const vg = tf.valueAndGrads(f)(ts);
        return { loss: vg.value.dataSync()[0]!, grads: vg.grads.map(vals) };
      });
      const ref = referenceLoraLossAndGrads(cfg, lora, base, adapters, tokens, B, T);
      expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-5);
      specs.forEach((p, i) => expectClose(got.grads[i]!, ref.grads.get(p.name)!, p.name, MODEL_TOL));
    });
  }
});
