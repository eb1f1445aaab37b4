// Activation quantisation for the integer weight kernels (matvec_q8_0_i8*.wgsl): f32 x [ntok, cols]
// into Q8 blocks of 32, as llama.cpp does before a quantised dot product (quantize_row_q8_0):
// d = max|x| / 127, q = round(x / d) (half away from zero), so x ≈ d · q. d stays f32 here
// (llama.cpp rounds it to f16; f32 is closer to the f32 path and cannot overflow).
// Output layout, u32 words, per token from q_off + t · q_stride: first the quants, block b's 32
// int8 values in words 8b..8b+7 packed little-endian (value 4i+j in byte j of word 8b+i: what
// dot4I8Packed takes), then from word cols/4 the blocks' scales (f32 bits), one word each, then
// from word cols/4 + cols/32 the blocks' sums of their 32 quants (i32 bits), one word each: the
// types with a per-block offset (Q4_K's mins) need Σ q for every row, computed once here instead
// of once per row. The quants of a block are 32 bytes, so a kernel can read them as two vec4<u32>. Reference: shared/engine/reference/int-matvec.ts.

struct Params {
  cols: u32, // multiple of 32
  ntok: u32,
  x_off: u32, // f32 elements, multiple of 4
  x_stride: u32, // f32 elements, multiple of 4
  q_off: u32, // u32 words
  q_stride: u32, // u32 words between tokens (≥ 10 · cols / 32)
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;

// Round half away from zero (C's roundf), as ggml does.
fn round_away(v: vec4<f32>) -> vec4<i32> {
  return vec4<i32>(sign(v) * floor(abs(v) + 0.5));
}

fn pack_i8(r: vec4<i32>) -> u32 {
  let b = vec4<u32>(r) & vec4<u32>(0xffu);
  return b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
}

// One invocation per (token, block).
@compute @workgroup_size(WG)
fn quantize_q8(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = (wid.x + wid.y * nwg.x) * WG + li;
  let nb = p.cols / 32u;
  if (g >= p.ntok * nb) {
    return;
  }
  let t = g / nb;
  let b = g % nb;
  let xb = (p.x_off + t * p.x_stride) / 4u + 8u * b;
  var v: array<vec4<f32>, 8>;
  var m = vec4<f32>(0.0);
  for (var i = 0u; i < 8u; i++) {
    v[i] = x[xb + i];
    m = max(m, abs(v[i]));
  }
  let amax = max(max(m.x, m.y), max(m.z, m.w));
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d != 0.0);
  let o = p.q_off + t * p.q_stride;
  xq[o + p.cols / 4u + b] = bitcast<u32>(d);
  var sum = vec4<i32>(0);
  for (var i = 0u; i < 8u; i++) {
    let q = clamp(round_away(v[i] * id), vec4<i32>(-127), vec4<i32>(127));
    sum += q;
    xq[o + 8u * b + i] = pack_i8(q);
  }
  xq[o + p.cols / 4u + p.cols / 32u + b] = bitcast<u32>(sum.x + sum.y + sum.z + sum.w);
}
