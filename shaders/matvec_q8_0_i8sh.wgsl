// Integer products over a Q8_0 matrix, x shared through the subgroup (_matvec_q8_0_sh.wgsl),
// through dot4I8Packed. Variant dot4-sh and prefill i8sh of shared/engine/int-matvec.ts
// (subgroups of 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;
//#include "_idot_dot4"
const BLOCK_BYTES: u32 = 34u;
//#include "_matvec_q8_0_sh"
