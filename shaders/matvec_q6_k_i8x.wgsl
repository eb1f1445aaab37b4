// Integer decode product over a Q6_K matrix (ggml layout, as matvec_q6_k.wgsl) with x quantised
// to Q8 blocks by quantize_q8.wgsl, the packed products written out in i32 (no dot4I8Packed
// needed); one invocation per row. Variant 'int' of shared/engine/int-matvec.ts; reference
// shared/engine/reference/int-matvec.ts.

//#include "_idot_int"
//#include "_q6_k_i8"
//#include "_matvec_i8_k"
//#include "_q6_k_i8_matmul"
