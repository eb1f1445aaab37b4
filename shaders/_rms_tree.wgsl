// Include-only (leading "_"). The end of RMSNorm's 1 / sqrt(mean(x²) + eps) in rmsnorm.wgsl's
// order at WG 64, for kernels that sum the squares themselves (matvec_fused_f32.wgsl,
// decode_layer_f32.wgsl): part holds the 64 strided partial sums (component c of part[m] is
// partial 4m + c: the squares of the elements i ≡ 4m + c mod 64, in increasing i); the tree adds
// partial j + s into j for s = 32, 16, ..., 1. n: the number of elements.

fn inv_rms_of_parts(part: ptr<function, array<vec4<f32>, 16>>, n: u32, eps: f32) -> f32 {
  for (var m = 8u; m > 0u; m >>= 1u) {
    for (var j = 0u; j < m; j++) {
      (*part)[j] += (*part)[j + m];
    }
  }
  let v = (*part)[0];
  let ss = (v.x + v.z) + (v.y + v.w);
  return 1.0 / sqrt(ss / f32(n) + eps);
}
