// Integer decode product over a Q4_0 matrix with x quantised by quantize_q8.wgsl, the row read
// 8 blocks at a time as vec4<u32> (_matvec_i8_v16.wgsl), through dot4I8Packed. Variant 'dot4-v16'
// of shared/engine/int-matvec.ts; reference shared/engine/reference/int-matvec.ts.

//#include "_idot_dot4"
//#include "_q4_0_i8"
//#include "_matvec_i8_v16"
