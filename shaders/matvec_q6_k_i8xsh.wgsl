// Integer products over a Q6_K matrix with x shared through the subgroup (_matvec_q6_k_sh.wgsl),
// the packed products written out in i32. Variant int-sh and prefill i8xsh of
// shared/engine/int-matvec.ts (subgroups of 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;
//#include "_idot_int"
//#include "_q6_k_i8"
//#include "_matvec_q6_k_sh"
