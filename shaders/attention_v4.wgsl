// attention.wgsl (see there for what it computes, its entry points, bindings and limits) with K,
// V, q and the new key and value held as 16-byte words: the same f32 operations in the same order,
// so the same results bit for bit, in a quarter of the loads. Needs headDim a multiple of 4 (so
// every head's row starts on a 16-byte word; CoreKernels uses it only then) and the caches' sizes
// multiples of 16 bytes. Invocation li owns dims 4·li .. 4·li + 3 (4 · WG >= headDim).

//#include "_attention"

@group(0) @binding(2) var<storage, read_write> kCache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> vCache: array<vec4<f32>>;

var<workgroup> qs: array<vec4<f32>, GH * WG>;   // head e's dims 4i .. 4i + 3 at e · WG + i
var<workgroup> kn: array<vec4<f32>, WG>; // decode_rope: the new key and value
var<workgroup> vn: array<vec4<f32>, WG>;

fn put_q(e: u32, d: u32, v: f32) { qs[e * WG + (d >> 2u)][d & 3u] = v; }

fn put_fresh(d: u32, kv: f32, vv: f32) {
  kn[d >> 2u][d & 3u] = kv;
  vn[d >> 2u][d & 3u] = vv;
}

fn cache_put(i: u32, kv: f32, vv: f32) {
  kCache[i >> 2u][i & 3u] = kv;
  vCache[i >> 2u][i & 3u] = vv;
}

// As attention.wgsl's: dot_e += q_e[d] · k[d] for d in turn, four at a time.
fn dot4_into(dot: ptr<function, array<f32, GH_MAX>>, i: u32, kv: vec4<f32>) {
  for (var e = 0u; e < GH; e++) {
    let qv = qs[e * WG + i];
    var s = (*dot)[e];
    s += qv.x * kv.x;
    s += qv.y * kv.y;
    s += qv.z * kv.z;
    s += qv.w * kv.w;
    (*dot)[e] = s;
  }
}

fn key_dots(kb: u32, hd: u32) -> array<f32, GH_MAX> {
  var dot: array<f32, GH_MAX>;
  let k0 = kb >> 2u;
  for (var i = 0u; i < hd / 4u; i++) { dot4_into(&dot, i, kCache[k0 + i]); }
  return dot;
}

fn fresh_dots(hd: u32) -> array<f32, GH_MAX> {
  var dot: array<f32, GH_MAX>;
  for (var i = 0u; i < hd / 4u; i++) { dot4_into(&dot, i, kn[i]); }
  return dot;
}

// One head's dims 4·li .. 4·li + 3.
struct Acc { a: vec4<f32> }

fn acc_zero() -> Acc { return Acc(vec4<f32>(0.0)); }

fn acc_chunk(acc: ptr<function, array<Acc, GH_MAX>>, li: u32, alpha: array<f32, GH_MAX>, vb0: u32, kvw: u32, nc: u32, n: u32, hd: u32) {
  if (4u * li >= hd) { return; }
  var a: array<vec4<f32>, GH_MAX>;
  for (var e = 0u; e < GH; e++) { a[e] = (*acc)[e].a * alpha[e]; }
  var vb = (vb0 >> 2u) + li;
  let step = kvw >> 2u;
  for (var i = 0u; i < nc; i++) {
    let v = vCache[vb];
    for (var e = 0u; e < GH; e++) { a[e] += ps[e * WG + i] * v; }
    vb += step;
  }
  for (var e = 0u; e < GH; e++) {
    if (nc < n) { a[e] += ps[e * WG + nc] * vn[li]; }
    (*acc)[e].a = a[e];
  }
}

fn acc_store(acc: Acc, li: u32, ob: u32, hd: u32, l: f32) {
  if (4u * li >= hd) { return; }
  let o = acc.a / l;
  out[ob + 4u * li] = o.x;
  out[ob + 4u * li + 1u] = o.y;
  out[ob + 4u * li + 2u] = o.z;
  out[ob + 4u * li + 3u] = o.w;
}
