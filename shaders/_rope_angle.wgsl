// The rotation of RoPE pair i at position pos: (cos, sin) of pos * invFreq[i], with the angle
// reduced to [-pi, pi] first (Cody-Waite; accurate while angle < 2^16 * 2pi, i.e. positions
// below ~400k) because WGSL only bounds cos/sin error on [-pi, pi]. Shared by rope.wgsl and
// rope_kv_append.wgsl so that both rotate bit for bit alike.

const INV_TWO_PI: f32 = 0.15915493667125702;
// 2*pi = A + B + C, A and B with 8 significant bits so k * A and k * B are exact for k < 2^16;
// the subtractions then lose at most ~1 ulp of the reduced angle.
const TWO_PI_A: f32 = 6.28125;
const TWO_PI_B: f32 = 0.00193023681640625;
const TWO_PI_C: f32 = 5.070363386039389e-06;

fn rope_cos_sin(pos: u32, inv_freq: f32) -> vec2f {
  let a = f32(pos) * inv_freq;
  let k = round(a * INV_TWO_PI);
  let r = ((a - k * TWO_PI_A) - k * TWO_PI_B) - k * TWO_PI_C;
  return vec2f(cos(r), sin(r));
}
