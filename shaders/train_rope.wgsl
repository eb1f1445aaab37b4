// Rotary position embedding for training, in place on x = [rows, heads * headDim] f32, rows
// n = b * T + t of B sequences of T tokens: row n has position t = n % T (specs/training.md).
// Pair i (0 <= i < headDim/2) of each head rotates by theta = f32(t) * invFreq[i]:
//   normal (llama): pairs (2i, 2i+1)        NEOX (qwen2): pairs (i, i + headDim/2)
//   forward  x0' = x0 cos - x1 sin,  x1' = x0 sin + x1 cos
//   backward the same with -theta (a rotation's inverse is its transpose): dx = R(-theta) dy.
// The angle is reduced to [-pi, pi] (Cody-Waite, as shaders/rope.wgsl) because WGSL only bounds
// cos/sin error there. One invocation per pair; linear index = (wid.x + wid.y * nwg.x) * WG + lid.
// Bindings: 0 uniform P { rows, T, heads, headDim }, 1 x (read_write), 2 invFreq [headDim/2]
//           (read_write, so ranges of one arena can be bound together).
// Variants: override NEOX, BACKWARD; override WG (<= 256). f32 only.
// Reference: shared/train/reference/ops.ts (ropeForward, ropeBackward).

struct P { rows: u32, T: u32, heads: u32, headDim: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> invFreq: array<f32>;

override WG: u32 = 64u;
override NEOX: bool = false;
override BACKWARD: bool = false;

const INV_TWO_PI: f32 = 0.15915493667125702;
// 2*pi = A + B + C with A and B of 8 significant bits: k * A and k * B are exact for k < 2^16.
const TWO_PI_A: f32 = 6.28125;
const TWO_PI_B: f32 = 0.00193023681640625;
const TWO_PI_C: f32 = 5.070363386039389e-06;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let half = p.headDim / 2u;
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.rows * p.heads * half) { return; }
  let i = idx % half;
  let nh = idx / half;             // n * heads + h
  let t = (nh / p.heads) % p.T;
  let a = f32(t) * invFreq[i];
  let k = round(a * INV_TWO_PI);
  let r = ((a - k * TWO_PI_A) - k * TWO_PI_B) - k * TWO_PI_C;
  let c = cos(r);
  var s = sin(r);
  if (BACKWARD) { s = -s; }
  let base = nh * p.headDim;
  var i0 = base + 2u * i;
  var i1 = i0 + 1u;
  if (NEOX) {
    i0 = base + i;
    i1 = base + i + half;
  }
  let x0 = x[i0];
  let x1 = x[i1];
  x[i0] = x0 * c - x1 * s;
  x[i1] = x0 * s + x1 * c;
}
