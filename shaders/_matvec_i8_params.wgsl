// Include-only (leading "_"). What every shape of the integer decode products shares: the
// parameters (the layout of _matvec_common.wgsl's Params; w_off and x_off in u32 words; x_off a
// multiple of 4 for every shape but the subgroup one, w_off too for the 16-byte shape), the uniform, the output, and QWORDS (quant words per block: the
// including type file defines BLOCK_BYTES, 2 mod 4). Each shape declares its own w (binding 1)
// and xq (binding 2), as u32 or vec4<u32> words.

struct Params {
  rows: u32,
  cols: u32,
  ntok: u32,
  w_off: u32,
  x_off: u32,
  x_stride: u32,
  y_off: u32,
  y_stride: u32,
}

const QWORDS: u32 = (BLOCK_BYTES - 2u) / 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
