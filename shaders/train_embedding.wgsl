// Token embedding for training: a gather forward, a deterministic scatter-add backward.
// Entry points:
//   forward   y[n, d] = table[ids[n], d]; an id outside [0, vocab) (vocab = rows the table
//             binding holds) gives a row of zeros. One invocation per (n, d).
//   backward  dTable[v, d] += Σ dy[n, d] over the rows n with ids[n] = v, ascending n, from the
//             CPU-built index (shared/train/kernels-linear.ts embeddingIndex): rows with id v are
//             rowIdx[rows_base + offsets[v] .. rows_base + offsets[v + 1]). One invocation per
//             (v, d) sums its own rows: no atomics, the same bits every run. Ids with no rows
//             leave dTable untouched.
// Both take a 1-D workgroup count split into 2-D past 65535 (wg = wid.x + wid.y * nwg.x), each
// workgroup covering WG values of d for one row (forward: n, backward: v).
// Bindings: 0 uniform P { rows, dim, vocab, rows_base }, forward: 1 table [vocab, dim] (read),
//           2 ids [rows] i32 (read), 3 y [rows, dim] (write); backward: 4 dy [rows, dim] (read),
//           5 offsets [vocab + 1] u32 (read), 6 rowIdx u32 (read; may be the offsets binding when
//           index and offsets are packed in one buffer), 7 dTable [vocab, dim] (read_write).
// Override WG: invocations per workgroup, ≤ 256.
// Reference: shared/train/reference/ops.ts (embeddingForward, embeddingBackward).

struct P { rows: u32, dim: u32, vocab: u32, rows_base: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read> offsets: array<u32>;
@group(0) @binding(6) var<storage, read> row_idx: array<u32>;
@group(0) @binding(7) var<storage, read_write> dtable: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let blocks = (p.dim + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  let n = w / blocks;
  let d = (w % blocks) * WG + li;
  if (n >= p.rows || d >= p.dim) { return; }
  let id = ids[n];
  var v = 0.0;
  if (id >= 0 && u32(id) < p.vocab) { v = table[u32(id) * p.dim + d]; }
  y[n * p.dim + d] = v;
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let blocks = (p.dim + WG - 1u) / WG;
  let w = wid.x + wid.y * nwg.x;
  let v = w / blocks;
  let d = (w % blocks) * WG + li;
  if (v >= p.vocab || d >= p.dim) { return; }
  let lo = offsets[v];
  let hi = offsets[v + 1u];
  if (lo == hi) { return; }
  var s = 0.0;
  for (var i = lo; i < hi; i++) {
    s += dy[row_idx[p.rows_base + i] * p.dim + d];
  }
  dtable[v * p.dim + d] += s;
}
