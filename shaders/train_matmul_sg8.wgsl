// Training matrix product for adapters whose subgroups are exactly 8 lanes (Mesa lavapipe on
// AVX2/AVX-512 CPUs): same product and overrides as train_matmul.wgsl. A separate module because
// it needs `enable subgroups;`; shared/train/kernels-linear.ts compiles it only on such adapters.
//
// Why a second kernel: lavapipe runs 8 invocations as one SIMD vector, and every memory load
// there (storage or workgroup, uniform address or not) costs a per-lane gather about 10× an FMA,
// while a subgroupBroadcast is a register shuffle; a barrier turns the workgroup into coroutines.
// So: no workgroup memory and no barriers; the 8 lanes of a workgroup (one subgroup) share the
// A operand through broadcasts and each lane loads only its own B columns, 4 k at a time.
//   A workgroup computes a 16×32 block of C. Lane l owns columns n0 + 4 l .. + 3 for all 16
//   rows: 64 accumulators. Per 4 k: 2 vec4 loads of A (lane l: row l of each half, or with
//   TRANS_A one k-row of 4 rows), shared by 16 broadcasts, and 4 vec4 loads of B: 6 loads for
//   256 FMAs instead of ~1 load per FMA.
//   (8×32, 16×16, 16×64, 24×32, 32×16 and 32×32 blocks were measured too: specs/training.md.)
// Requires (checked by the host): K % 4 == 0, M % 4 == 0 when TRANS_A, N % 4 == 0 unless
// TRANS_B; M, N, K ≥ 1.
// Rows and columns past the edge load clamped (in-range) values and are not stored. Each output
// is one lane's sum in ascending k: deterministic.
// Workgroups: [ceil(N / 32), ceil(M / 16)], 8 invocations each.
// Bindings (as train_matmul.wgsl): 0 uniform P { M, N, K, flags }, 1 a as vec4 (read), 2 b as
//           vec4 (read), 4 bias [N] (read), 5 c (read_write). Overrides TRANS_A, TRANS_B.
// Reference: shared/train/reference/ops.ts (linearForward, linearBackward).

enable subgroups;

struct P { M: u32, N: u32, K: u32, flags: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

fn b4_at(i: u32) -> vec4f { return b4[i]; }

//#include "_train_matmul_sg8"
