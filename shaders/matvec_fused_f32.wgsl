// The decode product y = W·x over an F32 matrix W [rows, cols] (as matvec_f32.wgsl stores and
// reads it) with the dispatches around it folded in (issue 15 §3: small models are
// dispatch-bound). What x is (in_mode):
//   0  x itself                                        (attention's output into o)
//   1  rmsnorm(x) · nw: x / sqrt(mean(x²) + eps) · nw  (the norm before q | k | v, gate | up, output)
//   2  silu(x[0 .. cols)) ⊙ x[up_off .. up_off + cols)  (the stacked [gate | up] into down)
// and where the product goes (out_mode): 0 y[r] = s; 1 y[r] = y[r] + s (the residual add).
// Each is the same f32 operations in the same order as the kernels it replaces: in mode 1 every
// invocation sums the squares as rmsnorm.wgsl / add_rmsnorm.wgsl do at their WG of 64 (64
// strided partial sums, then the halving tree), then forms x · inv · w as they do; mode 2 is
// elementwise.wgsl's silu(g) * u; out_mode 1 is add_rmsnorm's x + d. So the engine's logits are
// unchanged bit for bit (tests/gpu/engine-fused.test.ts). Every invocation (one per row) redoes
// the norm or the SiLU over all of x, which is why the engine takes this kernel only for narrow
// rows (FUSED_MATVEC_MAX_COLS in shared/engine/fused-matvec.ts).
// Bindings: 0 uniform Params, 1 w: the matrix as vec4<u32> words (16-byte aligned), 2 x:
//           vec4<f32> (read), 3 y: f32 (read_write; must not alias x or nw), 4 nw: the norm
//           weight, vec4<f32> (read; any read-only buffer when in_mode is not 1).
// Rows past one workgroup grid row come as a 2-D grid (row group = wid.x + wid.y * nwg.x).
// Variants: F32 weights only; override WG (invocations per workgroup, one per row).
// Reference: fusedMatvecRef in shared/engine/reference/fused.ts.

struct Params {
  rows: u32,
  cols: u32, // a multiple of 4
  w_off: u32, // tensor start in binding 1, u32 words (a multiple of 4)
  x_off: u32, // f32 elements (a multiple of 4)
  y_off: u32, // f32 elements
  up_off: u32, // in_mode 2: where up starts in x, f32 elements (a multiple of 4)
  in_mode: u32,
  out_mode: u32,
  eps: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> nw: array<vec4<f32>>;

//#include "_rms_tree"

fn quad(rw: u32, k: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(w[(rw >> 2u) + k]);
}

// 1 / sqrt(mean(x²) + eps) in rmsnorm.wgsl's order at WG 64: partial j sums the squares of the
// elements i ≡ j (mod 64) in increasing i (component c of part[m] is partial 4m + c), then the
// tree adds partial j + s into j for s = 32, 16, ..., 1.
fn inv_rms(xv: u32, n4: u32) -> f32 {
  var part: array<vec4<f32>, 16>;
  for (var k = 0u; k < n4; k++) {
    let v = x[xv + k];
    part[k % 16u] += v * v;
  }
  return inv_rms_of_parts(&part, p.cols, p.eps);
}

@compute @workgroup_size(WG)
fn matvec_fused(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) {
    return;
  }
  let rb = p.w_off + row * p.cols;
  let xv = p.x_off / 4u;
  let n4 = p.cols / 4u;
  var acc = vec4<f32>(0.0);
  if (p.in_mode == 1u) {
    let inv = inv_rms(xv, n4);
    for (var k = 0u; k < n4; k++) {
      acc += quad(rb, k) * (x[xv + k] * inv * nw[k]);
    }
  } else if (p.in_mode == 2u) {
    let uv = p.up_off / 4u;
    for (var k = 0u; k < n4; k++) {
      let g = x[xv + k];
      acc += quad(rb, k) * ((g / (vec4<f32>(1.0) + exp(-g))) * x[uv + k]);
    }
  } else {
    for (var k = 0u; k < n4; k++) {
      acc += quad(rb, k) * x[xv + k];
    }
  }
  let s = (acc.x + acc.y) + (acc.z + acc.w);
  if (p.out_mode == 1u) {
    y[p.y_off + row] = y[p.y_off + row] + s;
  } else {
    y[p.y_off + row] = s;
  }
}
