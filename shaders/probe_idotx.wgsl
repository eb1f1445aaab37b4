// The prefill compute ceiling with the 4 byte products written out in i32 (see _probe_idot.wgsl),
// as the integer kernels' `int` variants do. shared/engine/probe-ceiling.ts encodeIdotRate.

//#include "_idot_int"
//#include "_probe_idot"
