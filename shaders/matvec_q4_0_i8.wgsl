// Integer decode product over a Q4_0 matrix (ggml layout, as matvec_q4_0.wgsl) with x quantised
// to Q8 blocks by quantize_q8.wgsl, through dot4I8Packed; one invocation per row. Variant 'dot4'
// of shared/engine/int-matvec.ts; reference shared/engine/reference/int-matvec.ts.

//#include "_idot_dot4"
//#include "_q4_0_i8"
//#include "_matvec_i8"
