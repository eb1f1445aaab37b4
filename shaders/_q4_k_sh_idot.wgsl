// Include-only (leading "_"). The chunk sums of Q4_K's products with x shared through the subgroup
// (_matvec_i8_k_sh.wgsl) through idot (dot4I8Packed or its i32 equivalent): a row's chunk and a
// token's chunk as loaded, Σ nibbles · x by nib_dot (_q4_k_i8v.wgsl).

struct QChunk {
  qa: vec4<u32>,
  qb: vec4<u32>,
}

struct XChunkPrep {
  x: array<vec4<u32>, 4>,
}

fn q_chunk(qa: vec4<u32>, qb: vec4<u32>) -> QChunk {
  return QChunk(qa, qb);
}

fn x_chunk_prep(x: array<vec4<u32>, 4>) -> XChunkPrep {
  return XChunkPrep(x);
}

// (Σ low nibbles · x, Σ high nibbles · x) of the chunk: sub-blocks 2c and 2c + 1.
fn chunk_sums(q: QChunk, x: XChunkPrep) -> vec2<i32> {
  return vec2<i32>(nib_dot(q.qa, 0u, x.x[0]) + nib_dot(q.qb, 0u, x.x[1]), nib_dot(q.qa, 4u, x.x[2]) + nib_dot(q.qb, 4u, x.x[3]));
}
