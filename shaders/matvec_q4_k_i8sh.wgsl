// Integer products over a Q4_K matrix, x shared through the subgroup (_matvec_i8_k_sh.wgsl),
// through dot4I8Packed. Variants dot4-sh, dot4-sh-r2, dot4-sh-r4 and prefill i8sh of
// shared/engine/int-matvec.ts (subgroups of 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;
//#include "_idot_dot4"
//#include "_q4_k_i8v"
//#include "_q4_k_sh_idot"
//#include "_matvec_i8_k_sh"
