// Include-only (leading "_"). tanh that is finite and accurate for any input, for soft-capping
// (attention scores and final logits of Gemma 2: x <- cap * tanh(x / cap)) and GELU.
// Why not the builtin: WGSL only says tanh is "inherited from sinh(x)/cosh(x)", so an
// implementation may form exp(x) and overflow to inf/inf = NaN for large |x|, and fast-math
// builtins on some GPUs are only accurate to ~2^-11. This uses exp of a non-positive argument
// only (WGSL bounds exp's error; the result lies in (0, 1], never overflows):
//   |x| >= 0.25: tanh|x| = (1 - e) / (1 + e), e = exp(-2|x|) <= 0.61, so 1 - e >= 0.39 and the
//                subtraction loses under 2 bits (relative error ~4e-7); |x| = inf gives e = 0, 1.
//   |x| <  0.25: the Taylor series to x^9; the first omitted term, 1382/155925 x^11, is below
//                1e-8 relative there (alternating series), under half an f32 ulp; keeps tanh(x)
//                accurate relative to x near 0, where (1 - e) would cancel.

fn safe_tanh(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.25) {
    let z = x * x;
    return x * (1.0 + z * (-0.33333333333 + z * (0.13333333333 + z * (-0.053968253968 + z * 0.021869488536))));
  }
  let e = exp(-2.0 * a);
  return sign(x) * ((1.0 - e) / (1.0 + e));
}
