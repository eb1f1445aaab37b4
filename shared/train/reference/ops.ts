/**
 * Float64 reference of every op the llama/qwen2 training step uses, forward and backward
 * (specs/training.md, "Ops"). These are the ground truth the WGSL kernels are tested against,
 * and they are themselves checked against finite differences and an independent autograd
 * (tests/shared/train-reference-ops.test.ts, train-autograd.test.ts). Plain loops, no
 * cleverness: each line should be checkable against the formula by eye.
 *
 * Layouts: N = B·T rows, row n = b·T + t; matrices [out, in] row-major, y = x · Wᵀ (+ b).
 */

type Arr = ArrayLike<number>;

// ---------------------------------------------------------------- embedding

/** y[n, :] = table[ids[n], :]. */
export function embeddingForward(table: Arr, ids: Int32Array, D: number): Float64Array {
  const N = ids.length;
  const V = table.length / D;
  const y = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    const id = ids[n]!;
    if (!(id >= 0 && id < V)) throw new RangeError(`embeddingForward: ids[${n}] = ${id} outside [0, ${V})`);
    for (let d = 0; d < D; d++) y[n * D + d] = table[id * D + d]!;
  }
  return y;
}

/** dTable[id, :] = Σ_{n: ids[n]=id} dy[n, :], summed in row order n = 0..N-1 (the GPU's order). */
export function embeddingBackward(dy: Arr, ids: Int32Array, V: number, D: number): Float64Array {
  const dt = new Float64Array(V * D);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n]!;
    if (!(id >= 0 && id < V)) throw new RangeError(`embeddingBackward: ids[${n}] = ${id} outside [0, ${V})`);
    for (let d = 0; d < D; d++) dt[id * D + d] += dy[n * D + d]!;
  }
  return dt;
}

// ---------------------------------------------------------------- rmsnorm

/** rstd = 1/√(mean(x²)+eps), y = x·rstd·w; rstd is kept for the backward pass. */
export function rmsnormForward(
  x: Arr,
  w: Arr,
  N: number,
  D: number,
  eps: number,
): { y: Float64Array; rstd: Float64Array } {
  const y = new Float64Array(N * D);
  const rstd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let d = 0; d < D; d++) ss += x[n * D + d]! * x[n * D + d]!;
    const r = 1 / Math.sqrt(ss / D + eps);
    rstd[n] = r;
    for (let d = 0; d < D; d++) y[n * D + d] = x[n * D + d]! * r * w[d]!;
  }
  return { y, rstd };
}

/**
 * With g = dy·w: dx = r·g − r³·x·(Σ g·x)/D (r depends on x through mean(x²)); dw = Σ_n dy·x·r.
 */
export function rmsnormBackward(
  dy: Arr,
  x: Arr,
  w: Arr,
  rstd: Arr,
  N: number,
  D: number,
): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(N * D);
  const dw = new Float64Array(D);
  for (let n = 0; n < N; n++) {
    const r = rstd[n]!;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += dy[n * D + d]! * w[d]! * x[n * D + d]!;
    const c = (r * r * r * dot) / D;
    for (let d = 0; d < D; d++) {
      const i = n * D + d;
      dx[i] = r * dy[i]! * w[d]! - c * x[i]!;
      dw[d] += dy[i]! * x[i]! * r;
    }
  }
  return { dx, dw };
}

// ---------------------------------------------------------------- linear

/** y[n, o] = Σ_i x[n, i]·w[o, i] (+ b[o]). */
export function linearForward(x: Arr, w: Arr, b: Arr | null, N: number, In: number, Out: number): Float64Array {
  const y = new Float64Array(N * Out);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      let acc = 0;
      for (let i = 0; i < In; i++) acc += x[n * In + i]! * w[o * In + i]!;
      y[n * Out + o] = b ? acc + b[o]! : acc;
    }
  }
  return y;
}

/** dx = dy·W, dW = dyᵀ·x, db = Σ_n dy (db is returned whether or not the layer has a bias). */
export function linearBackward(
  dy: Arr,
  x: Arr,
  w: Arr,
  N: number,
  In: number,
  Out: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(N * In);
  const dw = new Float64Array(Out * In);
  const db = new Float64Array(Out);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Out; o++) {
      const g = dy[n * Out + o]!;
      db[o] += g;
      for (let i = 0; i < In; i++) {
        dx[n * In + i] += g * w[o * In + i]!;
        dw[o * In + i] += g * x[n * In + i]!;
      }
    }
  }
  return { dx, dw, db };
}

// ---------------------------------------------------------------- rope

/**
 * Rotates each (x0, x1) pair of each head by θ = f32(f32(t)·invFreq[i]), t = n % T: the angle is
 * rounded to f32 as the GPU forms it (as the inference reference does), cos/sin are f64. The
 * rotation sign s = +1 forward, −1 backward (the inverse of a rotation is its transpose).
 */
function ropeRotate(x: Arr, invFreq: Arr, N: number, T: number, heads: number, hd: number, neox: boolean, s: number): Float64Array {
  const half = hd / 2;
  const y = new Float64Array(N * heads * hd);
  for (let n = 0; n < N; n++) {
    const t = Math.fround(n % T);
    for (let i = 0; i < half; i++) {
      const a = Math.fround(t * invFreq[i]!);
      const c = Math.cos(a);
      const sn = s * Math.sin(a);
      for (let h = 0; h < heads; h++) {
        const base = (n * heads + h) * hd;
        const i0 = neox ? base + i : base + 2 * i;
        const i1 = neox ? base + i + half : base + 2 * i + 1;
        const x0 = x[i0]!;
        const x1 = x[i1]!;
        y[i0] = x0 * c - x1 * sn;
        y[i1] = x0 * sn + x1 * c;
      }
    }
  }
  return y;
}

/** x[N, heads·hd]; normal pairs (2i, 2i+1), neox pairs (i, i + hd/2). */
export function ropeForward(x: Arr, invFreq: Arr, N: number, T: number, heads: number, hd: number, neox: boolean): Float64Array {
  return ropeRotate(x, invFreq, N, T, heads, hd, neox, 1);
}

/** dx = rotation of dy by −θ. */
export function ropeBackward(dy: Arr, invFreq: Arr, N: number, T: number, heads: number, hd: number, neox: boolean): Float64Array {
  return ropeRotate(dy, invFreq, N, T, heads, hd, neox, -1);
}

// ---------------------------------------------------------------- attention

/**
 * Causal grouped-query attention per sequence: scores = q·kᵀ/√hd over j ≤ i, softmax (max
 * subtracted), out = probs·v. Query head h reads kv head ⌊h / (H/Hk)⌋. probs[B, H, T, T] is kept
 * (zero above the diagonal) for the backward pass.
 */
export function attentionForward(
  q: Arr,
  k: Arr,
  v: Arr,
  B: number,
  T: number,
  H: number,
  Hk: number,
  hd: number,
): { out: Float64Array; probs: Float64Array } {
  const qw = H * hd;
  const kw = Hk * hd;
  const group = H / Hk;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float64Array(B * T * qw);
  const probs = new Float64Array(B * H * T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const qb = (b * T + i) * qw + h * hd;
        const pb = ((b * H + h) * T + i) * T;
        let m = -Infinity;
        for (let j = 0; j <= i; j++) {
          const kb = (b * T + j) * kw + kh * hd;
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[qb + d]! * k[kb + d]!;
          probs[pb + j] = dot * scale;
          if (probs[pb + j]! > m) m = probs[pb + j]!;
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) {
          probs[pb + j] = Math.exp(probs[pb + j]! - m);
          sum += probs[pb + j]!;
        }
        for (let j = 0; j <= i; j++) probs[pb + j] = probs[pb + j]! / sum;
        for (let j = 0; j <= i; j++) {
          const p = probs[pb + j]!;
          const vb = (b * T + j) * kw + kh * hd;
          for (let d = 0; d < hd; d++) out[qb + d] += p * v[vb + d]!;
        }
      }
    }
  }
  return { out, probs };
}

/**
 * dv_j = Σ_i p_ij·dout_i; dp_ij = dout_i·v_j; ds_ij = p_ij·(dp_ij − Σ_j' p_ij'·dp_ij') (softmax
 * backward); dq_i = scale·Σ_j ds_ij·k_j; dk_j = scale·Σ_i ds_ij·q_i. The query heads that share
 * a kv head add their dk/dv into it.
 */
export function attentionBackward(
  dout: Arr,
  q: Arr,
  k: Arr,
  v: Arr,
  probs: Arr,
  B: number,
  T: number,
  H: number,
  Hk: number,
  hd: number,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const qw = H * hd;
  const kw = Hk * hd;
  const group = H / Hk;
  const scale = 1 / Math.sqrt(hd);
  const dq = new Float64Array(B * T * qw);
  const dk = new Float64Array(B * T * kw);
  const dv = new Float64Array(B * T * kw);
  const dp = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const qb = (b * T + i) * qw + h * hd;
        const pb = ((b * H + h) * T + i) * T;
        let pdp = 0;
        for (let j = 0; j <= i; j++) {
          const vb = (b * T + j) * kw + kh * hd;
          const p = probs[pb + j]!;
          let dot = 0;
          for (let d = 0; d < hd; d++) {
            dot += dout[qb + d]! * v[vb + d]!;
            dv[vb + d] += p * dout[qb + d]!;
          }
          dp[j] = dot;
          pdp += p * dot;
        }
        for (let j = 0; j <= i; j++) {
          const ds = probs[pb + j]! * (dp[j]! - pdp) * scale;
          const kb = (b * T + j) * kw + kh * hd;
          for (let d = 0; d < hd; d++) {
            dq[qb + d] += ds * k[kb + d]!;
            dk[kb + d] += ds * q[qb + d]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---------------------------------------------------------------- swiglu

function sigmoid(g: number): number {
  return 1 / (1 + Math.exp(-g));
}

/** a = silu(gate)·up, silu(g) = g/(1+e^−g). */
export function swigluForward(gate: Arr, up: Arr): Float64Array {
  const a = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    a[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return a;
}

/** silu'(g) = σ(g)·(1 + g·(1 − σ(g))); dgate = da·up·silu'(g), dup = da·silu(g). */
export function swigluBackward(da: Arr, gate: Arr, up: Arr): { dgate: Float64Array; dup: Float64Array } {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    const s = sigmoid(g);
    dgate[i] = da[i]! * up[i]! * s * (1 + g * (1 - s));
    dup[i] = da[i]! * g * s;
  }
  return { dgate, dup };
}

// ---------------------------------------------------------------- add

export function addForward(a: Arr, b: Arr): Float64Array {
  const y = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) y[i] = a[i]! + b[i]!;
  return y;
}

/** The gradient of a sum passes unchanged to both inputs (copies, so callers may mutate them). */
export function addBackward(dy: Arr): { da: Float64Array; db: Float64Array } {
  return { da: Float64Array.from(dy), db: Float64Array.from(dy) };
}

// ---------------------------------------------------------------- cross-entropy

/** rowLoss[n] = logsumexp(logits[n]) − logits[n, targets[n]] (max subtracted); loss = mean. */
export function crossEntropyForward(
  logits: Arr,
  targets: Int32Array,
  N: number,
  V: number,
): { loss: number; rowLoss: Float64Array } {
  const rowLoss = new Float64Array(N);
  let total = 0;
  for (let n = 0; n < N; n++) {
    const tgt = targets[n]!;
    if (!(tgt >= 0 && tgt < V)) throw new RangeError(`crossEntropyForward: targets[${n}] = ${tgt} outside [0, ${V})`);
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, logits[n * V + c]!);
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[n * V + c]! - m);
    rowLoss[n] = m + Math.log(sum) - logits[n * V + tgt]!;
    total += rowLoss[n]!;
  }
  return { loss: total / N, rowLoss };
}

/** dlogits = (softmax − onehot(target))·scale; scale = 1/N gives the gradient of the mean. */
export function crossEntropyBackward(logits: Arr, targets: Int32Array, N: number, V: number, scale: number): Float64Array {
  const dl = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    const tgt = targets[n]!;
    if (!(tgt >= 0 && tgt < V)) throw new RangeError(`crossEntropyBackward: targets[${n}] = ${tgt} outside [0, ${V})`);
    let m = -Infinity;
    for (let c = 0; c < V; c++) m = Math.max(m, logits[n * V + c]!);
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[n * V + c]! - m);
    for (let c = 0; c < V; c++) {
      const p = Math.exp(logits[n * V + c]! - m) / sum;
      dl[n * V + c] = (p - (c === tgt ? 1 : 0)) * scale;
    }
  }
  return dl;
}
