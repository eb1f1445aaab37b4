// The optimizer step over one flat parameter buffer: gradient norm, clipping and AdamW.
//
// sumsq_partials: partial[w] = Σ g² over the w-th chunk of CHUNK values (one workgroup each; a
//   fixed-order tree in workgroup memory, so the result is the same bits every run).
// sumsq_final: one workgroup sums the partials in a fixed order and writes
//   stats = [Σg², ‖g‖, clip scale, ok]: clip scale = min(1, maxNorm / (‖g‖ + 1e-6)) (1 when
//   maxNorm = 0), ok = 1 when Σg² is finite. A non-finite gradient turns the step into a no-op
//   (adamw returns early), so the weights stay those of the last good step.
// adamw: decoupled weight decay (PyTorch's AdamW): m = β1 m + (1−β1) g, v = β2 v + (1−β2) g²,
//   p -= lr·(m/bc1 / (√(v/bc2) + eps) + wd·p), with g = grad · clip scale; elements before
//   decayEnd are matrices (decayed), the rest norm gains and biases (not decayed).
// Bindings: see each entry point. Linear index = wid.x + wid.y · nwg.x (2-D grids past 65535).
// Reference: shared/train/reference/optim.ts.

struct P {
  n: u32,          // elements
  partials: u32,   // number of partial sums
  decay_end: u32,  // elements [0, decay_end) get weight decay
  _pad: u32,
  max_norm: f32,   // 0 = no clipping
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  wd: f32,
  bc1: f32,        // 1 − β1^step
  bc2: f32,        // 1 − β2^step
}

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

override WG: u32 = 256u;
const CHUNK: u32 = 4096u;
var<workgroup> acc: array<f32, WG>;

fn reduce(li: u32) {
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { acc[li] += acc[li + s]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn sumsq_partials(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let w = wid.x + wid.y * nwg.x;
  let start = w * CHUNK;
  var s = 0.0;
  if (w < p.partials) {
    let end = min(start + CHUNK, p.n);
    for (var i = start + li; i < end; i += WG) {
      let g = grad[i];
      s += g * g;
    }
  }
  acc[li] = s;
  reduce(li);
  if (li == 0u && w < p.partials) { partial[w] = acc[0]; }
}

@compute @workgroup_size(WG)
fn sumsq_final(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var i = li; i < p.partials; i += WG) { s += partial[i]; }
  acc[li] = s;
  reduce(li);
  if (li == 0u) {
    let ss = acc[0];
    let norm = sqrt(ss);
    // NaN fails every comparison, so `ss <= 3.4e38` is false for NaN and +Inf alike.
    let finite = ss <= 3.4e38;
    var scale = 1.0;
    if (p.max_norm > 0.0 && finite) { scale = min(1.0, p.max_norm / (norm + 1e-6)); }
    stats[0] = ss;
    stats[1] = norm;
    stats[2] = scale;
    stats[3] = select(0.0, 1.0, finite);
  }
}

@compute @workgroup_size(WG)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + li;
  if (i >= p.n || stats[3] == 0.0) { return; }
  let g = grad[i] * stats[2];
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  let update = (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
  var w = param[i];
  let decay = select(0.0, p.wd, i < p.decay_end);
  param[i] = w - p.lr * (update + decay * w);
}
