// Integer decode product over a Q8_0 matrix with x quantised by quantize_q8.wgsl, the packed
// products written out in i32 (no dot4I8Packed needed), one subgroup of 8 lanes per NR rows, lane
// j taking block j of every 8 (its 9 words beside its neighbours'), summed with subgroupAdd.
// Variants 'int-sg', 'int-sg-r2', 'int-sg-r4' of shared/engine/int-matvec.ts (needs `subgroups`
// of 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;

//#include "_idot_int"
//#include "_q8_0_i8"
//#include "_matvec_q8_0_sg"
