// attention.wgsl (see there for what it computes, its entry points, bindings and limits) with K,
// V, q and the new key and value held as 16-byte words: the same f32 operations in the same order,
// so the same results bit for bit, in a quarter of the loads. Needs headDim a multiple of 4 (so
// every head's row starts on a 16-byte word; CoreKernels uses it only then) and the caches' sizes
// multiples of 16 bytes. Invocation li owns dims 4·li .. 4·li + 3 (4 · WG >= headDim).

//#include "_attention"

@group(0) @binding(2) var<storage, read_write> kCache: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> vCache: array<vec4<f32>>;

var<workgroup> qs: array<vec4<f32>, WG>;
var<workgroup> kn: array<vec4<f32>, WG>; // decode_rope: the new key and value
var<workgroup> vn: array<vec4<f32>, WG>;

fn put_q(d: u32, v: f32) { qs[d >> 2u][d & 3u] = v; }

fn put_fresh(d: u32, kv: f32, vv: f32) {
  kn[d >> 2u][d & 3u] = kv;
  vn[d >> 2u][d & 3u] = vv;
}

fn cache_put(e: u32, kv: f32, vv: f32) {
  kCache[e >> 2u][e & 3u] = kv;
  vCache[e >> 2u][e & 3u] = vv;
}

// As attention.wgsl's: dot += q[d] · k[d] for d in turn, four at a time.
fn key_dot(kb: u32, hd: u32) -> f32 {
  var dot = 0.0;
  let k0 = kb >> 2u;
  for (var i = 0u; i < hd / 4u; i++) {
    let qv = qs[i];
    let kv = kCache[k0 + i];
    dot += qv.x * kv.x;
    dot += qv.y * kv.y;
    dot += qv.z * kv.z;
    dot += qv.w * kv.w;
  }
  return dot;
}

fn fresh_dot(hd: u32) -> f32 {
  var dot = 0.0;
  for (var i = 0u; i < hd / 4u; i++) {
    let qv = qs[i];
    let kv = kn[i];
    dot += qv.x * kv.x;
    dot += qv.y * kv.y;
    dot += qv.z * kv.z;
    dot += qv.w * kv.w;
  }
  return dot;
}

// Dims 4·li .. 4·li + 3.
struct Acc { a: vec4<f32> }

fn acc_zero() -> Acc { return Acc(vec4<f32>(0.0)); }

fn acc_chunk(acc: Acc, li: u32, alpha: f32, vb0: u32, kvw: u32, nc: u32, n: u32, hd: u32) -> Acc {
  if (4u * li >= hd) { return acc; }
  var a = acc.a * alpha;
  var vb = (vb0 >> 2u) + li;
  let step = kvw >> 2u;
  for (var i = 0u; i < nc; i++) {
    a += ps[i] * vCache[vb];
    vb += step;
  }
  if (nc < n) { a += ps[nc] * vn[li]; }
  return Acc(a);
}

fn acc_store(acc: Acc, li: u32, ob: u32, hd: u32, l: f32) {
  if (4u * li >= hd) { return; }
  let o = acc.a / l;
  out[ob + 4u * li] = o.x;
  out[ob + 4u * li + 1u] = o.y;
  out[ob + 4u * li + 2u] = o.z;
  out[ob + 4u * li + 3u] = o.w;
}
