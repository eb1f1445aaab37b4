// The body of the portable tiled training matrix product, shared by train_matmul.wgsl (f32 B)
// and train_matmul_f16.wgsl (f16 B, mixed precision). The including shader declares the uniform
// `p` (M, N, K, flags first), the bindings a (f32), bias and c, and `fn b_at(i: u32) -> f32`,
// element i of B as stored. Everything else (tiling, edges, order of sums) is here, once.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// Uniform flags rather than overrides: each override set is another pipeline, and lavapipe
// compiles a pipeline at its first dispatch, seconds each when its shader cache is cold.
const ACC_FLAG = 1u;
const BIAS_FLAG = 2u;

const BM = 64u; // rows of C per workgroup
const BN = 64u; // columns of C per workgroup
const BK = 16u; // depth of one staged slice
const WG = 64u; // (BM / 8) * (BN / 8) invocations, 8×8 outputs each

// Slices stored k-major: sa[k * BM / 4 + m / 4][m % 4] = A[m0 + m, k0 + k].
var<workgroup> sa: array<vec4f, 256>; // BK * BM / 4
var<workgroup> sb: array<vec4f, 256>; // BK * BN / 4

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return a[k * p.M + m]; }
  return a[m * p.K + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  if (n >= p.N || k >= p.K) { return 0.0; }
  if (TRANS_B) { return b_at(n * p.K + k); }
  return b_at(k * p.N + n);
}

fn store(m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let o = m * p.N + n;
  var r = v;
  if ((p.flags & BIAS_FLAG) != 0u) { r += bias[n]; }
  if ((p.flags & ACC_FLAG) != 0u) { r += c[o]; }
  c[o] = r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  let tx = li % 8u; // this invocation's columns: n0 + 8 tx .. + 7
  let ty = li / 8u; // rows: m0 + 8 ty .. + 7
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  // acc[2 i + j]: row 8 ty + i, columns 8 tx + 4 j .. + 3
  var acc: array<vec4f, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = vec4f(0.0); }

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // 1024 values of each operand, 16 per invocation; consecutive invocations take consecutive
    // addresses of whichever dimension is contiguous in memory.
    for (var i = 0u; i < 16u; i++) {
      let e = li + i * WG;
      var m: u32;
      var k: u32;
      if (TRANS_A) { k = e / BM; m = e % BM; } else { m = e / BK; k = e % BK; }
      sa[(k * BM + m) / 4u][m % 4u] = load_a(m0 + m, k0 + k);
      var n: u32;
      var kb: u32;
      if (TRANS_B) { n = e / BK; kb = e % BK; } else { kb = e / BN; n = e % BN; }
      sb[(kb * BN + n) / 4u][n % 4u] = load_b(k0 + kb, n0 + n);
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a0 = sa[k * (BM / 4u) + 2u * ty];
      let a1 = sa[k * (BM / 4u) + 2u * ty + 1u];
      let b0 = sb[k * (BN / 4u) + 2u * tx];
      let b1 = sb[k * (BN / 4u) + 2u * tx + 1u];
      for (var i = 0u; i < 4u; i++) {
        acc[2u * i] = fma(vec4f(a0[i]), b0, acc[2u * i]);
        acc[2u * i + 1u] = fma(vec4f(a0[i]), b1, acc[2u * i + 1u]);
        acc[8u + 2u * i] = fma(vec4f(a1[i]), b0, acc[8u + 2u * i]);
        acc[8u + 2u * i + 1u] = fma(vec4f(a1[i]), b1, acc[8u + 2u * i + 1u]);
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 8u; i++) {
    for (var j = 0u; j < 2u; j++) {
      let v = acc[2u * i + j];
      let m = m0 + 8u * ty + i;
      let n = n0 + 8u * tx + 4u * j;
      store(m, n, v.x);
      store(m, n + 1u, v.y);
      store(m, n + 2u, v.z);
      store(m, n + 3u, v.w);
    }
  }
}

