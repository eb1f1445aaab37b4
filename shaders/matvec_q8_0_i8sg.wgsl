// Integer decode product over a Q8_0 matrix with x quantised by quantize_q8.wgsl, one subgroup
// per row and a lane per quant word (neighbouring lanes read neighbouring words), summed with
// subgroupAdd. Variant 'dot4-sg' of shared/engine/int-matvec.ts (needs `subgroups`, subgroups of
// TPR = 8 lanes); reference shared/engine/reference/int-matvec.ts.
enable subgroups;

//#include "_idot_dot4"
//#include "_q8_0_i8"
//#include "_matvec_i8_sg"
