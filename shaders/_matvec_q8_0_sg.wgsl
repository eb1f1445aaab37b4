// Include-only (leading "_"). The subgroup shape of Q8_0's integer decode product: one subgroup
// of TPR = 8 lanes per NR rows (override NR: 1, 2 or 4), the row taken 8 blocks at a time: 8
// blocks of 34 bytes are 272 bytes, 68 words, so with cols a multiple of 256 every group starts
// on a word boundary where the first one does and each block's place in it is fixed. Lane j takes
// block j of each group, words 8j + ⌊j/2⌋ .. +8 of it (the 8 lanes read one 272-byte span side by
// side, as the Q4_K subgroup shape does, instead of 8 rows apart): an even block starts on a word
// (its scale the low half of its first word, its quants from byte 2), an odd one mid-word (its
// scale the high half of its first word, its quants the 8 words after). So the realignment
// depends only on the lane's parity, and it is applied to x, not to the weights: x's block j
// is shifted by 2 bytes (even lanes) or one word (odd lanes) once per group, shared by the NR
// rows, so that its quants sit under the weight quants and zeros under the scale bytes and the
// neighbours' quants; then each row is 9 packed products of words as loaded. x's quants, scale
// and (once per group) realignment are shared by the rows; subgroupAdd gives each row. The rows
// come through subgroupBroadcastFirst so that the compiler knows their addresses
// subgroup-uniform.
// Read pattern, chosen by measurement (specs/benchmarks.md, "Q8_0 subgroup decode kernels"):
// these 9 words per lane and row measured as fast as 3 vec4s per lane (vec4s 2j..2j+2, the
// block inside at a lane-dependent offset, x realigned by select chains: 12 products per row), and
// as reading the third vec4 from the next lane by subgroupShuffleDown; the word form needs the
// least arithmetic.
// Needs subgroups of exactly TPR lanes (int-matvec.ts offers it only there), cols a multiple of
// 256, the weights and x_off 16-byte aligned (int-matvec.ts checks). Reference:
// shared/engine/reference/int-matvec.ts (intMatvecRef). The including file defines idot
// (_idot_dot4: dot4I8Packed; _idot_int: plain i32).

//#include "_matvec_i8_params"

override WG: u32 = 64u;
override NR: u32 = 1u;
const TPR: u32 = 8u;
const GROUP_WORDS: u32 = 68u; // 8 blocks of 34 bytes

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// x's block realigned under the lane's 9 weight words: words a, b and c (the 9th).
struct XAligned {
  a: vec4<u32>,
  b: vec4<u32>,
  c: u32,
}

// Even lanes: quant i of the block is byte 2 + i of the words, so x moves up 2 bytes (the scale's
// low half meets zeros, the 9th word's high half, the next block's scale, too). Odd lanes: the
// quants are words 1..8, so x moves up one word (word 0, the previous block's last quants and
// this block's scale, meets zeros).
fn realign_x(x0: vec4<u32>, x1: vec4<u32>, even: bool) -> XAligned {
  let p0 = vec4<u32>(0u, x0.x, x0.y, x0.z);
  let p1 = vec4<u32>(x0.w, x1.x, x1.y, x1.z);
  let e0 = (x0 << vec4<u32>(16u)) | (p0 >> vec4<u32>(16u));
  let e1 = (x1 << vec4<u32>(16u)) | (p1 >> vec4<u32>(16u));
  return XAligned(select(p0, e0, even), select(p1, e1, even), select(x1.w, x1.w >> 16u, even));
}

// One row's share for this lane: its 9 words from word `b`, times dw·dx of its block.
fn row_term(b: u32, lane: u32, xr: XAligned, dx: f32) -> f32 {
  let w0 = w[b];
  let s = idot(w0, xr.a.x) + idot(w[b + 1u], xr.a.y) + idot(w[b + 2u], xr.a.z) + idot(w[b + 3u], xr.a.w)
    + idot(w[b + 4u], xr.b.x) + idot(w[b + 5u], xr.b.y) + idot(w[b + 6u], xr.b.z) + idot(w[b + 7u], xr.b.w)
    + idot(w[b + 8u], xr.c);
  let dw = unpack2x16float(w0 >> (16u * (lane & 1u))).x;
  return f32(s) * (dw * dx);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  // The subgroup's first row: the same for its 8 lanes, and known to be by the compiler.
  let row0 = subgroupBroadcastFirst(((wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR) * NR);
  let ng = p.cols / 256u;
  let xs = p.x_off + p.cols / 4u;
  // The subgroup's rows (first word of each); past the matrix's last row, the last row again (computed, not stored).
  var rw: array<u32, 4>;
  for (var r = 0u; r < NR; r++) {
    rw[r] = p.w_off + min(row0 + r, p.rows - 1u) * ng * GROUP_WORDS;
  }
  let even = (lane & 1u) == 0u;
  let lw = (17u * lane) >> 1u; // 8j + ⌊j/2⌋: the word where block j (or its scale's word) starts
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k = 0u; k < ng; k++) {
    // x block 8k + lane: its quants (2 vec4s) realigned, and its scale, shared by the rows.
    let xb = (p.x_off + 64u * k + 8u * lane) / 4u;
    let xr = realign_x(xq[xb], xq[xb + 1u], even);
    let dx = bitcast<f32>(xq[(xs + 8u * k) / 4u + (lane >> 2u)][lane & 3u]);
    let kw = GROUP_WORDS * k + lw;
    acc[0] += row_term(rw[0] + kw, lane, xr, dx);
    if (NR > 1u) {
      acc[1] += row_term(rw[1] + kw, lane, xr, dx);
    }
    if (NR > 2u) {
      acc[2] += row_term(rw[2] + kw, lane, xr, dx);
      acc[3] += row_term(rw[3] + kw, lane, xr, dx);
    }
  }
  for (var r = 0u; r < NR; r++) {
    let s = subgroupAdd(acc[r]);
    if (lane == 0u && row0 + r < p.rows) {
      y[p.y_off + row0 + r] = s;
    }
  }
}
