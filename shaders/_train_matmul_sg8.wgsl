// The body of the subgroup-8 training matrix product, shared by train_matmul_sg8.wgsl (f32 B)
// and train_matmul_sg8_f16.wgsl (f16 B, mixed precision). The including shader enables
// subgroups, declares the uniform `p` (M, N, K, flags first), the bindings a4 (vec4f), bias and
// c, and `fn b4_at(i: u32) -> vec4f`, the i-th group of 4 elements of B as stored.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
// Uniform flags, as in train_matmul.wgsl: ACC_FLAG c += instead of c =, BIAS_FLAG add bias[n].
const ACC_FLAG = 1u;
const BIAS_FLAG = 2u;

const RG = 2u; // groups of 8 rows per workgroup
const RM = 8u * RG; // rows per workgroup
const TN = 4u; // columns per lane: n0 + 4 lane .. + 3

// The 8 lanes' vectors, to every lane (lane ids must be constants).
fn lanes(v: vec4f) -> array<vec4f, 8> {
  return array<vec4f, 8>(
    subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u),
    subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

// A[r, k .. k + 3] for the 8 rows of one group, from the vectors the lanes loaded: lane r's
// vector, or with TRANS_A component r % 4 of lanes r / 4, 2 + r / 4, 4 + r / 4, 6 + r / 4
// (lane l loaded k-row k + l / 2, rows 4 (l % 2) .. + 3).
fn rows_of(v: vec4f) -> array<vec4f, 8> {
  let l = lanes(v);
  if (!TRANS_A) { return l; }
  var o: array<vec4f, 8>;
  for (var r = 0u; r < 8u; r++) {
    let h = r / 4u;
    let j = r % 4u;
    o[r] = vec4f(l[h][j], l[2u + h][j], l[4u + h][j], l[6u + h][j]);
  }
  return o;
}

fn store(m: u32, n: u32, v: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let o = m * p.N + n;
  var r = v;
  if ((p.flags & BIAS_FLAG) != 0u) { r += bias[n]; }
  if ((p.flags & ACC_FLAG) != 0u) { r += c[o]; }
  c[o] = r;
}

@compute @workgroup_size(8)
fn main(@builtin(subgroup_invocation_id) lane: u32, @builtin(workgroup_id) wid: vec3u) {
  let m0 = wid.y * RM;
  let n0 = wid.x * (8u * TN);
  // TRANS_B: B row col[t] gives 4 k of column t as a vec4. Otherwise a B row at k gives the
  // lane's 4 columns as one vec4 (N % 4 == 0), and 4 such rows are transposed.
  var col: array<u32, TN>;
  for (var t = 0u; t < TN; t++) { col[t] = min(n0 + 4u * lane + t, p.N - 1u); }
  let quad = min(n0 + 4u * lane, max(p.N, 4u) - 4u);
  // What this lane loads of A in group g: its row (normal) or its 4 rows' start (TRANS_A).
  var arow: array<u32, RG>;
  for (var g = 0u; g < RG; g++) {
    if (TRANS_A) {
      arow[g] = min(m0 + 8u * g + 4u * (lane % 2u), p.M - 4u);
    } else {
      arow[g] = min(m0 + 8u * g + lane, p.M - 1u);
    }
  }
  var acc: array<array<f32, TN>, RM>;
  for (var k = 0u; k < p.K; k += 4u) {
    var bq: array<vec4f, TN>; // B[k .. k + 3, column t of this lane]
    if (TRANS_B) {
      for (var t = 0u; t < TN; t++) { bq[t] = b4_at((col[t] * p.K + k) / 4u); }
    } else {
      let q0 = b4_at((k * p.N + quad) / 4u);
      let q1 = b4_at(((k + 1u) * p.N + quad) / 4u);
      let q2 = b4_at(((k + 2u) * p.N + quad) / 4u);
      let q3 = b4_at(((k + 3u) * p.N + quad) / 4u);
      for (var t = 0u; t < TN; t++) { bq[t] = vec4f(q0[t], q1[t], q2[t], q3[t]); }
    }
    for (var g = 0u; g < RG; g++) {
      var v: vec4f;
      if (TRANS_A) {
        v = a4[((k + lane / 2u) * p.M + arow[g]) / 4u];
      } else {
        v = a4[(arow[g] * p.K + k) / 4u];
      }
      let rows = rows_of(v);
      for (var r = 0u; r < 8u; r++) {
        let x = rows[r];
        for (var t = 0u; t < TN; t++) {
          let y = bq[t];
          acc[8u * g + r][t] = fma(x.w, y.w, fma(x.z, y.z, fma(x.y, y.y, fma(x.x, y.x, acc[8u * g + r][t]))));
        }
      }
    }
  }
  for (var r = 0u; r < RM; r++) {
    for (var t = 0u; t < TN; t++) {
      store(m0 + r, n0 + 4u * lane + t, acc[r][t]);
    }
  }
}
