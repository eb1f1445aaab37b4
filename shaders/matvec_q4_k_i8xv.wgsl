// Integer decode product over a Q4_K matrix with x quantised to Q8 blocks by quantize_q8.wgsl,
// every read 16 bytes wide, the packed byte products written out in i32; one invocation per row.
// Variant 'int-v16' of shared/engine/int-matvec.ts; reference shared/engine/reference/int-matvec.ts.

//#include "_idot_int"
//#include "_q4_k_i8v"
//#include "_matvec_i8_k_v16"
