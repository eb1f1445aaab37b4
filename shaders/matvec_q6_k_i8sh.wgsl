// Integer products over a Q6_K matrix with x shared through the subgroup (_matvec_q6_k_sh.wgsl),
// through dot4I8Packed. Variant dot4-sh and prefill i8sh of shared/engine/int-matvec.ts (subgroups
// of 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;
//#include "_idot_dot4"
//#include "_q6_k_i8"
//#include "_matvec_q6_k_sh"
