// The prefill compute ceiling through dot4I8Packed (see _probe_idot.wgsl; language feature
// packed_4x8_integer_dot_product: a compile error where the adapter lacks it, which is why this
// probe is not in probe_ceiling.wgsl). shared/engine/probe-ceiling.ts encodeIdotRate.

//#include "_idot_dot4"
//#include "_probe_idot"
