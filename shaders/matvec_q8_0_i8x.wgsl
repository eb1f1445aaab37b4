// Integer decode product over a Q8_0 matrix with x quantised by quantize_q8.wgsl, the packed
// products written out in i32 (no dot4I8Packed needed); one invocation per row. Variant 'int'
// of shared/engine/int-matvec.ts; reference shared/engine/reference/int-matvec.ts.

//#include "_idot_int"
//#include "_q8_0_i8"
//#include "_matvec_i8"
