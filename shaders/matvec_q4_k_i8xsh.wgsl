// Integer products over a Q4_K matrix, x shared through the subgroup (_matvec_i8_k_sh.wgsl),
// in plain u32, two byte products per multiply (_q4_k_sh_pairs.wgsl). Variants int-sh, int-sh-r2,
// int-sh-r4 and prefill i8xsh of shared/engine/int-matvec.ts (subgroups of 8 lanes); reference
// shared/engine/reference/int-matvec.ts.
enable subgroups;
//#include "_idot_int"
//#include "_q4_k_i8v"
//#include "_q4_k_sh_pairs"
//#include "_matvec_i8_k_sh"
