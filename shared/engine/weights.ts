/**
 * Weights on the GPU, in their GGUF block layout (the kernels dequantise as they read; no
 * dequantised copy exists anywhere). A matrix whose bytes exceed one storage binding
 * (maxStorageBufferBindingSize) is split by rows into parts, each its own buffer; the matmul
 * and embedding encoders in weight-products.ts address the parts by their first row. Uploads go tensor by
 * tensor, in bounded reads from the TensorSource, with progress.
 */
import type { GpuContext } from '../gpu';
import { BufferUsage, ModelTooLargeError } from '../gpu';
import { getQuantFormat, isQuantTypeName } from '../quant';
import { isWeightType, WEIGHT_CHUNK, WEIGHT_TYPES, type WeightType } from './quant-matmul';
import { EngineAbortedError, EngineError } from './errors';
import { tensorTypeName, type TensorInfo, type TensorSource } from './tensor-source';

/** Bytes a weight buffer takes for `bytes` of GGUF data: padded to 16, plus the spare word the 2-byte-aligned block formats read past their end (see padWeightBytes). */
export function paddedWeightBytes(bytes: number): number {
  return Math.ceil((bytes + 4) / 16) * 16;
}

export interface RowRange {
  rowStart: number;
  rows: number;
}

/**
 * Splits `rows` rows of `rowBytes` bytes into as few, as even, parts as fit `maxBindingBytes`
 * each (padding included). One part when the tensor fits. A single row that does not fit is a
 * model this device cannot run: ModelTooLargeError.
 */
export function planRowParts(name: string, rows: number, rowBytes: number, maxBindingBytes: number): RowRange[] {
  const usable = Math.floor(maxBindingBytes / 16) * 16 - 4;
  const maxRows = Math.floor(usable / rowBytes);
  if (maxRows < 1) {
    throw new ModelTooLargeError(`tensor "${name}": one row of ${rowBytes} bytes does not fit a storage binding of ${maxBindingBytes} bytes`, {
      buffer: name,
      bytes: rowBytes,
      limit: maxBindingBytes,
      limitName: 'maxStorageBufferBindingSize',
    });
  }
  const count = Math.ceil(rows / maxRows);
  const per = Math.ceil(rows / count);
  const parts: RowRange[] = [];
  for (let r = 0; r < rows; r += per) parts.push({ rowStart: r, rows: Math.min(per, rows - r) });
  return parts;
}

export interface WeightPart extends RowRange {
  buffer: GPUBuffer;
}

/** A [rows, cols] matrix (ggml dims [cols, rows]) on the GPU, in one or more row parts. */
export interface GpuWeight {
  name: string;
  type: WeightType;
  rows: number;
  cols: number;
  /** GGUF bytes of the whole tensor. */
  bytes: number;
  parts: WeightPart[];
  /**
   * Not resident: its bytes stay in host memory and go to a slot buffer just before each use
   * (weight-stream.ts); `parts` then name the first slot's buffers.
   */
  streamed?: boolean;
}

/** A matrix kept in host memory, in its GPU row parts (each padded to a multiple of 4 bytes for writeBuffer). */
export interface HostWeight {
  name: string;
  type: WeightType;
  rows: number;
  cols: number;
  bytes: number;
  parts: (RowRange & { data: Uint8Array })[];
}

export interface UploadOptions {
  /** Cap on bytes per binding (default: the device's maxStorageBufferBindingSize). */
  maxBindingBytes?: number;
  /** Bytes per read from the source (default 8 MiB, rounded to a multiple of 4). */
  readChunkBytes?: number;
  /** Called after each chunk with the bytes just uploaded. */
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

const DEFAULT_READ_CHUNK = 8 << 20;
// Dawn stages every writeBuffer in CPU memory until the queue catches up: wait for it now and
// then, so a multi-GB model never has more than this much staged at once.
const SYNC_EVERY_BYTES = 256 << 20;

function checkAbort(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new EngineAbortedError(what);
}

/** Rows and columns of a 2-D weight tensor (ggml dims [cols, rows], trailing 1s allowed). */
export function matrixShape(t: TensorInfo): { rows: number; cols: number } {
  const d = [...t.dims];
  while (d.length > 2 && d[d.length - 1] === 1) d.pop();
  if (d.length > 2) throw new EngineError('ENGINE_UNSUPPORTED_SHAPE', `tensor ${JSON.stringify(t.name)} has dims [${t.dims.join(', ')}], expected a matrix`);
  return { cols: d[0]!, rows: d[1] ?? 1 };
}

/** The weight type of a matrix, or an EngineError naming the tensor and the types we run. */
export function weightTypeOf(t: TensorInfo): WeightType {
  const name = tensorTypeName(t);
  if (!isWeightType(name)) {
    throw new EngineError('ENGINE_UNSUPPORTED_TYPE', `tensor ${JSON.stringify(t.name)} is ${name}; the engine's kernels read ${WEIGHT_TYPES.join(', ')}`, {
      tensor: t.name,
      type: name,
    });
  }
  const { cols } = matrixShape(t);
  if (cols % WEIGHT_CHUNK[name] !== 0) {
    throw new EngineError('ENGINE_UNSUPPORTED_SHAPE', `tensor ${JSON.stringify(t.name)}: rows of ${cols} ${name} values; the kernels need a multiple of ${WEIGHT_CHUNK[name]}`, {
      tensor: t.name,
      cols,
    });
  }
  return name;
}

/** Uploads matrices one by one; keeps the count of bytes staged since the queue last caught up. */
export class WeightUploader {
  private staged = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly source: TensorSource,
    private readonly opts: UploadOptions = {},
  ) {}

  /** Uploads one matrix, split into row parts where it exceeds a binding. */
  matrix(t: TensorInfo): Promise<GpuWeight> {
    return uploadMatrix(this.ctx, this.source, [t], t.name, this.opts, (n) => this.onStaged(n));
  }

  /**
   * Uploads matrices of one type and width as one matrix, their rows one after the other (a
   * stacked [q | k | v] or [gate | up] product: one dispatch instead of several). Each GGUF row
   * is whole blocks, so stacking rows is stacking bytes.
   */
  stacked(name: string, tensors: readonly TensorInfo[]): Promise<GpuWeight> {
    const type = weightTypeOf(tensors[0]!);
    const { cols } = matrixShape(tensors[0]!);
    for (const t of tensors) {
      if (weightTypeOf(t) !== type || matrixShape(t).cols !== cols) {
        throw new EngineError('ENGINE_UNSUPPORTED_SHAPE', `${name}: ${t.name} is ${tensorTypeName(t)} with rows of ${matrixShape(t).cols}; stacked matrices share ${type} rows of ${cols}`, { tensor: t.name });
      }
    }
    return uploadMatrix(this.ctx, this.source, tensors, name, this.opts, (n) => this.onStaged(n));
  }

  /** Reads one matrix (or a stack, as `stacked`) into host memory, in row parts of at most `pieceBytes` (padding included). */
  async host(name: string, tensors: readonly TensorInfo[], pieceBytes: number): Promise<HostWeight> {
    const first = tensors[0]!;
    const type = weightTypeOf(first);
    const { cols } = matrixShape(first);
    const rowBytes = first.byteSize / matrixShape(first).rows;
    const rows = tensors.reduce((s, t) => s + matrixShape(t).rows, 0);
    const maxBinding = Math.min(this.opts.maxBindingBytes ?? Infinity, this.ctx.caps.limits.maxStorageBufferBindingSize, pieceBytes);
    const chunk = Math.max(4, Math.floor((this.opts.readChunkBytes ?? DEFAULT_READ_CHUNK) / 4) * 4);
    const parts: HostWeight['parts'] = [];
    for (const range of planRowParts(name, rows, rowBytes, maxBinding)) {
      const n = range.rows * rowBytes;
      const data = new Uint8Array(Math.ceil(n / 4) * 4);
      for (let off = 0; off < n; off += chunk) {
        checkAbort(this.opts.signal, 'loading the model');
        const take = Math.min(chunk, n - off);
        data.set(await readStacked(this.source, tensors, range.rowStart * rowBytes + off, take), off);
        this.opts.onBytes?.(take);
      }
      parts.push({ ...range, data });
    }
    return { name, type, rows, cols, bytes: tensors.reduce((s, t) => s + t.byteSize, 0), parts };
  }

  private async onStaged(n: number): Promise<void> {
    this.staged += n;
    if (this.staged >= SYNC_EVERY_BYTES) {
      this.staged = 0;
      await this.ctx.sync();
    }
  }
}

/** Reads bytes [offset, offset + n) of the tensors' rows laid one after the other. */
async function readStacked(source: TensorSource, tensors: readonly TensorInfo[], offset: number, n: number): Promise<Uint8Array> {
  if (tensors.length === 1) return source.read(tensors[0]!.name, offset, n);
  const out = new Uint8Array(n);
  let start = 0; // where the current tensor begins in the stack
  let done = 0;
  for (const t of tensors) {
    const end = start + t.byteSize;
    const from = Math.max(offset + done, start);
    if (done < n && from < end) {
      const take = Math.min(end, offset + n) - from;
      out.set(await source.read(t.name, from - start, take), done);
      done += take;
    }
    start = end;
  }
  return out;
}

async function uploadMatrix(
  ctx: GpuContext,
  source: TensorSource,
  tensors: readonly TensorInfo[],
  name: string,
  opts: UploadOptions,
  staged: (n: number) => Promise<void>,
): Promise<GpuWeight> {
  const first = tensors[0]!;
  const type = weightTypeOf(first);
  const { cols } = matrixShape(first);
  const rowBytes = first.byteSize / matrixShape(first).rows;
  const rows = tensors.reduce((s, t) => s + matrixShape(t).rows, 0);
  const byteSize = tensors.reduce((s, t) => s + t.byteSize, 0);
  const maxBinding = Math.min(opts.maxBindingBytes ?? Infinity, ctx.caps.limits.maxStorageBufferBindingSize);
  const chunk = Math.max(4, Math.floor((opts.readChunkBytes ?? DEFAULT_READ_CHUNK) / 4) * 4);
  const parts: WeightPart[] = [];
  try {
    for (const range of planRowParts(name, rows, rowBytes, maxBinding)) {
      const bytes = range.rows * rowBytes;
      const label = parts.length || range.rows < rows ? `${name}[rows ${range.rowStart}..${range.rowStart + range.rows})` : name;
      const buffer = await ctx.checked(label, () =>
        ctx.createBuffer(paddedWeightBytes(bytes), BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC, label),
      );
      parts.push({ ...range, buffer });
      const base = range.rowStart * rowBytes;
      for (let off = 0; off < bytes; off += chunk) {
        checkAbort(opts.signal, 'loading the model');
        const n = Math.min(chunk, bytes - off);
        let data = await readStacked(source, tensors, base + off, n);
        // writeBuffer takes multiples of 4 bytes: only the last chunk of a part can be short of it.
        if (n % 4) {
          const padded = new Uint8Array(Math.ceil(n / 4) * 4);
          padded.set(data);
          data = padded;
        }
        ctx.write(buffer, data, off);
        opts.onBytes?.(n);
        await staged(n);
      }
    }
  } catch (e) {
    for (const p of parts) p.buffer.destroy();
    throw e;
  }
  return { name, type, rows, cols, bytes: byteSize, parts };
}

/** Reads a 1-D tensor (norm weight, bias) as f32 values; F16 and BF16 vectors are widened here (they are small). */
export async function readVector(source: TensorSource, t: TensorInfo, length: number): Promise<Float32Array> {
  if (t.elementCount !== length) {
    throw new EngineError('ENGINE_UNSUPPORTED_SHAPE', `tensor ${JSON.stringify(t.name)} has ${t.elementCount} values, expected ${length}`, { tensor: t.name });
  }
  const type = tensorTypeName(t);
  if (type !== 'F32' && type !== 'F16' && type !== 'BF16') {
    throw new EngineError('ENGINE_UNSUPPORTED_TYPE', `vector ${JSON.stringify(t.name)} is ${type}; norms and biases must be F32, F16 or BF16`, { tensor: t.name, type });
  }
  const bytes = await source.read(t.name, 0, t.byteSize);
  if (type === 'F32') {
    const out = new Float32Array(length);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  if (!isQuantTypeName(type)) throw new EngineError('ENGINE_UNSUPPORTED_TYPE', `no decoder for ${type}`);
  return getQuantFormat(type).dequantize(bytes, length);
}
