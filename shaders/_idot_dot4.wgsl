// Include-only (leading "_"). Packed int8 dot product through the WGSL builtin (language feature
// packed_4x8_integer_dot_product; a compile error where the adapter lacks it).

fn idot(a: u32, b: u32) -> i32 {
  return dot4I8Packed(a, b);
}
