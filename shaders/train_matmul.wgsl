// Training matrix product, portable tiled kernel: C[M, N] (+)= op(A) · op(B) (+ bias[n]), f32.
// A is stored [M, K] (or [K, M] when TRANS_A), B [K, N] (or [N, K] when TRANS_B), C [M, N], all
// row-major. A workgroup of 64 invocations computes a 64×64 block of C: it stages 16-deep slices
// of A and B in workgroup memory (k-major, so an invocation reads its rows and columns as vec4s)
// and each invocation accumulates an 8×8 block in registers. Any M, N, K ≥ 1: loads past an edge
// read 0, stores past an edge are skipped. Each output is one invocation's sum in ascending k, so
// the result is deterministic. 8 KiB of workgroup memory, 64 invocations (SwiftShader allows 256).
// Where the adapter has subgroups of exactly 8 lanes (lavapipe), shared/train/kernels-linear.ts
// uses train_matmul_sg8.wgsl instead for the shapes it takes (see specs/training.md).
// Entry points:
//   main     the product. Workgroups [ceil(N / 64), ceil(M / 64)].
//   col_sum  c[n] += Σ_m a[m * N + n] (bias gradient; rows summed in order). One invocation per n,
//            workgroups ceil(N / 64); bindings 0, 1 and 5.
// Bindings: 0 uniform P { M, N, K, flags }, 1 a (read), 2 b (read), 4 bias [N] (read; bound to
//           any buffer without BIAS_FLAG), 5 c (read_write; must not alias a, b or bias).
// Overrides: TRANS_A, TRANS_B. Flags: ACC_FLAG (c += instead of c =), BIAS_FLAG (add bias[n]).
// Reference: shared/train/reference/ops.ts (linearForward, linearBackward).

struct P { M: u32, N: u32, K: u32, flags: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

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
  if (TRANS_B) { return b[n * p.K + k]; }
  return b[k * p.N + n];
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

// Bias gradient: c[n] += Σ_{m < M} a[m * N + n], summed in ascending m by one invocation (no
// atomics, same bits every run). Workgroups: ceil(N / 64).
@compute @workgroup_size(64)
fn col_sum(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= p.N) { return; }
  var s = 0.0;
  for (var m = 0u; m < p.M; m++) { s += a[m * p.N + n]; }
  c[n] += s;
}
