import { GpuUsageError } from './errors';

/**
 * Packs small kernel parameters for a uniform buffer. Every field is a 4-byte scalar, so a WGSL
 * struct of only u32/i32/f32 fields has exactly this layout; the total is padded to 16 bytes as
 * uniform structs require.
 */
export class Params {
  private readonly words: number[] = [];
  private readonly kinds: ('u' | 'i' | 'f')[] = [];

  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new GpuUsageError(`u32 parameter out of range: ${v}`);
    this.words.push(v);
    this.kinds.push('u');
    return this;
  }

  i32(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new GpuUsageError(`i32 parameter out of range: ${v}`);
    this.words.push(v);
    this.kinds.push('i');
    return this;
  }

  f32(v: number): this {
    this.words.push(v);
    this.kinds.push('f');
    return this;
  }

  get byteLength(): number {
    return Math.max(16, Math.ceil((this.words.length * 4) / 16) * 16);
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const buf = new ArrayBuffer(this.byteLength);
    const dv = new DataView(buf);
    this.words.forEach((w, i) => {
      const k = this.kinds[i];
      if (k === 'f') dv.setFloat32(i * 4, w, true);
      else if (k === 'i') dv.setInt32(i * 4, w, true);
      else dv.setUint32(i * 4, w, true);
    });
    return new Uint8Array(buf);
  }
}

/** Shorthand: `params().u32(T).u32(n).f32(eps)`. */
export function params(): Params {
  return new Params();
}

/** Parameters (or any view) as the bytes of a uniform buffer. */
export function asBytes(data: Params | ArrayBufferView): Uint8Array<ArrayBuffer> {
  if (data instanceof Params) return data.bytes();
  // WebGPU typings want an ArrayBuffer-backed view; a SharedArrayBuffer one works the same at run time.
  return new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
}
