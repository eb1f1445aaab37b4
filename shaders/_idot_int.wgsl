// Include-only (leading "_"). dot4I8Packed written out in i32, for adapters without the WGSL
// language feature packed_4x8_integer_dot_product: the same value (Σ of 4 signed byte products).

fn idot(a: u32, b: u32) -> i32 {
  let sh = vec4<u32>(24u, 16u, 8u, 0u);
  let va = (vec4<i32>(bitcast<i32>(a)) << sh) >> vec4<u32>(24u);
  let vb = (vec4<i32>(bitcast<i32>(b)) << sh) >> vec4<u32>(24u);
  return dot(va, vb);
}
