// Include-only (leading "_"). One dim of a head after RoPE, and where its pair partner is, for the
// kernels that rotate q and k inside attention (attention.wgsl's decode_rope and
// decode_layer_f32.wgsl), so both rotate bit for bit alike. The including file defines
// `p.ropeDims` (rotated dims; the rest pass through), the binding `invFreq` (ropeDims / 2 values),
// the override NEOX (false: adjacent pairs, true: halves), and includes _rope_angle.

// Dim d of a head after RoPE at position pos, from its value and its pair partner's
// (rope_kv_append.wgsl's `rotated`); dims from ropeDims on pass through.
fn rope_dim(d: u32, value: f32, partner: f32, pos: u32) -> f32 {
  if (d >= p.ropeDims) { return value; }
  let half = p.ropeDims / 2u;
  var first = (d % 2u) == 0u;
  var i = d / 2u;
  if (NEOX) {
    first = d < half;
    i = select(d - half, d, first);
  }
  let cs = rope_cos_sin(pos, invFreq[i]);
  let x0 = select(partner, value, first);
  let x1 = select(value, partner, first);
  return select(x0 * cs.y + x1 * cs.x, x0 * cs.x - x1 * cs.y, first);
}

// Where dim d's pair partner is, relative to the head's start.
fn rope_partner(d: u32) -> u32 {
  if (d >= p.ropeDims) { return d; }
  if (NEOX) {
    let half = p.ropeDims / 2u;
    return select(d - half, d + half, d < half);
  }
  return select(d - 1u, d + 1u, (d % 2u) == 0u);
}
