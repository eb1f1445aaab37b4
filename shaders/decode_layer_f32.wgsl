// One whole transformer block of a one-token decode step in ONE dispatch of ONE workgroup (issue 15
// §3: a stories260K-sized model is bound by the number of dispatches, not by its work; its block
// took five: q|k|v, attention_rope, o, gate|up, down). Every activation stays in workgroup memory;
// only x (the residual stream, in and out) and the layer's KV cache are in storage.
//   x += Wo · attention(rope(Wqkv · rmsnorm(x) · attnNorm))      (RoPE, KV append at pos0)
//   x += Wdown · swiglu(Wgu · rmsnorm(x) · ffnNorm)               (gate | up stacked, 2F rows)
// Each step is the same f32 operations in the same order as the dispatches it replaces: the
// products as matvec_fused_f32.wgsl (vec4 partial sums, its inv_rms order, x · inv · w, silu(g) · u,
// y + s); RoPE, the KV append and the attention as attention.wgsl's decode_rope, with AW (its WG,
// attentionWg(headDim)) invocations per head and the same key chunks of AW. So the logits are
// bit for bit those of the five-dispatch block (tests/gpu/engine-fused.test.ts), and the kernel is
// checked against decodeLayerRef (shared/engine/reference/fused.ts) in tests/gpu/decode-layer.test.ts.
// Taken only where every activation fits the device's workgroup memory (shared/engine/decode-layer.ts
// sizes the arrays below through the overrides and checks the limit).
// Bindings: 0 uniform P, 1 pack: the block's weights in one buffer as vec4 words (offsets in P, in
//           vec4s: attnNorm [E], qkv [R, E] (q | k | v rows), o [E, Q], ffnNorm [E], gu [2F, E]
//           (gate rows, then up rows), down [E, F]), 2 x (read_write, E values), 3 kCache,
//           4 vCache ([maxContext, kvHeads, headDim], read_write: row pos0 is written), 5 invFreq
//           (ropeDims / 2 values).
// Overrides: WG (invocations, <= 256), AW (attention invocations per head, a power of two, >=
// headDim / 4), NEOX, and the array sizes E4 = E/4, R = Q + 2·KV, Q4 = Q/4, F4 = F/4, HS = heads
// per pass · headDim (heads per pass = min(heads, WG / AW)). The sizes only size the arrays; every
// loop takes its bound from P: with constant trip counts LLVM unrolled them and lavapipe took about
// a minute (under load) to compile the kernel at its first dispatch, now ~10 s at load 8.
// Limits: no biases, q/k norms, post-norms, soft-cap or sliding window (the engine takes it only
// for blocks without them); E, Q and F multiples of 4; headDim <= 4 · AW.

//#include "_rope_angle"
//#include "_rms_tree"

struct P {
  E: u32, Q: u32, KV: u32, F: u32, heads: u32, kvHeads: u32, headDim: u32, pos0: u32, ropeDims: u32,
  oAttnNorm: u32, oQkv: u32, oO: u32, oFfnNorm: u32, oGu: u32, oDown: u32,
  scale: f32, eps: f32,
}

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> pack: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(5) var<storage, read> invFreq: array<f32>;

override WG: u32 = 256u;
override AW: u32 = 16u;
override NEOX: bool = false;
override E4: u32 = 16u;
override R: u32 = 128u;
override Q4: u32 = 16u;
override F4: u32 = 43u;
override HS: u32 = 64u;

const DPT: u32 = 4u;               // output dims per attention invocation (attention.wgsl's DPT)
const NEG_BIG: f32 = -3.0e38;

var<workgroup> xs: array<vec4<f32>, E4>;     // the residual stream
var<workgroup> qkv: array<f32, R>;
var<workgroup> att: array<vec4<f32>, Q4>;
var<workgroup> gu: array<vec4<f32>, 2u * F4>;
var<workgroup> act: array<vec4<f32>, F4>;
var<workgroup> ps: array<f32, WG>;     // a chunk's scores, lane by lane
var<workgroup> pw: array<f32, WG>;     // and their weights exp(s - m)
var<workgroup> qs: array<f32, HS>;
var<workgroup> kn: array<f32, HS>;
var<workgroup> vn: array<f32, HS>;

fn wq(i: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(pack[i]);
}

// 1 / sqrt(mean(x²) + eps) over xs in matvec_fused_f32.wgsl's inv_rms order.
fn inv_rms() -> f32 {
  var part: array<vec4<f32>, 16>;
  for (var k = 0u; k < p.E / 4u; k++) {
    let v = xs[k];
    part[k % 16u] += v * v;
  }
  return inv_rms_of_parts(&part, p.E, p.eps);
}

// Row rb of a matrix times rmsnorm(x) · w (w: a norm in the pack at vec4 offset o, inv: inv_rms(),
// which every invocation computes itself: the same value, and no barrier to share it), in
// matvec_fused_f32.wgsl's order: x · inv · w formed per row as it does.
fn dot_norm(rb: u32, o: u32, inv: f32) -> f32 {
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < p.E / 4u; k++) {
    acc += wq(rb + k) * (xs[k] * inv * wq(o + k));
  }
  return (acc.x + acc.y) + (acc.z + acc.w);
}

//#include "_rope_dim"

fn set_att(i: u32, v: f32) {
  att[i / 4u][i % 4u] = v;
}

// Heads hg · G .. hg · G + G - 1 (G = WG / AW heads a pass): invocation li serves head slot li / AW
// as attention.wgsl's invocation li % AW of that head's workgroup. Every invocation runs every
// barrier (the loop bounds are the same for all).
fn attend_pass(li: u32, hg: u32, G: u32) {
  let hd = p.headDim;
  let g = li / AW;
  let lj = li % AW;
  let h = hg * G + g;
  let live = g < G && h < p.heads;
  let kvh = select(0u, h / (p.heads / p.kvHeads), live);
  let kvw = p.kvHeads * hd;
  let len = p.pos0 + 1u;
  if (live) {
    let kb = p.Q + kvh * hd;
    let vb = p.Q + p.KV + kvh * hd;
    let row = p.pos0 * kvw + kvh * hd;
    let writer = h % (p.heads / p.kvHeads) == 0u;
    for (var d = lj; d < hd; d += AW) {
      let kv = rope_dim(d, qkv[kb + d], qkv[kb + rope_partner(d)], p.pos0);
      let vv = qkv[vb + d];
      kn[g * hd + d] = kv;
      vn[g * hd + d] = vv;
      if (writer) {
        kCache[row + d] = kv;
        vCache[row + d] = vv;
      }
      let qb = h * hd;
      qs[g * hd + d] = rope_dim(d, qkv[qb + d], qkv[qb + rope_partner(d)], p.pos0) * p.scale;
    }
  }
  workgroupBarrier();

  var m = NEG_BIG;
  var l = 0.0;
  var acc = array<f32, DPT>(0.0, 0.0, 0.0, 0.0);
  let pb = g * AW;
  for (var c0 = 0u; c0 < len; c0 += AW) {
    let n = min(AW, len - c0);
    let j = c0 + lj;
    var s = NEG_BIG;
    if (live && lj < n) {
      let kb = j * kvw + kvh * hd;
      var dot = 0.0;
      if (j + 1u == len) {
        for (var d = 0u; d < hd; d++) { dot += qs[g * hd + d] * kn[g * hd + d]; }
      } else {
        for (var d = 0u; d < hd; d++) { dot += qs[g * hd + d] * kCache[kb + d]; }
      }
      s = dot;
    }
    // Scores and weights in two arrays: two barriers a chunk instead of attention.wgsl's four
    // (a lane writes this chunk's scores only after every lane passed the previous chunk's
    // second barrier, so after it read them; likewise for the weights one barrier later).
    ps[li] = s;
    workgroupBarrier();
    var mNew = m;
    if (live) {
      for (var i = 0u; i < n; i++) { mNew = max(mNew, ps[pb + i]); }
    }
    pw[li] = select(0.0, exp(s - mNew), lj < n);
    workgroupBarrier();
    if (live) {
      let alpha = exp(m - mNew);
      var sum = 0.0;
      for (var i = 0u; i < n; i++) { sum += pw[pb + i]; }
      l = l * alpha + sum;
      let nc = select(n, n - 1u, c0 + n == len);
      for (var k = 0u; k < DPT; k++) {
        let d = lj + k * AW;
        if (d < hd) {
          var a = acc[k] * alpha;
          var vb = c0 * kvw + kvh * hd + d;
          for (var i = 0u; i < nc; i++) {
            a += pw[pb + i] * vCache[vb];
            vb += kvw;
          }
          if (nc < n) { a += pw[pb + nc] * vn[g * hd + d]; }
          acc[k] = a;
        }
      }
      m = mNew;
    }
  }
  if (live) {
    for (var k = 0u; k < DPT; k++) {
      let d = lj + k * AW;
      if (d < hd) { set_att(h * hd + d, acc[k] / l); }
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  for (var k = li; k < p.E / 4u; k += WG) {
    xs[k] = x[k];
  }
  workgroupBarrier();

  // q | k | v = Wqkv · rmsnorm(x) · attnNorm
  let inv0 = inv_rms();
  for (var r = li; r < p.Q + 2u * p.KV; r += WG) {
    qkv[r] = dot_norm(p.oQkv + r * (p.E / 4u), p.oAttnNorm, inv0);
  }
  workgroupBarrier();

  // RoPE, the KV append and attention, a pass of G heads at a time.
  let G = min(p.heads, WG / AW);
  for (var hg = 0u; hg * G < p.heads; hg++) {
    attend_pass(li, hg, G);
  }

  // x += Wo · att
  for (var r = li; r < p.E; r += WG) {
    var acc = vec4<f32>(0.0);
    let rb = p.oO + r * (p.Q / 4u);
    for (var k = 0u; k < p.Q / 4u; k++) {
      acc += wq(rb + k) * att[k];
    }
    let s = (acc.x + acc.y) + (acc.z + acc.w);
    xs[r / 4u][r % 4u] = xs[r / 4u][r % 4u] + s;
  }
  workgroupBarrier();

  // gate | up = Wgu · rmsnorm(x) · ffnNorm; act = silu(gate) ⊙ up
  let inv1 = inv_rms();
  for (var r = li; r < 2u * p.F; r += WG) {
    gu[r / 4u][r % 4u] = dot_norm(p.oGu + r * (p.E / 4u), p.oFfnNorm, inv1);
  }
  workgroupBarrier();
  for (var k = li; k < p.F / 4u; k += WG) {
    let g = gu[k];
    act[k] = (g / (vec4<f32>(1.0) + exp(-g))) * gu[p.F / 4u + k];
  }
  workgroupBarrier();

  // x += Wdown · act
  for (var r = li; r < p.E; r += WG) {
    var acc = vec4<f32>(0.0);
    let rb = p.oDown + r * (p.F / 4u);
    for (var k = 0u; k < p.F / 4u; k++) {
      acc += wq(rb + k) * act[k];
    }
    let s = (acc.x + acc.y) + (acc.z + acc.w);
    xs[r / 4u][r % 4u] = xs[r / 4u][r % 4u] + s;
  }
  workgroupBarrier();
  for (var k = li; k < p.E / 4u; k += WG) {
    x[k] = xs[k];
  }
}
