// Argmax over n f32 values x[offset .. offset + n) (e.g. the last row of [T, vocab] logits), in
// two passes: `argmax_chunks` reduces chunks of `chunk` values to one (value, index) pair per workgroup,
// `argmax_final` reduces those pairs in one workgroup (when n fits one chunk the encoder binds out as
// `partials` and skips the second pass: the one pair is the answer). Ties go to the lower index (like a CPU scan that
// keeps the first maximum); NaN never wins. Result: out[0] = { value, index } (index relative to offset).
// Entry points and bindings (0 is the uniform P { n, chunk, offset, nPartials }):
//   argmax_chunks  1 x (read), 2 partials: array<Best> (read_write), one per workgroup (ceil(n / chunk))
//   argmax_final   2 partials (read) as `parts`, 3 out: array<Best> (read_write), dispatch 1 workgroup
// Variants: f32 only; override WG, a power of two <= 256. Reference: shared/engine/reference/sampling-ops.ts.

struct P { n: u32, chunk: u32, offset: u32, nPartials: u32 }
struct Best { value: f32, index: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<Best>;
@group(0) @binding(2) var<storage, read> parts: array<Best>;
@group(0) @binding(3) var<storage, read_write> out: array<Best>;

override WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;

var<workgroup> sv: array<f32, WG>;
var<workgroup> si: array<u32, WG>;

// True when (v, i) beats (bv, bi): larger value, or equal value with the lower index; NONE never wins.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  if (i == NONE) { return false; }
  if (bi == NONE) { return true; }
  return v > bv || (v == bv && i < bi);
}

fn reduce_best(li: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s && better(sv[li + s], si[li + s], sv[li], si[li])) {
      sv[li] = sv[li + s];
      si[li] = si[li + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn argmax_chunks(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  let start = g * p.chunk;
  let end = min(p.n, start + p.chunk);
  var bv = 0.0;
  var bi = NONE;
  for (var i = start + li; i < end; i += WG) {
    let v = x[p.offset + i];
    // v == v is false for NaN, so NaN never becomes the best.
    if (v == v && better(v, i, bv, bi)) { bv = v; bi = i; }
  }
  sv[li] = bv;
  si[li] = bi;
  workgroupBarrier();
  reduce_best(li);
  if (li == 0u && g * p.chunk < p.n) { partials[g] = Best(sv[0], si[0]); }
}

@compute @workgroup_size(WG)
fn argmax_final(@builtin(local_invocation_index) li: u32) {
  var bv = 0.0;
  var bi = NONE;
  for (var i = li; i < p.nPartials; i += WG) {
    let b = parts[i];
    if (better(b.value, b.index, bv, bi)) { bv = b.value; bi = b.index; }
  }
  sv[li] = bv;
  si[li] = bi;
  workgroupBarrier();
  reduce_best(li);
  if (li == 0u) { out[0] = Best(sv[0], si[0]); }
}
