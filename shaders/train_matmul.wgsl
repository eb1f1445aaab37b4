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

fn b_at(i: u32) -> f32 { return b[i]; }

//#include "_train_matmul_tiled"

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
