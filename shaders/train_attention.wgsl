// Causal grouped-query attention for training, forward and backward, with the softmax
// probabilities kept (specs/training.md, "Attention: what is kept"). B sequences of T tokens;
// q, out, dq, dout = [B*T, H*hd]; k, v, dk, dv = [B*T, Hk*hd]; probs = [B, H, T, T] (zero above
// the diagonal); dprobs = [B, H, T, T] scratch; query head h reads kv head h / (H / Hk); alpha =
// 1/sqrt(hd). Math (per sequence b and head h, rows i, keys j <= i):
//   forward   s_ij = alpha q_i.k_j, p_ij = exp(s_ij - m_i) / l_i, out_i = sum_j p_ij v_j
//   backward  dp_ij = dout_i.v_j, D_i = sum_j p_ij dp_ij, ds_ij = alpha p_ij (dp_ij - D_i),
//             dq_i = sum_j ds_ij k_j, dk_j = sum_{h in group} sum_i ds_ij q_i, dv_j = likewise p_ij dout_i
//
// Fast path (headDim % 4 == 0): fwd, bwd_q, bwd_kv. Shaped for lavapipe (llvmpipe runs a
// workgroup as SIMD vectors, one lane per invocation): there, a load whose address is the same
// for every lane (it depends only on loop counters and the workgroup) is one scalar load, while
// a per-lane address costs a load per lane, and a private array indexed by an unrolled loop
// lives in registers. So each invocation owns R = 4 rows (rows i0 + lane + 16r of a 64-row
// block: query rows in fwd / bwd_q, key rows in bwd_kv), keeps their head vectors in private
// vec4 arrays, and streams the other operand (k, v, q, dout rows) with lane-uniform vec4 loads
// that every one of its 4 rows reuses. Head dims go in chunks of CH = 8 vec4s (32 dims
// per pass over the keys, partial scores summed through M when hd > 32). On a GPU the same
// loads are broadcasts and the per-lane ones coalesce. No workgroup memory, no barriers.
//   fwd     per (64 query rows, h, b): scores + row max -> M; exp, row sums and out = P V in one
//           pass; then M = probs (normalized, zeros above the diagonal up to T).
//   bwd_q   per (64 query rows, h, b): dp -> M and D; then ds -> M (j <= i; above is left
//           undefined) and dq = dS K.
//   bwd_kv  per (64 key rows, kv head, b): dk, dv summed over the group's heads (outer) and the
//           query rows i >= j (inner) in that fixed order.
// Generic path (any headDim): batched matrix products over the lower triangle plus two row
// kernels, at the end of this file (scores, softmax_fwd, pv / scores, softmax_bwd, pv, ptv).
// Every output is one invocation's fixed loop, no atomics: bitwise reproducible.
// Bindings (all storage read_write so that ranges of one arena buffer can be bound together;
// WebGPU rejects a buffer bound both read-only and writable in one dispatch):
//   0 uniform P { T, H, Hk, hd, nt, ndt, rows, alpha }
//   fast:    1 A4 (fwd, bwd_kv: q; bwd_q: dout), 2 B4 (fwd, bwd_q: k; bwd_kv: dout), 5 C4 v,
//            3 M (fwd: probs; bwd_*: dprobs), 4 PM probs (bwd_*), 6 O4 (out, dq, dk), 7 O4b (dv)
//   generic: 1 X [B*T, H*hd] (q or dout), 2 Y [B*T, Hk*hd] (k or v), 3 M [B, H, T, T],
//            4 PM probs (softmax_bwd), 5 O (pv [B*T, H*hd], ptv [B*T, Hk*hd])
// Variants: f32 only.
// Reference: shared/train/reference/ops.ts (attentionForward, attentionBackward).

struct P { T: u32, H: u32, Hk: u32, hd: u32, nt: u32, ndt: u32, rows: u32, alpha: f32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> A4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<storage, read_write> B4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> PM: array<f32>;
@group(0) @binding(5) var<storage, read_write> O: array<f32>;
@group(0) @binding(5) var<storage, read_write> C4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> O4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> O4b: array<vec4<f32>>;

const NEG_BIG: f32 = -3.0e38;

// ---- fast path --------------------------------------------------------------------------

const LANES: u32 = 16u;     // workgroup size: llvmpipe's vector width on AVX-512 (two vectors on AVX2)
const ROWS: u32 = 64u;      // rows per workgroup: 4 per invocation
const CH: u32 = 8u;         // vec4s per head-dim chunk (32 dims); helpers below are written for 8

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// The 4 rows of this invocation: i0 + lane + 16r.
fn laneRows(i0: u32, li: u32) -> vec4<u32> {
  return vec4(i0 + li, i0 + li + LANES, i0 + li + 2u * LANES, i0 + li + 3u * LANES);
}

// Row r's dot product x[8r .. 8r+8) . (k0 .. k7), for the 4 rows. Literal indices keep x in
// registers (an index that is not a constant makes llvmpipe address every lane separately).
fn dots(x: ptr<function, array<vec4<f32>, 32>>, k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>,
        k4: vec4<f32>, k5: vec4<f32>, k6: vec4<f32>, k7: vec4<f32>) -> vec4<f32> {
  let a = (*x)[0] * k0 + (*x)[1] * k1 + (*x)[2] * k2 + (*x)[3] * k3 + (*x)[4] * k4 + (*x)[5] * k5 + (*x)[6] * k6 + (*x)[7] * k7;
  let b = (*x)[8] * k0 + (*x)[9] * k1 + (*x)[10] * k2 + (*x)[11] * k3 + (*x)[12] * k4 + (*x)[13] * k5 + (*x)[14] * k6 + (*x)[15] * k7;
  let c = (*x)[16] * k0 + (*x)[17] * k1 + (*x)[18] * k2 + (*x)[19] * k3 + (*x)[20] * k4 + (*x)[21] * k5 + (*x)[22] * k6 + (*x)[23] * k7;
  let d = (*x)[24] * k0 + (*x)[25] * k1 + (*x)[26] * k2 + (*x)[27] * k3 + (*x)[28] * k4 + (*x)[29] * k5 + (*x)[30] * k6 + (*x)[31] * k7;
  return vec4(hsum(a), hsum(b), hsum(c), hsum(d));
}

// acc[8r + d] += w[r] * v_d for the 4 rows r and d < 8 (literal indices, as in dots).
fn axpy(acc: ptr<function, array<vec4<f32>, 32>>, w: vec4<f32>, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>,
        v3: vec4<f32>, v4: vec4<f32>, v5: vec4<f32>, v6: vec4<f32>, v7: vec4<f32>) {
  (*acc)[0] += w.x * v0; (*acc)[1] += w.x * v1; (*acc)[2] += w.x * v2; (*acc)[3] += w.x * v3;
  (*acc)[4] += w.x * v4; (*acc)[5] += w.x * v5; (*acc)[6] += w.x * v6; (*acc)[7] += w.x * v7;
  (*acc)[8] += w.y * v0; (*acc)[9] += w.y * v1; (*acc)[10] += w.y * v2; (*acc)[11] += w.y * v3;
  (*acc)[12] += w.y * v4; (*acc)[13] += w.y * v5; (*acc)[14] += w.y * v6; (*acc)[15] += w.y * v7;
  (*acc)[16] += w.z * v0; (*acc)[17] += w.z * v1; (*acc)[18] += w.z * v2; (*acc)[19] += w.z * v3;
  (*acc)[20] += w.z * v4; (*acc)[21] += w.z * v5; (*acc)[22] += w.z * v6; (*acc)[23] += w.z * v7;
  (*acc)[24] += w.w * v0; (*acc)[25] += w.w * v1; (*acc)[26] += w.w * v2; (*acc)[27] += w.w * v3;
  (*acc)[28] += w.w * v4; (*acc)[29] += w.w * v5; (*acc)[30] += w.w * v6; (*acc)[31] += w.w * v7;
}

// Per-lane loads and stores sit in loops that the compiler cannot unroll (the bound d0 + nd
// starts from a run-time d0; a bound like `d < min(8, x)` gets unrolled): each such site
// becomes per-lane code in llvmpipe, and dozens of unrolled ones cost seconds of compile time.

// Scores, softmax and out = P V for 64 query rows of head h of sequence b.
@compute @workgroup_size(LANES)
fn fwd(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let h = wid.y;
  let b = wid.z;
  let i0 = wid.x * ROWS;
  let kvh = h / (p.H / p.Hk);
  let hd4 = p.hd / 4u;
  let xs4 = p.H * hd4;
  let ys4 = p.Hk * hd4;
  let kb0 = b * p.T * ys4 + kvh * hd4;
  let ir = laneRows(i0, li);
  let live = ir < vec4(p.T);
  let iq = min(ir, vec4(p.T - 1u));                       // dead rows compute row T-1, never store
  let mrow = ((b * p.H + h) * p.T + iq) * p.T;
  let qrow = (b * p.T + iq) * xs4 + h * hd4;
  let jEnd = min(p.T, i0 + ROWS);
  let nch = (hd4 + CH - 1u) / CH;
  let zero = vec4(0.0);

  // Pass 1: s_ij (chunks of 32 dims summed through M), row max m.
  var q: array<vec4<f32>, 32>;                              // [8r + d]
  var m = vec4(NEG_BIG);
  for (var c = 0u; c < nch; c++) {
    let d0 = c * CH;
    let nd = min(CH, hd4 - d0);
    let dEnd = d0 + nd;
    q = array<vec4<f32>, 32>();
    for (var r = 0u; r < 4u; r++) {
      for (var d = d0; d < dEnd; d++) { q[r * CH + d - d0] = A4[qrow[r] + d]; }
    }
    for (var j = 0u; j < jEnd; j++) {
      let kb = kb0 + j * ys4 + d0;
      // Past nd the loads read a neighbour (maybe NaN): selected away, never multiplied.
      var s = dots(&q, B4[kb], select(zero, B4[kb + 1u], 1u < nd), select(zero, B4[kb + 2u], 2u < nd),
                   select(zero, B4[kb + 3u], 3u < nd), select(zero, B4[kb + 4u], 4u < nd), select(zero, B4[kb + 5u], 5u < nd),
                   select(zero, B4[kb + 6u], 6u < nd), select(zero, B4[kb + 7u], 7u < nd));
      let ok = live & (vec4(j) <= ir);
      if (c > 0u) { s += vec4(M[mrow.x + j], M[mrow.y + j], M[mrow.z + j], M[mrow.w + j]); }
      if (c + 1u == nch) {
        s *= p.alpha;
        m = select(m, max(m, s), ok);
      }
      if (ok.x) { M[mrow.x + j] = s.x; }
      if (ok.y) { M[mrow.y + j] = s.y; }
      if (ok.z) { M[mrow.z + j] = s.z; }
      if (ok.w) { M[mrow.w + j] = s.w; }
    }
  }

  // Pass 2: e_ij = exp(s_ij - m_i), l_i = sum_j e_ij, out_i = sum_j e_ij v_j / l_i.
  var l = vec4(0.0);
  var acc: array<vec4<f32>, 32>;
  for (var c = 0u; c < nch; c++) {
    let d0 = c * CH;
    let nd = min(CH, hd4 - d0);
    let dEnd = d0 + nd;
    acc = array<vec4<f32>, 32>();
    for (var j = 0u; j < jEnd; j++) {
      let ok = live & (vec4(j) <= ir);
      let s = vec4(M[mrow.x + j], M[mrow.y + j], M[mrow.z + j], M[mrow.w + j]);
      let e = select(zero, exp(s - m), ok);
      if (c == 0u) { l += e; }
      let vb = kb0 + j * ys4 + d0;
      axpy(&acc, e, C4[vb], select(zero, C4[vb + 1u], 1u < nd), select(zero, C4[vb + 2u], 2u < nd),
           select(zero, C4[vb + 3u], 3u < nd), select(zero, C4[vb + 4u], 4u < nd), select(zero, C4[vb + 5u], 5u < nd),
           select(zero, C4[vb + 6u], 6u < nd), select(zero, C4[vb + 7u], 7u < nd));
    }
    let inv = 1.0 / l;
    for (var r = 0u; r < 4u; r++) {
      if (live[r]) {
        let ob = (b * p.T + ir[r]) * xs4 + h * hd4;
        for (var d = d0; d < dEnd; d++) { O4[ob + d] = acc[r * CH + d - d0] * inv[r]; }
      }
    }
  }

  // Pass 3: M = probs over the whole row: exp(s - m) / l for j <= i, 0 above.
  let inv = 1.0 / l;
  for (var j = 0u; j < p.T; j++) {
    let ok = live & (vec4(j) <= ir);
    let s = vec4(M[mrow.x + j], M[mrow.y + j], M[mrow.z + j], M[mrow.w + j]);  // above i: not used
    let pr = select(zero, exp(s - m) * inv, ok);
    if (live.x) { M[mrow.x + j] = pr.x; }
    if (live.y) { M[mrow.y + j] = pr.y; }
    if (live.z) { M[mrow.z + j] = pr.z; }
    if (live.w) { M[mrow.w + j] = pr.w; }
  }
}

// dp -> M and D; then ds -> M and dq = dS K, for 64 query rows of head h of sequence b.
@compute @workgroup_size(LANES)
fn bwd_q(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let h = wid.y;
  let b = wid.z;
  let i0 = wid.x * ROWS;
  let kvh = h / (p.H / p.Hk);
  let hd4 = p.hd / 4u;
  let xs4 = p.H * hd4;
  let ys4 = p.Hk * hd4;
  let kb0 = b * p.T * ys4 + kvh * hd4;
  let ir = laneRows(i0, li);
  let live = ir < vec4(p.T);
  let iq = min(ir, vec4(p.T - 1u));
  let mrow = ((b * p.H + h) * p.T + iq) * p.T;
  let qrow = (b * p.T + iq) * xs4 + h * hd4;
  let jEnd = min(p.T, i0 + ROWS);
  let nch = (hd4 + CH - 1u) / CH;
  let zero = vec4(0.0);

  // Pass A: dp_ij = dout_i . v_j (chunks summed through M), D_i = sum_j p_ij dp_ij.
  var g: array<vec4<f32>, 32>;
  var dsum = vec4(0.0);
  for (var c = 0u; c < nch; c++) {
    let d0 = c * CH;
    let nd = min(CH, hd4 - d0);
    let dEnd = d0 + nd;
    g = array<vec4<f32>, 32>();
    for (var r = 0u; r < 4u; r++) {
      for (var d = d0; d < dEnd; d++) { g[r * CH + d - d0] = A4[qrow[r] + d]; }
    }
    for (var j = 0u; j < jEnd; j++) {
      let vb = kb0 + j * ys4 + d0;
      var dp = dots(&g, C4[vb], select(zero, C4[vb + 1u], 1u < nd), select(zero, C4[vb + 2u], 2u < nd),
                    select(zero, C4[vb + 3u], 3u < nd), select(zero, C4[vb + 4u], 4u < nd), select(zero, C4[vb + 5u], 5u < nd),
                    select(zero, C4[vb + 6u], 6u < nd), select(zero, C4[vb + 7u], 7u < nd));
      let ok = live & (vec4(j) <= ir);
      if (c > 0u) { dp += vec4(M[mrow.x + j], M[mrow.y + j], M[mrow.z + j], M[mrow.w + j]); }
      if (c + 1u == nch) {
        let pr = vec4(PM[mrow.x + j], PM[mrow.y + j], PM[mrow.z + j], PM[mrow.w + j]);
        dsum += select(zero, pr * dp, ok);
      }
      if (ok.x) { M[mrow.x + j] = dp.x; }
      if (ok.y) { M[mrow.y + j] = dp.y; }
      if (ok.z) { M[mrow.z + j] = dp.z; }
      if (ok.w) { M[mrow.w + j] = dp.w; }
    }
  }

  // Pass B: ds_ij = alpha p_ij (dp_ij - D_i) into M (first chunk), dq_i = sum_j ds_ij k_j.
  var acc: array<vec4<f32>, 32>;
  for (var c = 0u; c < nch; c++) {
    let d0 = c * CH;
    let nd = min(CH, hd4 - d0);
    let dEnd = d0 + nd;
    acc = array<vec4<f32>, 32>();
    for (var j = 0u; j < jEnd; j++) {
      let ok = live & (vec4(j) <= ir);
      var ds = vec4(M[mrow.x + j], M[mrow.y + j], M[mrow.z + j], M[mrow.w + j]);
      if (c == 0u) {
        let pr = vec4(PM[mrow.x + j], PM[mrow.y + j], PM[mrow.z + j], PM[mrow.w + j]);
        ds = p.alpha * pr * (ds - dsum);
        if (ok.x) { M[mrow.x + j] = ds.x; }
        if (ok.y) { M[mrow.y + j] = ds.y; }
        if (ok.z) { M[mrow.z + j] = ds.z; }
        if (ok.w) { M[mrow.w + j] = ds.w; }
      }
      ds = select(zero, ds, ok);
      let kb = kb0 + j * ys4 + d0;
      axpy(&acc, ds, B4[kb], select(zero, B4[kb + 1u], 1u < nd), select(zero, B4[kb + 2u], 2u < nd),
           select(zero, B4[kb + 3u], 3u < nd), select(zero, B4[kb + 4u], 4u < nd), select(zero, B4[kb + 5u], 5u < nd),
           select(zero, B4[kb + 6u], 6u < nd), select(zero, B4[kb + 7u], 7u < nd));
    }
    for (var r = 0u; r < 4u; r++) {
      if (live[r]) {
        let ob = (b * p.T + ir[r]) * xs4 + h * hd4;
        for (var d = d0; d < dEnd; d++) { O4[ob + d] = acc[r * CH + d - d0]; }
      }
    }
  }
}

// dk_j = sum_{h in group} sum_{i >= j} ds_ij q_i and dv_j = the same with p_ij dout_i, for 64 key
// rows of kv head kvh of sequence b. ds above the diagonal is undefined in M: selected away.
@compute @workgroup_size(LANES)
fn bwd_kv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let kvh = wid.y;
  let b = wid.z;
  let j0 = wid.x * ROWS;
  let grp = p.H / p.Hk;
  let hd4 = p.hd / 4u;
  let xs4 = p.H * hd4;
  let ys4 = p.Hk * hd4;
  let jr = laneRows(j0, li);
  let live = jr < vec4(p.T);
  let jq = min(jr, vec4(p.T - 1u));
  let nch = (hd4 + CH - 1u) / CH;
  let zero = vec4(0.0);
  var dk: array<vec4<f32>, 32>;
  var dv: array<vec4<f32>, 32>;
  for (var c = 0u; c < nch; c++) {
    let d0 = c * CH;
    let nd = min(CH, hd4 - d0);
    let dEnd = d0 + nd;
    dk = array<vec4<f32>, 32>();
    dv = array<vec4<f32>, 32>();
    for (var gi = 0u; gi < grp; gi++) {
      let h = kvh * grp + gi;
      let mb = (b * p.H + h) * p.T * p.T;
      for (var i = j0; i < p.T; i++) {
        let ok = vec4(i) >= jr;
        let mi = mb + i * p.T;
        let pr = select(zero, vec4(PM[mi + jq.x], PM[mi + jq.y], PM[mi + jq.z], PM[mi + jq.w]), ok);
        let ds = select(zero, vec4(M[mi + jq.x], M[mi + jq.y], M[mi + jq.z], M[mi + jq.w]), ok);
        let xb = (b * p.T + i) * xs4 + h * hd4 + d0;
        axpy(&dv, pr, B4[xb], select(zero, B4[xb + 1u], 1u < nd), select(zero, B4[xb + 2u], 2u < nd),
             select(zero, B4[xb + 3u], 3u < nd), select(zero, B4[xb + 4u], 4u < nd), select(zero, B4[xb + 5u], 5u < nd),
             select(zero, B4[xb + 6u], 6u < nd), select(zero, B4[xb + 7u], 7u < nd));
        axpy(&dk, ds, A4[xb], select(zero, A4[xb + 1u], 1u < nd), select(zero, A4[xb + 2u], 2u < nd),
             select(zero, A4[xb + 3u], 3u < nd), select(zero, A4[xb + 4u], 4u < nd), select(zero, A4[xb + 5u], 5u < nd),
             select(zero, A4[xb + 6u], 6u < nd), select(zero, A4[xb + 7u], 7u < nd));
      }
    }
    for (var r = 0u; r < 4u; r++) {
      if (live[r]) {
        let ob = (b * p.T + jr[r]) * ys4 + kvh * hd4;
        for (var d = d0; d < dEnd; d++) {
          O4[ob + d] = dk[r * CH + d - d0];
          O4b[ob + d] = dv[r * CH + d - d0];
        }
      }
    }
  }
}

// ---- generic path (any headDim) -----------------------------------------------------------
// Matrix kernels (scores, pv, ptv): one workgroup of 64 (8 x 8) per 32 x 32 output tile, grid
// [tiles, heads, B]; the reduction runs in chunks of KC = 16 staged in workgroup memory; each
// invocation owns rows ty + 8r and columns tx + 8c (r, c < 4). Tiles wholly above the diagonal
// are skipped (scores) or never read (pv stops at the tile's last row, ptv starts at its first
// column). Row kernels (softmax_fwd, softmax_bwd): 8 rows per workgroup, 8 lanes per row
// (j = lane, lane + 8, ..), max / sums by a fixed tree. ptv sums the group's heads outer, query
// positions inner. nt = ceil(T / 32), ndt = ceil(hd / 32), rows = B * H * T.
//   forward   scores: S = alpha Q K^T (j <= i)   softmax_fwd: P = softmax(S), 0 above   pv: O = P V
//   backward  ptv: dV = sum_group P^T dO         scores: dP = dO V^T    softmax_bwd: dS (0 above)
//             pv: dQ = dS K                      ptv: dK = sum_group dS^T Q

const TILE: u32 = 32u;   // output tile edge
const KC: u32 = 16u;     // reduction chunk

var<workgroup> As: array<f32, 512>;  // [TILE][KC]: the tile's output rows, this chunk
var<workgroup> Bs: array<f32, 512>;  // [KC][TILE]: this chunk, the tile's output columns
var<workgroup> red: array<f32, 64>;

fn mBase(b: u32, h: u32) -> u32 {
  return (b * p.H + h) * p.T * p.T;
}

// acc[r * 4 + c] += sum_kk As[ty + 8r][kk] * Bs[kk][tx + 8c] over the staged chunk.
fn mma(acc: ptr<function, array<f32, 16>>, tx: u32, ty: u32) {
  for (var kk = 0u; kk < KC; kk++) {
    let a0 = As[ty * KC + kk];
    let a1 = As[(ty + 8u) * KC + kk];
    let a2 = As[(ty + 16u) * KC + kk];
    let a3 = As[(ty + 24u) * KC + kk];
    let bo = kk * TILE + tx;
    let b0 = Bs[bo];
    let b1 = Bs[bo + 8u];
    let b2 = Bs[bo + 16u];
    let b3 = Bs[bo + 24u];
    (*acc)[0] += a0 * b0; (*acc)[1] += a0 * b1; (*acc)[2] += a0 * b2; (*acc)[3] += a0 * b3;
    (*acc)[4] += a1 * b0; (*acc)[5] += a1 * b1; (*acc)[6] += a1 * b2; (*acc)[7] += a1 * b3;
    (*acc)[8] += a2 * b0; (*acc)[9] += a2 * b1; (*acc)[10] += a2 * b2; (*acc)[11] += a2 * b3;
    (*acc)[12] += a3 * b0; (*acc)[13] += a3 * b1; (*acc)[14] += a3 * b2; (*acc)[15] += a3 * b3;
  }
}

// M[b, h, i, j] = alpha * sum_d X[b*T + i, h*hd + d] * Y[b*T + j, kvh*hd + d], for j <= i only.
@compute @workgroup_size(64)
fn scores(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let ti = wid.x / p.nt;
  let tj = wid.x % p.nt;
  if (tj > ti) { return; }                 // wholly above the diagonal
  let h = wid.y;
  let b = wid.z;
  let kvh = h / (p.H / p.Hk);
  let i0 = ti * TILE;
  let j0 = tj * TILE;
  let xs = p.H * p.hd;
  let ys = p.Hk * p.hd;
  let xb = b * p.T * xs + h * p.hd;
  let yb = b * p.T * ys + kvh * p.hd;
  let tx = li % 8u;
  let ty = li / 8u;
  var acc: array<f32, 16>;
  for (var d0 = 0u; d0 < p.hd; d0 += KC) {
    for (var u = 0u; u < 8u; u++) {
      let e = li + u * 64u;
      let r = e / KC;                      // row of the tile (i for As, j for Bs)
      let kk = e % KC;
      let d = d0 + kk;
      var av = 0.0;
      if (i0 + r < p.T && d < p.hd) { av = X[xb + (i0 + r) * xs + d]; }
      As[e] = av;
      var bv = 0.0;
      if (j0 + r < p.T && d < p.hd) { bv = Y[yb + (j0 + r) * ys + d]; }
      Bs[kk * TILE + r] = bv;
    }
    workgroupBarrier();
    mma(&acc, tx, ty);
    workgroupBarrier();
  }
  let mb = mBase(b, h);
  for (var r = 0u; r < 4u; r++) {
    let i = i0 + ty + 8u * r;
    for (var c = 0u; c < 4u; c++) {
      let j = j0 + tx + 8u * c;
      if (i < p.T && j <= i) { M[mb + i * p.T + j] = p.alpha * acc[r * 4u + c]; }
    }
  }
}

// O[b*T + i, h*hd + d] = alpha * sum_{j} M[b, h, i, j] * Y[b*T + j, kvh*hd + d]; M is zero above
// the diagonal, so the sum stops at the tile's last row.
@compute @workgroup_size(64)
fn pv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let ti = wid.x / p.ndt;
  let td = wid.x % p.ndt;
  let h = wid.y;
  let b = wid.z;
  let kvh = h / (p.H / p.Hk);
  let i0 = ti * TILE;
  let d0 = td * TILE;
  let xs = p.H * p.hd;
  let ys = p.Hk * p.hd;
  let yb = b * p.T * ys + kvh * p.hd;
  let mb = mBase(b, h);
  let jEnd = min(p.T, i0 + TILE);
  let tx = li % 8u;
  let ty = li / 8u;
  var acc: array<f32, 16>;
  for (var j0 = 0u; j0 < jEnd; j0 += KC) {
    for (var u = 0u; u < 8u; u++) {
      let e = li + u * 64u;
      let r = e / KC;
      let kk = e % KC;
      let i = i0 + r;
      let j = j0 + kk;
      var av = 0.0;
      if (i < p.T && j < p.T) { av = M[mb + i * p.T + j]; }
      As[e] = av;
      let jj = e / TILE;
      let dd = e % TILE;
      let jb = j0 + jj;
      let d = d0 + dd;
      var bv = 0.0;
      if (jb < p.T && d < p.hd) { bv = Y[yb + jb * ys + d]; }
      Bs[e] = bv;
    }
    workgroupBarrier();
    mma(&acc, tx, ty);
    workgroupBarrier();
  }
  let ob = b * p.T * xs + h * p.hd;
  for (var r = 0u; r < 4u; r++) {
    let i = i0 + ty + 8u * r;
    for (var c = 0u; c < 4u; c++) {
      let d = d0 + tx + 8u * c;
      if (i < p.T && d < p.hd) { O[ob + i * xs + d] = p.alpha * acc[r * 4u + c]; }
    }
  }
}

// O[b*T + j, kvh*hd + d] = alpha * sum_{h in group(kvh)} sum_{i >= j} M[b, h, i, j] * X[b*T + i, h*hd + d].
// Rows i below the tile's first column are zero in M, so the sum starts there.
@compute @workgroup_size(64)
fn ptv(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let tj = wid.x / p.ndt;
  let td = wid.x % p.ndt;
  let kvh = wid.y;
  let b = wid.z;
  let grp = p.H / p.Hk;
  let j0 = tj * TILE;
  let d0 = td * TILE;
  let xs = p.H * p.hd;
  let ys = p.Hk * p.hd;
  let tx = li % 8u;
  let ty = li / 8u;
  var acc: array<f32, 16>;
  for (var g = 0u; g < grp; g++) {
    let h = kvh * grp + g;
    let mb = mBase(b, h);
    let xb = b * p.T * xs + h * p.hd;
    for (var i0 = j0; i0 < p.T; i0 += KC) {
      for (var u = 0u; u < 8u; u++) {
        let e = li + u * 64u;
        let kk = e / TILE;                 // query position within the chunk
        let r = e % TILE;                  // key position within the tile (contiguous in M)
        let i = i0 + kk;
        let j = j0 + r;
        var av = 0.0;
        if (i < p.T && j < p.T) { av = M[mb + i * p.T + j]; }
        As[r * KC + kk] = av;
        let d = d0 + r;
        var bv = 0.0;
        if (i < p.T && d < p.hd) { bv = X[xb + i * xs + d]; }
        Bs[e] = bv;                        // Bs[kk][r]
      }
      workgroupBarrier();
      mma(&acc, tx, ty);
      workgroupBarrier();
    }
  }
  let ob = b * p.T * ys + kvh * p.hd;
  for (var r = 0u; r < 4u; r++) {
    let j = j0 + ty + 8u * r;
    for (var c = 0u; c < 4u; c++) {
      let d = d0 + tx + 8u * c;
      if (j < p.T && d < p.hd) { O[ob + j * ys + d] = p.alpha * acc[r * 4u + c]; }
    }
  }
}

// Sums (or maxes) red[8 * rowInGroup + 0..8) by a fixed tree; every lane of the row gets the result.
fn rowReduce(li: u32, v: f32, isMax: bool) -> f32 {
  red[li] = v;
  workgroupBarrier();
  let lane = li % 8u;
  for (var s = 4u; s > 0u; s >>= 1u) {
    if (lane < s) {
      if (isMax) { red[li] = max(red[li], red[li + s]); } else { red[li] += red[li + s]; }
    }
    workgroupBarrier();
  }
  let r = red[li - lane];
  workgroupBarrier();                      // all have read before red is reused
  return r;
}

// In place on row g = (b*H + h)*T + i of M: softmax over j <= i (max subtracted), zeros above.
@compute @workgroup_size(64)
fn softmax_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = (wid.x + wid.y * nwg.x) * 8u + li / 8u;
  let lane = li % 8u;
  let live = g < p.rows;                   // not an early return: the barriers need every lane
  let i = g % p.T;
  let base = g * p.T;
  var m = NEG_BIG;
  if (live) {
    for (var j = lane; j <= i; j += 8u) { m = max(m, M[base + j]); }
  }
  m = rowReduce(li, m, true);
  var s = 0.0;
  if (live) {
    for (var j = lane; j <= i; j += 8u) { s += exp(M[base + j] - m); }
  }
  let inv = 1.0 / rowReduce(li, s, false);
  if (live) {
    for (var j = lane; j < p.T; j += 8u) {
      if (j <= i) { M[base + j] = exp(M[base + j] - m) * inv; } else { M[base + j] = 0.0; }
    }
  }
}

// In place on row g of M = dP: dS = alpha * P * (dP - sum_j P dP) over j <= i, zeros above.
@compute @workgroup_size(64)
fn softmax_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = (wid.x + wid.y * nwg.x) * 8u + li / 8u;
  let lane = li % 8u;
  let live = g < p.rows;
  let i = g % p.T;
  let base = g * p.T;
  var s = 0.0;
  if (live) {
    for (var j = lane; j <= i; j += 8u) { s += PM[base + j] * M[base + j]; }
  }
  let dot = rowReduce(li, s, false);
  if (live) {
    for (var j = lane; j < p.T; j += 8u) {
      if (j <= i) { M[base + j] = p.alpha * PM[base + j] * (M[base + j] - dot); } else { M[base + j] = 0.0; }
    }
  }
}
