// Include-only (leading "_"). Q6_K's part of the integer decode products (matvec_q6_k_i8*.wgsl).
// Super-block of 256 values, 210 bytes: ql[128] low nibbles, qh[64] 2-bit pairs, 16 int8 scales,
// f16 d; value = d·scale[v/16]·(q − 32), q 0..63. 210 is 2 mod 4, so a block starts on a word
// or mid-word; every field sits a multiple of 4 bytes into the block, so one shift/mask pair
// realigns them all. Half h (128 values), l = 0..31: ql[64h+l], ql[64h+32+l] and qh[32h+l] bits
// 2t..2t+1 give value 128h + 32t + l (t = 0..3: ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high).
// So quant word i (l = 4i..4i+3) of stream t is x block 4h+t's word i, and x block 4h+t takes
// scales 8h+2t (words 0..3) and 8h+2t+1 (words 4..7): two integer sums per x block, combined in
// i32 with the int8 scales (|Σ| ≤ 2·128·16·32·127 < 2^24: exact in f32), then one f32 multiply.

const BLOCK_BYTES: u32 = 210u;

// Four 6-bit quants (0..63, one per byte) as the signed bytes q − 32: q ^ 32 is q − 32 in 6-bit
// two's complement; bit 5 copied into bits 6..7 (0x20 · 6 = 0xc0 per byte, no carries) widens it.
fn s8_of_q6(q: u32) -> u32 {
  let v = q ^ 0x20202020u;
  return v | ((v & 0x20202020u) * 6u);
}

fn superblock_dot(bb: u32, xb: u32) -> f32 {
  let a = bb >> 2u;
  let al = (bb & 2u) == 0u;
  let sh = select(16u, 0u, al);
  let mask = select(0xffff0000u, 0u, al);
  // The block's 32 bits at 4·o bytes in: (w[a+o] >> sh) | (w[a+o+1] << 16 & mask).
  let dw = w[a + 52u]; // byte 208: d
  let d = unpack2x16float(select(dw >> 16u, dw, al)).x;
  var acc = 0.0;
  for (var h = 0u; h < 2u; h++) {
    var lo = vec4<i32>(0); // Σ q·xq per stream t over words 0..3
    var hi = vec4<i32>(0); // and 4..7
    var pa = w[a + 16u * h]; // ql[64h + 4i ..]
    var pb = w[a + 16u * h + 8u]; // ql[64h + 32 + 4i ..]
    var pc = w[a + 32u + 8u * h]; // qh[32h + 4i ..]
    for (var i = 0u; i < 8u; i++) {
      let na = w[a + 16u * h + i + 1u];
      let nb = w[a + 16u * h + 9u + i];
      let nc = w[a + 33u + 8u * h + i];
      let qa = (pa >> sh) | ((na << 16u) & mask);
      let qb = (pb >> sh) | ((nb << 16u) & mask);
      let qc = (pc >> sh) | ((nc << 16u) & mask);
      pa = na;
      pb = nb;
      pc = nc;
      let s = vec4<i32>(
        idot(s8_of_q6((qa & 0x0f0f0f0fu) | ((qc << 4u) & 0x30303030u)), xword(xb + 4u * h, i)),
        idot(s8_of_q6((qb & 0x0f0f0f0fu) | ((qc << 2u) & 0x30303030u)), xword(xb + 4u * h + 1u, i)),
        idot(s8_of_q6(((qa >> 4u) & 0x0f0f0f0fu) | (qc & 0x30303030u)), xword(xb + 4u * h + 2u, i)),
        idot(s8_of_q6(((qb >> 4u) & 0x0f0f0f0fu) | ((qc >> 2u) & 0x30303030u)), xword(xb + 4u * h + 3u, i)),
      );
      if (i < 4u) {
        lo += s;
      } else {
        hi += s;
      }
    }
    // Scales 8h..8h+3 and 8h+4..8h+7 (words 48+2h, 49+2h): stream t takes 8h+2t and 8h+2t+1.
    let wa = bitcast<i32>((w[a + 48u + 2u * h] >> sh) | ((w[a + 49u + 2u * h] << 16u) & mask));
    let wb = bitcast<i32>((w[a + 49u + 2u * h] >> sh) | ((w[a + 50u + 2u * h] << 16u) & mask));
    let s0 = vec4<i32>(extractBits(wa, 0u, 8u), extractBits(wa, 16u, 8u), extractBits(wb, 0u, 8u), extractBits(wb, 16u, 8u));
    let s1 = vec4<i32>(extractBits(wa, 8u, 8u), extractBits(wa, 24u, 8u), extractBits(wb, 8u, 8u), extractBits(wb, 24u, 8u));
    let t = s0 * lo + s1 * hi;
    for (var j = 0u; j < 4u; j++) {
      acc += f32(t[j]) * (d * xscale(xb + 4u * h + j));
    }
  }
  return acc;
}

// Prefill (issue 15 §2): the integer prefill product for Q6_K, one row × TT_Q6 tokens (its entry
// points: _q6_k_i8_matmul.wgsl after _matvec_i8_k.wgsl, and _matvec_q6_k_sh.wgsl), x quantised for
// all the tokens first. Each weight word is loaded, realigned and widened to signed bytes once for
// the tile and dotted with the TT_Q6 tokens' x words, which the including shape gives through
// xword_tok(xo[t], block, word) and xscale_tok(xo[t], block) (xo[t]: token t's quantised row, as
// the shape names it); the same integer sums and f32 steps as superblock_dot per token.
// Reference: shared/engine/reference/int-matvec.ts (intMatvecRef per token).
const TT_Q6: u32 = 4u;

fn superblock_dot_tokens(bb: u32, xb: u32, xo: vec4<u32>) -> vec4<f32> {
  let a = bb >> 2u;
  let al = (bb & 2u) == 0u;
  let sh = select(16u, 0u, al);
  let mask = select(0xffff0000u, 0u, al);
  let dw = w[a + 52u];
  let d = unpack2x16float(select(dw >> 16u, dw, al)).x;
  var acc = vec4<f32>(0.0);
  for (var h = 0u; h < 2u; h++) {
    // Per token: Σ q·xq per stream over words 0..3, and 4..7 (zeroed for each half).
    var lo = array<vec4<i32>, 4>(vec4<i32>(0), vec4<i32>(0), vec4<i32>(0), vec4<i32>(0));
    var hi = array<vec4<i32>, 4>(vec4<i32>(0), vec4<i32>(0), vec4<i32>(0), vec4<i32>(0));
    var pa = w[a + 16u * h];
    var pb = w[a + 16u * h + 8u];
    var pc = w[a + 32u + 8u * h];
    for (var i = 0u; i < 8u; i++) {
      let na = w[a + 16u * h + i + 1u];
      let nb = w[a + 16u * h + 9u + i];
      let nc = w[a + 33u + 8u * h + i];
      let qa = (pa >> sh) | ((na << 16u) & mask);
      let qb = (pb >> sh) | ((nb << 16u) & mask);
      let qc = (pc >> sh) | ((nc << 16u) & mask);
      pa = na;
      pb = nb;
      pc = nc;
      let w0 = s8_of_q6((qa & 0x0f0f0f0fu) | ((qc << 4u) & 0x30303030u));
      let w1 = s8_of_q6((qb & 0x0f0f0f0fu) | ((qc << 2u) & 0x30303030u));
      let w2 = s8_of_q6(((qa >> 4u) & 0x0f0f0f0fu) | (qc & 0x30303030u));
      let w3 = s8_of_q6(((qb >> 4u) & 0x0f0f0f0fu) | ((qc >> 2u) & 0x30303030u));
      for (var t = 0u; t < TT_Q6; t++) {
        // x block 4h + s of token t, word i (xword_tok: the including shape's).
        let b = xb + 4u * h;
        let s = vec4<i32>(idot(w0, xword_tok(xo[t], b, i)), idot(w1, xword_tok(xo[t], b + 1u, i)), idot(w2, xword_tok(xo[t], b + 2u, i)), idot(w3, xword_tok(xo[t], b + 3u, i)));
        if (i < 4u) {
          lo[t] += s;
        } else {
          hi[t] += s;
        }
      }
    }
    let wa = bitcast<i32>((w[a + 48u + 2u * h] >> sh) | ((w[a + 49u + 2u * h] << 16u) & mask));
    let wb = bitcast<i32>((w[a + 49u + 2u * h] >> sh) | ((w[a + 50u + 2u * h] << 16u) & mask));
    let s0 = vec4<i32>(extractBits(wa, 0u, 8u), extractBits(wa, 16u, 8u), extractBits(wb, 0u, 8u), extractBits(wb, 16u, 8u));
    let s1 = vec4<i32>(extractBits(wa, 8u, 8u), extractBits(wa, 24u, 8u), extractBits(wb, 8u, 8u), extractBits(wb, 24u, 8u));
    for (var t = 0u; t < TT_Q6; t++) {
      let tt = s0 * lo[t] + s1 * hi[t];
      for (var j = 0u; j < 4u; j++) {
        acc[t] += f32(tt[j]) * (d * xscale_tok(xo[t], xb + 4u * h + j));
      }
    }
  }
  return acc;
}
