// Include-only (leading "_"). The subgroup shape of Q4_K's integer decode product: one subgroup
// of TPR = 8 lanes per NR rows (override NR: 1, 2 or 4), super-blocks in turn, each lane's loads
// beside its neighbours' (the read probe that sets the adapter's ceiling reads so; the
// one-invocation-per-row shapes make every load a gather of 8 distant addresses on lavapipe,
// where a subgroup is one SIMD register of 8 lanes).
// A 144-byte super-block is 9 vec4s: vec4 0 the header (f16 d | f16 dmin, the 12 bytes of 6-bit
// scales and mins), vec4 1 + j the quant words 4h..4h+3 (h = j & 1) of chunk c = j >> 1. Lane j
// reads vec4 1 + j of each row: values 16h..16h+15 of sub-blocks 2c (low nibbles) and 2c + 1
// (high), whose x quants are one vec4 each (x block b is vec4s 2b, 2b + 1 of the quantised x).
// Per lane and super-block, shared by the NR rows: those 2 vec4s of x (prepared once by the type
// file's prep_x), sub-block j's x scale and block sum, and (subgroupShuffleXor) the other x scale
// of the lane's chunk. Per row: the lane's quant vec4, and one header word per lane for two rows
// (lanes 0..3 row 2g, 4..7 row 2g + 1), passed to every lane by subgroupBroadcast: measured
// faster than each lane loading the whole header. Each lane adds its two partial integer sums
// times d·sc·dx of their sub-blocks, and sub-block j's min term −dmin·m_j·dx_j·Σxq_j (one lane
// per sub-block: counted once); subgroupAdd gives the row. The rows come through
// subgroupBroadcastFirst so that the compiler knows their addresses subgroup-uniform (without it,
// 0.83× the speed in one alternated run on lavapipe).
// Needs subgroups of exactly TPR lanes (int-matvec.ts offers it only there), cols a multiple of
// 256, the weights and x_off 16-byte aligned (int-matvec.ts checks). Reference:
// shared/engine/reference/int-matvec.ts (intMatvecRef).
// The including files define BLOCK_BYTES, Head and head_of (_q4_k_i8v.wgsl), and XPrep with
//   fn prep_x(x0: vec4<u32>, x1: vec4<u32>) -> XPrep       x's quant words of sub-blocks 2c, 2c + 1
//   fn chunk_sums(q: vec4<u32>, xp: XPrep) -> vec2<i32>    Σ low nibbles · x0, Σ high nibbles · x1
// (_q4_k_sg_idot.wgsl: through idot; _q4_k_sg_pairs.wgsl: two products per i32 multiply), and for
// the prefill entry `matmul` a token's and a row's prepared forms XTok, QRow with
//   fn prep_tok(x0: vec4<u32>, x1: vec4<u32>) -> XTok     once per token, shared by the NR rows
//   fn prep_row(q: vec4<u32>) -> QRow                      once per row, shared by the TT tokens
//   fn tile_sums(qr: QRow, xt: XTok) -> vec2<i32>          the same two sums as chunk_sums

//#include "_matvec_i8_params"

override WG: u32 = 64u;
override NR: u32 = 1u;
const TPR: u32 = 8u;

@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// A row's header from the 4 lanes from `first` (0 or 4) that loaded its words.
fn head_from(hw: u32, first: u32) -> Head {
  if (first == 0u) {
    return head_of(vec4<u32>(subgroupBroadcast(hw, 0u), subgroupBroadcast(hw, 1u), subgroupBroadcast(hw, 2u), subgroupBroadcast(hw, 3u)));
  }
  return head_of(vec4<u32>(subgroupBroadcast(hw, 4u), subgroupBroadcast(hw, 5u), subgroupBroadcast(hw, 6u), subgroupBroadcast(hw, 7u)));
}

// Lane `lane`'s share of a row's super-block: its quant vec4 q (chunk c = lane >> 1, half h =
// lane & 1) against x (prepared), times d·sc of sub-blocks 2c and 2c + 1 (x scales d), and the
// min term of sub-block `lane` (x scale dj, block sum sj).
fn row_term(hd: Head, q: vec4<u32>, xp: XPrep, lane: u32, d: vec2<f32>, dj: f32, sj: i32) -> f32 {
  let c = lane >> 1u;
  let sh = 16u * (c & 1u);
  let qs = chunk_sums(q, xp);
  let scw = hd.sc[c >> 1u];
  let mj = i32(extractBits(hd.mn[c >> 1u], sh + 8u * (lane & 1u), 8u));
  return f32(i32(extractBits(scw, sh, 8u)) * qs.x) * (hd.dm.x * d.x) + f32(i32(extractBits(scw, sh + 8u, 8u)) * qs.y) * (hd.dm.x * d.y) - f32(mj * sj) * (hd.dm.y * dj);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  // The subgroup's first row: the same for its 8 lanes, and known to be by the compiler.
  let row0 = subgroupBroadcastFirst(((wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR) * NR);
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  let xs = p.x_off + p.cols / 4u;
  let xm = xs + p.cols / 32u;
  let c = lane >> 1u;
  let h = lane & 1u;
  // The subgroup's rows; past the matrix's last row, the last row again (computed, not stored).
  var rv: array<u32, 4>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ns * sv;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k = 0u; k < ns; k++) {
    let xa = p.x_off + 8u * (8u * k + 2u * c) + 4u * h;
    let x0 = xq[xa / 4u];
    let x1 = xq[xa / 4u + 2u];
    // Sub-block j's x scale and block sum, and the scale of the other sub-block of the lane's chunk.
    let dj = bitcast<f32>(xq[(xs + 8u * k) / 4u + (lane >> 2u)][lane & 3u]);
    let sj = bitcast<i32>(xq[(xm + 8u * k) / 4u + (lane >> 2u)][lane & 3u]);
    let dn = subgroupShuffleXor(dj, 1u);
    let xp = prep_x(x0, x1);
    let d = select(vec2<f32>(dj, dn), vec2<f32>(dn, dj), h == 1u);
    // The rows' headers, two rows at a time: lane j loads word j & 3 of row 2g + (j >> 2), and
    // every lane takes the 4 words of each row from the lanes that loaded them.
    let kv = sv * k;
    let hw0 = w[rv[min(lane >> 2u, NR - 1u)] + kv][lane & 3u];
    acc[0] += row_term(head_from(hw0, 0u), w[rv[0] + kv + 1u + lane], xp, lane, d, dj, sj);
    if (NR > 1u) {
      acc[1] += row_term(head_from(hw0, 4u), w[rv[1] + kv + 1u + lane], xp, lane, d, dj, sj);
    }
    if (NR > 2u) {
      let hw1 = w[rv[min(2u + (lane >> 2u), NR - 1u)] + kv][lane & 3u];
      acc[2] += row_term(head_from(hw1, 0u), w[rv[2] + kv + 1u + lane], xp, lane, d, dj, sj);
      acc[3] += row_term(head_from(hw1, 4u), w[rv[3] + kv + 1u + lane], xp, lane, d, dj, sj);
    }
  }
  for (var r = 0u; r < NR; r++) {
    let s = subgroupAdd(acc[r]);
    if (lane == 0u && row0 + r < p.rows) {
      y[p.y_off + row0 + r] = s;
    }
  }
}

// Prefill (issue 15 §2): Y[t, r] in the same subgroup shape, NR rows (1..8 here) × TT tokens
// (override, 1..8) per subgroup pass (int-matvec.ts SG_MATMUL_ROWS × SG_MATMUL_TOKENS by
// default). Per super-block each lane loads its quant vec4 and its header word of each row once
// and works out the row's per-lane factors (d·sc of its two sub-blocks, dmin·m of sub-block
// `lane`) and its prepared nibbles once; then per token of the pass its 2 x vec4s (prepared once),
// x scale and block sum, dotted against all NR rows: per super-block and lane 1.5·NR weight loads
// and 4·TT x loads for NR·TT row × token sums (decode: 1.5 + 4 / NR per row). A workgroup walks
// its rows' tokens TZ at a time along z, in passes of TT, so a row's weights come from memory once
// and then from the cache; tokens past the end repeat the last one and are not stored.
// subgroupAdd per row and token at the end of each pass.
override TT: u32 = 4u;
// Tokens per workgroup along z (int-matvec.ts SG_MATMUL_GROUP_TOKENS).
const TZ: u32 = 64u;

// The per-lane factors of a row's super-block: d·sc of sub-blocks 2c, 2c + 1 and dmin·m of
// sub-block `lane`. Exact in f32 (f16 times a 6-bit integer).
fn lane_factors(hd: Head, lane: u32) -> vec3<f32> {
  let c = lane >> 1u;
  let sh = 16u * (c & 1u);
  let scw = hd.sc[c >> 1u];
  let mj = extractBits(hd.mn[c >> 1u], sh + 8u * (lane & 1u), 8u);
  return vec3<f32>(hd.dm.x * f32(extractBits(scw, sh, 8u)), hd.dm.x * f32(extractBits(scw, sh + 8u, 8u)), hd.dm.y * f32(mj));
}

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = subgroupBroadcastFirst(((wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR) * NR);
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  let c = lane >> 1u;
  let h = lane & 1u;
  var rv: array<u32, 8>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ns * sv;
  }
  let tend = min(p.ntok, (wid.z + 1u) * TZ);
  for (var t0 = wid.z * TZ; t0 < tend; t0 += TT) {
    let last = min(TT, tend - t0) - 1u;
    var acc: array<array<f32, 8>, 8>;
    for (var t = 0u; t < TT; t++) {
      for (var r = 0u; r < NR; r++) {
        acc[t][r] = 0.0;
      }
    }
    for (var k = 0u; k < ns; k++) {
      let kv = sv * k;
      var q: array<QRow, 8>;
      var f: array<vec3<f32>, 8>;
      // Two rows at a time: lane j loads header word j & 3 of row 2g + (j >> 2) (as matvec).
      for (var g = 0u; g < (NR + 1u) / 2u; g++) {
        let hw = w[rv[min(2u * g + (lane >> 2u), NR - 1u)] + kv][lane & 3u];
        f[2u * g] = lane_factors(head_from(hw, 0u), lane);
        q[2u * g] = prep_row(w[rv[2u * g] + kv + 1u + lane]);
        if (2u * g + 1u < NR) {
          f[2u * g + 1u] = lane_factors(head_from(hw, 4u), lane);
          q[2u * g + 1u] = prep_row(w[rv[2u * g + 1u] + kv + 1u + lane]);
        }
      }
      for (var t = 0u; t < TT; t++) {
        // Token t's quantised row (x_off, x_stride multiples of 4 words), its scales, its block sums.
        let xt = p.x_off + (t0 + min(t, last)) * p.x_stride;
        let xs = xt + p.cols / 4u;
        let xm = xs + p.cols / 32u;
        let xa = xt + 8u * (8u * k + 2u * c) + 4u * h;
        let xp = prep_tok(xq[xa / 4u], xq[xa / 4u + 2u]);
        let dj = bitcast<f32>(xq[(xs + 8u * k) / 4u + (lane >> 2u)][lane & 3u]);
        let mj = f32(bitcast<i32>(xq[(xm + 8u * k) / 4u + (lane >> 2u)][lane & 3u])) * dj;
        let dn = subgroupShuffleXor(dj, 1u);
        let d = select(vec2<f32>(dj, dn), vec2<f32>(dn, dj), h == 1u);
        for (var r = 0u; r < NR; r++) {
          let qs = vec2<f32>(tile_sums(q[r], xp));
          acc[t][r] += qs.x * f[r].x * d.x + qs.y * f[r].y * d.y - f[r].z * mj;
        }
      }
    }
    for (var t = 0u; t < TT; t++) {
      for (var r = 0u; r < NR; r++) {
        let s = subgroupAdd(acc[t][r]);
        if (lane == 0u && t <= last && row0 + r < p.rows) {
          y[p.y_off + (t0 + t) * p.y_stride + row0 + r] = s;
        }
      }
    }
  }
}
