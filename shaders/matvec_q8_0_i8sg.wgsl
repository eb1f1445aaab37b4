// Integer decode product over a Q8_0 matrix with x quantised by quantize_q8.wgsl, through
// dot4I8Packed, one subgroup of 8 lanes per NR rows, lane j taking block j of every 8 (its 9
// words beside its neighbours'), summed with subgroupAdd. Variants 'dot4-sg', 'dot4-sg-r2',
// 'dot4-sg-r4' of shared/engine/int-matvec.ts (needs `subgroups` of 8 lanes); reference
// shared/engine/reference/int-matvec.ts.
enable subgroups;

//#include "_idot_dot4"
//#include "_q8_0_i8"
//#include "_matvec_q8_0_sg"
