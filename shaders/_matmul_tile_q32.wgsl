// Include-only (leading "_"). matmul_tile (_matmul_tile.wgsl) for the 32-value blocks of
// _matvec_q32.wgsl (Q8_0, Q4_0): chunk_tile walks block k's quant words as chunk_dot does and
// hands each to the type file's hook, once for all the tile's tokens.
// Hook the type file defines:
//   fn qword_tile(q: u32, d: f32, xr: u32, i: u32)   quant word i (q) of a block with scale d,
//                                                    dequantised, into tile_fma; the block's
//                                                    values start at vec4 index xr of the row
//#include "_matmul_tile"

fn chunk_tile(rb: u32, k: u32) {
  let b = blk(rb, k);
  let xv = 8u * k;
  var v = w[b.base];
  for (var i = 0u; i < QWORDS; i++) {
    let nxt = w[b.base + i + 1u];
    qword_tile(qword(b, v, nxt), b.d, xv, i);
    v = nxt;
  }
}
