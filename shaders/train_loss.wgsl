// Fused softmax cross-entropy, forward and backward in one pass over the logits.
// One workgroup per row n (rows past 65535 workgroups come as a 2-D grid: n = wid.x + wid.y * nwg.x):
//   m = max_c logits[n, c]                  (strided max, tree reduction)
//   s = Σ_c exp(logits[n, c] − m)           (strided sums, tree reduction; all f32)
//   rowLoss[n] = (m − logits[n, t]) + log(s)   (= log-sum-exp − logit of the target t)
//   logits[n, c] ← (exp(logits[n, c] − m) / s − [c == t]) · scale     (dlogits, in place)
// Subtracting the max keeps exp() ≤ 1, so no row overflows; m − logit[t] is formed before adding
// log(s) so that a confident row (loss ≈ 0) does not lose its digits to cancellation. The tree has
// a fixed shape: the same bits every run. A target outside [0, vocab) gives rowLoss = NaN (a loud
// failure the trainer's non-finite check catches) and a gradient without the one-hot term.
// Bindings: 0 uniform P { rows, vocab, scale, nan_bits } (nan_bits = 0x7fc00000 from the host:
//           WGSL cannot spell a NaN constant), 1 logits [rows, vocab] (read_write),
//           2 targets [rows] i32 (read), 3 rowLoss [rows] (write).
// Override WG: workgroup size, a power of two ≤ 256.
// Reference: shared/train/reference/ops.ts (crossEntropyForward, crossEntropyBackward).

struct P { rows: u32, vocab: u32, scale: f32, nan_bits: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> row_loss: array<f32>;

override WG: u32 = 64u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.vocab;

  var m = -0x1.fffffep+127f; // the lowest finite f32: any finite logit is ≥ it
  for (var c = li; c < p.vocab; c += WG) { m = max(m, logits[base + c]); }
  red[li] = m;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (li < h) { red[li] = max(red[li], red[li + h]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier(); // everyone has read the max before red is reused

  var s = 0.0;
  for (var c = li; c < p.vocab; c += WG) { s += exp(logits[base + c] - m); }
  red[li] = s;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h >>= 1u) {
    if (li < h) { red[li] += red[li + h]; }
    workgroupBarrier();
  }
  s = red[0];

  let t = targets[row];
  let valid = t >= 0 && u32(t) < p.vocab;
  if (li == 0u) {
    var loss = bitcast<f32>(p.nan_bits);
    if (valid) { loss = (m - logits[base + u32(t)]) + log(s); }
    row_loss[row] = loss;
  }
  workgroupBarrier(); // the target's logit is read before anyone overwrites the row

  for (var c = li; c < p.vocab; c += WG) {
    var g = exp(logits[base + c] - m) / s;
    if (valid && c == u32(t)) { g -= 1.0; }
    logits[base + c] = g * p.scale;
  }
}
