// Include-only (leading "_"). The non-uniform 4-bit grid of IQ4_NL and IQ4_XS (ggml's
// kvalues_iq4nl; shared/quant/iq4_nl.ts IQ4_KVALUES) and its lookup for the four low or high
// nibbles of a word (little-endian: byte 0 first).

const KVALUES = array<f32, 16>(-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0, 1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);

fn kv4(n: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(KVALUES[n.x], KVALUES[n.y], KVALUES[n.z], KVALUES[n.w]);
}

fn kv_lo(q: u32) -> vec4<f32> {
  return kv4((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xfu));
}

fn kv_hi(q: u32) -> vec4<f32> {
  return kv4((vec4<u32>(q) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(0xfu));
}
