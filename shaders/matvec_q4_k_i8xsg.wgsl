// Integer decode product over a Q4_K matrix with x quantised to Q8 blocks by quantize_q8.wgsl,
// in plain i32 with two byte products per multiply (_q4_k_sg_pairs.wgsl), one subgroup of 8 lanes
// per NR rows, neighbouring lanes reading neighbouring vec4s, summed with subgroupAdd. Variants
// 'int-sg', 'int-sg-r2', 'int-sg-r4' of shared/engine/int-matvec.ts (needs `subgroups` of 8
// lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;

//#include "_idot_int"
//#include "_q4_k_i8v"
//#include "_q4_k_sg_pairs"
//#include "_matvec_i8_k_sg"
