// Integer decode product over a Q8_0 matrix with x quantised by quantize_q8.wgsl, the row read
// 8 blocks at a time as vec4<u32> (_matvec_i8_v16.wgsl), through the packed products written out in i32. Variant 'int-v16'
// of shared/engine/int-matvec.ts; reference shared/engine/reference/int-matvec.ts.

//#include "_idot_int"
//#include "_q8_0_i8"
//#include "_matvec_i8_v16"
