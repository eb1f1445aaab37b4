// Include-only (leading "_"). x shared through the subgroup, the loads the -sh products share
// (_matvec_i8_k_sh.wgsl, _matvec_q8_0_sh.wgsl, _matvec_q6_k_sh.wgsl): one token's quantised x for
// 256 values (a super-block; Q8_0: a group of 8 blocks), one vec4 per lane of a subgroup of 8.
// qa lane l = quant vec4 l (values 0..127), qb = quant vec4 8 + l (values 128..255), sd lanes
// 0, 1 the scales of x blocks 0..3, 4..7 (the other lanes repeat them); with x_lanes_sums, lanes
// 2, 3 the blocks' quant sums instead (Q4_K's mins need them). Two functions, not one with xm =
// xs for the types without sums: the select measured 2–8 % on Q8_0's prefill.
// The including file declares xq: array<vec4<u32>> (binding 2).

struct XLanes {
  qa: vec4<u32>,
  qb: vec4<u32>,
  sd: vec4<u32>,
}

// xt, xs: where the token's quants and scales start (vec4s); k: the 256 values' index.
fn x_lanes(xt: u32, xs: u32, k: u32, lane: u32) -> XLanes {
  let l = lane & 7u;
  return XLanes(xq[xt + 16u * k + l], xq[xt + 16u * k + 8u + l], xq[xs + 2u * k + (l & 1u)]);
}

// As x_lanes, and xm where the block sums start: lanes 2, 3 take those.
fn x_lanes_sums(xt: u32, xs: u32, xm: u32, k: u32, lane: u32) -> XLanes {
  let l = lane & 7u;
  let s = select(xs, xm, (l & 2u) != 0u) + 2u * k + (l & 1u);
  return XLanes(xq[xt + 16u * k + l], xq[xt + 16u * k + 8u + l], xq[s]);
}
