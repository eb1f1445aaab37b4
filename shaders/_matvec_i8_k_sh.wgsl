// Include-only (leading "_"). The 16-byte-read shape of Q4_K's integer products (as
// _matvec_i8_k_v16.wgsl: one invocation per NR rows, a super-block as 9 vec4s, the type file's
// head_of and chunk_scaled) with x shared through the subgroup: lane l of each subgroup of 8 loads
// x vec4s l and 8 + l of the super-block's quants and one vec4 of its scales or block sums, and
// every lane takes the chunk's 4 quant vec4s and 2 scales and sums from the lane that loaded
// them (subgroupBroadcast). The x addresses are the same in every lane, and on lavapipe a load
// whose address the compiler cannot prove constant runs once per lane (a scalar load with a
// bounds check per 4-byte word), so one token's x for a super-block costs 3 loads per lane
// instead of 20: per super-block and invocation, NR · 9 weight loads and 3 per token.
// Measured on lavapipe (specs/benchmarks.md, "x shared through the subgroup"): decode 1.2× of
// the -sg-r4 shape, prefill 1.5–1.7× of the 16-byte shape's.
// Needs subgroups of exactly 8 lanes (int-matvec.ts offers the variants only there), cols a
// multiple of 256, the weights and x_off 16-byte aligned (int-matvec.ts checks). Every lane
// of a subgroup must run the same x loads: no lane returns early (rows past the end repeat the
// last row and are not stored). Reference: shared/engine/reference/int-matvec.ts.
// The including file enables subgroups and defines BLOCK_BYTES, idot, Head, head_of
// and chunk_scaled (_q4_k_i8v.wgsl), and the chunk sums (_q4_k_sh_idot.wgsl through
// idot, _q4_k_sh_pairs.wgsl two byte products per u32 multiply):
//   struct QChunk, fn q_chunk(qa: vec4<u32>, qb: vec4<u32>) -> QChunk     a row's chunk, prepared once for its tokens
//   struct XChunkPrep, fn x_chunk_prep(x: array<vec4<u32>, 4>) -> XChunkPrep   a token's chunk, once for its rows
//   fn chunk_sums(q: QChunk, x: XChunkPrep) -> vec2<i32>                  Σ low nibbles · x, Σ high nibbles · x

//#include "_matvec_i8_params"

override WG: u32 = 64u;
// Rows per invocation: 1, 2 or 4 for `matvec`, 1..8 for `matmul`.
override NR: u32 = 1u;
// Tokens per invocation of `matmul`, 1..16 (int-matvec.ts SH_MATMUL_TOKENS by default).
override TT: u32 = 16u;

@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// One token's x for one super-block (XLanes, x_lanes_sums): chunks 0, 1 in qa, 2, 3 in qb, the
// sub-blocks' scales and block sums in sd.
//#include "_sh_x_lanes"

fn lanes_0_3(a: vec4<u32>) -> array<vec4<u32>, 4> {
  return array<vec4<u32>, 4>(subgroupBroadcast(a, 0u), subgroupBroadcast(a, 1u), subgroupBroadcast(a, 2u), subgroupBroadcast(a, 3u));
}

fn lanes_4_7(a: vec4<u32>) -> array<vec4<u32>, 4> {
  return array<vec4<u32>, 4>(subgroupBroadcast(a, 4u), subgroupBroadcast(a, 5u), subgroupBroadcast(a, 6u), subgroupBroadcast(a, 7u));
}

// Chunk c's x (its 4 quant vec4s, the 2 scales and 2 block sums of sub-blocks 2c, 2c + 1).
struct XChunk {
  x: array<vec4<u32>, 4>,
  d: vec2<f32>,
  s: vec2<i32>,
}

fn chunk_x(xl: XLanes, c: u32) -> XChunk {
  var x: array<vec4<u32>, 4>;
  switch c {
    case 0u: { x = lanes_0_3(xl.qa); }
    case 1u: { x = lanes_4_7(xl.qa); }
    case 2u: { x = lanes_0_3(xl.qb); }
    default: { x = lanes_4_7(xl.qb); }
  }
  var dv: vec4<f32>;
  var sv: vec4<i32>;
  if (c < 2u) {
    dv = bitcast<vec4<f32>>(subgroupBroadcast(xl.sd, 0u));
    sv = bitcast<vec4<i32>>(subgroupBroadcast(xl.sd, 2u));
  } else {
    dv = bitcast<vec4<f32>>(subgroupBroadcast(xl.sd, 1u));
    sv = bitcast<vec4<i32>>(subgroupBroadcast(xl.sd, 3u));
  }
  if ((c & 1u) == 0u) {
    return XChunk(x, dv.xy, sv.xy);
  }
  return XChunk(x, dv.zw, sv.zw);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = ((wid.x + wid.y * nwg.x) * WG + li) * NR;
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  let xt = p.x_off / 4u;
  let xs = xt + p.cols / 16u;
  let xm = xs + p.cols / 128u;
  var rv: array<u32, 4>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ns * sv;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  var hd: array<Head, 4>;
  for (var k = 0u; k < ns; k++) {
    for (var r = 0u; r < NR; r++) {
      hd[r] = head_of(w[rv[r] + sv * k]);
    }
    let xl = x_lanes_sums(xt, xs, xm, k, lane);
    for (var c = 0u; c < 4u; c++) {
      let xc = chunk_x(xl, c);
      let xp = x_chunk_prep(xc.x);
      for (var r = 0u; r < NR; r++) {
        let v = rv[r] + sv * k;
        acc[r] += chunk_scaled(hd[r], c, chunk_sums(q_chunk(w[v + 1u + 2u * c], w[v + 2u + 2u * c]), xp), xc.d, xc.s);
      }
    }
  }
  for (var r = 0u; r < NR; r++) {
    if (row0 + r < p.rows) {
      y[p.y_off + row0 + r] = acc[r];
    }
  }
}

// Prefill (issue 15 §2): Y[t, r] for NR rows × TT tokens per invocation, x quantised for all the
// tokens first (token t's row from word x_off + t · x_stride). Per super-block: the NR rows'
// headers, then per chunk their 2 quant vec4s prepared once for all the tokens (q_chunk), and
// each token's chunk prepared once for all the rows (x_chunk_prep), summed by chunk_sums: through
// idot (i8sh), or two byte products per u32 multiply (i8xsh, _q4_k_sh_pairs.wgsl). On lavapipe the
// pairs form is fastest at 6 rows per invocation (1.2-1.4x of idot's best, 8 rows), and falls to
// half that from 7 (int-matvec.ts SH_PAIRS_MATMUL_ROWS; specs/benchmarks.md). Tokens past the end
// repeat the last one and are not stored.
@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = ((wid.x + wid.y * nwg.x) * WG + li) * NR;
  let t0 = wid.z * TT;
  let last = min(TT, p.ntok - t0) - 1u;
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  var rv: array<u32, 8>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ns * sv;
  }
  // Token t's quantised row in vec4s (x_off and x_stride are multiples of 4 words).
  var xt: array<u32, 16>;
  for (var t = 0u; t < TT; t++) {
    xt[t] = (p.x_off + (t0 + min(t, last)) * p.x_stride) / 4u;
  }
  let xsd = p.cols / 16u;
  let xmd = xsd + p.cols / 128u;
  var acc: array<array<f32, 16>, 8>;
  var hd: array<Head, 8>;
  var qc: array<QChunk, 8>;
  var xl: array<XLanes, 16>;
  for (var k = 0u; k < ns; k++) {
    for (var r = 0u; r < NR; r++) {
      hd[r] = head_of(w[rv[r] + sv * k]);
    }
    for (var t = 0u; t < TT; t++) {
      xl[t] = x_lanes_sums(xt[t], xt[t] + xsd, xt[t] + xmd, k, lane);
    }
    for (var c = 0u; c < 4u; c++) {
      for (var r = 0u; r < NR; r++) {
        let v = rv[r] + sv * k;
        qc[r] = q_chunk(w[v + 1u + 2u * c], w[v + 2u + 2u * c]);
      }
      for (var t = 0u; t < TT; t++) {
        let xc = chunk_x(xl[t], c);
        let xp = x_chunk_prep(xc.x);
        for (var r = 0u; r < NR; r++) {
          acc[r][t] += chunk_scaled(hd[r], c, chunk_sums(qc[r], xp), xc.d, xc.s);
        }
      }
    }
  }
  for (var r = 0u; r < NR; r++) {
    if (row0 + r < p.rows) {
      for (var t = 0u; t <= last; t++) {
        y[p.y_off + (t0 + t) * p.y_stride + row0 + r] = acc[r][t];
      }
    }
  }
}
