// The WebGPU usage bits, spelled out so shared code does not depend on the GPUBufferUsage global.
export const BufferUsage = {
  MAP_READ: 0x1,
  MAP_WRITE: 0x2,
  COPY_SRC: 0x4,
  COPY_DST: 0x8,
  UNIFORM: 0x40,
  STORAGE: 0x80,
  INDIRECT: 0x100,
  QUERY_RESOLVE: 0x200,
} as const;
/** GPUMapMode.READ. */
export const MAP_MODE_READ = 0x1;
