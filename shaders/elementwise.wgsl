// Element-wise ops on f32 vectors of n elements (a [T, cols] matrix is n = T * cols).
// One invocation per output element; linear index = (wid.x + wid.y * nwg.x) * WG + lid.
// Entry points and bindings (0 is always the uniform P { n, cols, s }):
//   add          out = a + b              1 a (read), 2 b (read), 3 out (read_write)
//   add_inplace  x += b   (residual add)  1 x (read_write), 2 b (read)
//   swiglu       out = silu(gate) * up    1 gate (read), 2 up (read), 3 out (read_write)
//   swiglu_fused out[t, i] = silu(x[t, i]) * x[t, cols + i] for x = [T, 2 * cols] (gate | up halves)
//                                         1 x (read), 3 out: [T, cols] (read_write)
//   bias_add     x[t, c] += bias[c]       1 x (read_write), 2 bias: [cols] (read)
//   scale        x *= s                   1 x (read_write)
//   geglu        out = gelu(gate) * up    1 gate (read), 2 up (read), 3 out (read_write)  (Gemma FFN)
//   softcap      x = s * tanh(x / s)      1 x (read_write), s > 0  (Gemma 2 final logit soft-capping)
// silu(g) = g / (1 + exp(-g)); gelu: the tanh approximation, see gelu() below.
// Variants: f32 only; override WG (<= 256).
// Reference: shared/engine/reference/elementwise.ts.

//#include "_tanh"

struct P { n: u32, cols: u32, s: f32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256u;

fn index(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + li;
}

fn silu(g: f32) -> f32 {
  return g / (1.0 + exp(-g));
}

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_COEF_A: f32 = 0.044715;

// gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3) (ggml_gelu's tanh approximation),
// evaluated as x / (1 + exp(-2u)), the same function (0.5 (1 + tanh u) = 1 / (1 + exp(-2u))) without
// the cancellation of 1 + tanh(u) for x < 0. u uses x clamped to [-10, 10] so x^3 and exp stay
// finite (exp(-2u) <= exp(87.3) < f32 max): beyond +10 the result is x to f32 precision
// (exp(-2u) < 2^-125); below -10 it is 0 (|gelu(x)| < 1.3e-38 |x|), as ggml's CPU path does.
fn gelu(x: f32) -> f32 {
  let xc = clamp(x, -10.0, 10.0);
  let u = SQRT_2_OVER_PI * xc * (1.0 + GELU_COEF_A * xc * xc);
  return select(x / (1.0 + exp(-2.0 * u)), 0.0, x < -10.0);
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { out[i] = a[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn add_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = x[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn swiglu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { out[i] = silu(a[i]) * b[i]; }
}

@compute @workgroup_size(WG)
fn swiglu_fused(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i >= p.n) { return; }
  let t = i / p.cols;
  let c = i % p.cols;
  let g = a[t * 2u * p.cols + c];
  out[i] = silu(g) * a[t * 2u * p.cols + p.cols + c];
}

@compute @workgroup_size(WG)
fn bias_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = x[i] + b[i % p.cols]; }
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = x[i] * p.s; }
}

@compute @workgroup_size(WG)
fn geglu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { out[i] = gelu(a[i]) * b[i]; }
}

@compute @workgroup_size(WG)
fn softcap(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = p.s * safe_tanh(x[i] / p.s); }
}
