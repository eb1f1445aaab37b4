// Integer decode product over a Q4_K matrix with x quantised to Q8 blocks by quantize_q8.wgsl,
// through dot4I8Packed, one subgroup of 8 lanes per NR rows, neighbouring lanes reading
// neighbouring vec4s, summed with subgroupAdd. Variants 'dot4-sg', 'dot4-sg-r2', 'dot4-sg-r4' of
// shared/engine/int-matvec.ts (needs `subgroups` of 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;

//#include "_idot_dot4"
//#include "_q4_k_i8v"
//#include "_q4_k_sg_idot"
//#include "_matvec_i8_k_sg"
