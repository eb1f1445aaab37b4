/**
 * What one forward pass records, block by block: the embedding, then each block's norms, q/k/v
 * products, RoPE, KV append and attention, feed-forward and residual adds, then the output head
 * (the dataflow drawn in model.ts's file comment), through the plain kernels, the fused ones
 * (ModelLoadOptions.fuse, fuseDecode) or the one-dispatch decode block. Separate from Model
 * (model.ts), which owns the state and runs the passes (chunks, read-back, tracing, streaming),
 * and from how one weight product is recorded (weight-products.ts).
 */
import { checkContextWindow, type CoreKernels, type GpuBatch } from '../gpu';
import type { ModelArchSpec, ModelConfig } from '../model';
import { recordDecodeLayer } from './decode-layer';
import type { FusedInput } from './fused-matvec';
import type { PagedKvCache } from './kv-pages';
import type { GpuWeight } from './weights';
import type { Activations, Block, DecodeLayer, ModelParts } from './model-parts';
import type { WeightProducts } from './weight-products';

export class ForwardEncoder {
  private readonly config: ModelConfig;
  private readonly arch: ModelArchSpec;
  private readonly k: CoreKernels;
  private readonly output: GpuWeight;
  private readonly outputNorm: GPUBuffer;
  private readonly blocks: Block[];
  private readonly a: Activations;
  /** See ModelLoadOptions.fuse. */
  private readonly fuse: boolean;
  /** See ModelLoadOptions.fuseDecode (with `fuse`). */
  private readonly fuseDecode: boolean;
  /** The fused decode products' pipeline where fuseDecode and the model allow them, or null. */
  private readonly fusedMatvec: GPUComputePipeline | null;
  /** The one-dispatch decode block where the model takes it (ModelLoadOptions.decodeLayers), else null. */
  private readonly decodeLayer: DecodeLayer | null;

  constructor(
    init: ModelParts,
    private readonly kv: PagedKvCache,
    private readonly products: WeightProducts,
  ) {
    this.config = init.config;
    this.arch = init.arch;
    this.k = init.k;
    this.output = init.output;
    this.outputNorm = init.outputNorm;
    this.blocks = init.blocks;
    this.a = init.a;
    this.fuse = init.fuse;
    this.fuseDecode = init.fuseDecode;
    this.fusedMatvec = init.fusedMatvec;
    this.decodeLayer = init.decodeLayer;
  }

  /** Encodes the embedding and every block; `afterBlock` may hand back a fresh batch for the next block (tracing). */
  encodeBody(b: GpuBatch, ids: readonly number[], pos0: number, afterBlock?: (block: number) => GpuBatch | void): void {
    const c = this.config;
    const arch = this.arch;
    const a = this.a;
    const T = ids.length;
    const E = c.embeddingLength;
    const HD = c.headDim;
    const qDim = c.headCount * HD;
    const kvDim = c.headCountKv * HD;
    const F = c.feedForwardLength;
    const neox = c.ropeType === 'neox';
    const ropeDims = c.ropeDimensionCount;
    // Phi-3's attn_factor multiplies RoPE's cos and sin: q·k grows by its square.
    const scale = arch.attentionScale * arch.ropeAttnFactor * arch.ropeAttnFactor;
    // One token through the fused products (ModelLoadOptions.fuseDecode): each norm is done
    // by the product that reads it, each residual add by the product before it, SwiGLU by down.
    const fp = this.fusedMatvec !== null && T === 1;
    const norm: FusedInput = { kind: 'rmsnorm', eps: c.rmsEps };
    b = this.products.encodeEmbedding(b, ids);
    if (arch.embeddingScale !== 1) this.k.scale(b, { x: a.x, n: T * E, s: arch.embeddingScale });
    // Block 0's attention norm stands alone; every later norm (the next block's, the output
    // norm after the last) is done by the residual add before it (addResidual).
    if (!fp) this.k.rmsnorm(b, { x: a.x, w: this.blocks[0]!.attnNorm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
    if (fp && this.decodeLayer) {
      // One token, each block one dispatch: the fused products' block, in one workgroup.
      const dl = this.decodeLayer;
      for (const [i, blk] of this.blocks.entries()) {
        const cache = this.kv.block(i);
        checkContextWindow(pos0, 1, cache.maxContext);
        recordDecodeLayer(b, dl.pipeline, dl.plan, { pos0, scale, eps: c.rmsEps }, { pack: dl.packs[i]!, x: a.x, kCache: cache.k, vCache: cache.v, invFreq: blk.invFreq }, `decode_layer ${blk.qkv!.name} ${blk.o.name} ${blk.up.name} ${blk.down.name}`);
        b = afterBlock?.(i) ?? b;
      }
      return;
    }
    for (const [i, blk] of this.blocks.entries()) {
      // Where q, k and v are: three buffers, or one fused [T, q | k | v] buffer read through strides.
      let q = { buf: a.q, stride: qDim, offset: 0 };
      let k = { buf: a.k, stride: kvDim, offset: 0 };
      let v = { buf: a.v, stride: kvDim, offset: 0 };
      if (blk.qkv) {
        const w = qDim + 2 * kvDim;
        if (fp) this.products.fusedProduct(b, blk.qkv, a.x, a.q, norm, blk.attnNorm, false);
        else b = this.products.matmul(b, blk.qkv, a.xn, a.q, T);
        q = { buf: a.q, stride: w, offset: 0 };
        k = { buf: a.q, stride: w, offset: qDim };
        v = { buf: a.q, stride: w, offset: qDim + kvDim };
      } else if (fp) {
        this.products.fusedProduct(b, blk.q!, a.x, a.q, norm, blk.attnNorm, false);
        this.products.fusedProduct(b, blk.k!, a.x, a.k, norm, blk.attnNorm, false);
        this.products.fusedProduct(b, blk.v!, a.x, a.v, norm, blk.attnNorm, false);
      } else {
        b = this.products.matmul(b, blk.q!, a.xn, a.q, T);
        b = this.products.matmul(b, blk.k!, a.xn, a.k, T, 0, true);
        b = this.products.matmul(b, blk.v!, a.xn, a.v, T, 0, true);
      }
      if (blk.qkvBias) this.k.biasAdd(b, { x: a.q, bias: blk.qkvBias, T, cols: qDim + 2 * kvDim });
      if (blk.qBias) this.k.biasAdd(b, { x: a.q, bias: blk.qBias, T, cols: qDim });
      if (blk.kBias) this.k.biasAdd(b, { x: a.k, bias: blk.kBias, T, cols: kvDim });
      if (blk.vBias) this.k.biasAdd(b, { x: a.v, bias: blk.vBias, T, cols: kvDim });
      if (blk.qNorm && blk.kNorm) {
        // Per head: T · heads rows of headDim (q and k are unfused here).
        this.k.rmsnorm(b, { x: a.q, w: blk.qNorm, y: a.qn, rows: T * c.headCount, n: HD, eps: c.rmsEps });
        this.k.rmsnorm(b, { x: a.k, w: blk.kNorm, y: a.kn, rows: T * c.headCountKv, n: HD, eps: c.rmsEps });
        q = { buf: a.qn, stride: qDim, offset: 0 };
        k = { buf: a.kn, stride: kvDim, offset: 0 };
      }
      // Three buffers (k and v may share one), or one packed [T, q | k | v]: rope_kv_append reads either.
      const packed = q.buf === k.buf && q.buf === v.buf;
      const ropeAttention = this.fuseDecode && T === 1;
      if (ropeAttention) {
        // One token: RoPE, the KV append and attention in one dispatch (attention.wgsl's decode_rope).
        this.k.attentionRope(b, {
          q: q.buf,
          k: k.buf,
          v: v.buf,
          cache: this.kv.block(i),
          out: a.att,
          invFreq: blk.invFreq,
          heads: c.headCount,
          pos0,
          neox,
          ropeDims,
          qOffset: q.offset,
          kOffset: k.offset,
          vOffset: v.offset,
          scale,
          softcap: arch.attnSoftcap,
          window: blk.window,
        });
      } else if (this.fuse && (packed || (q.buf !== k.buf && q.buf !== v.buf))) {
        this.k.ropeKvAppend(b, {
          q: q.buf,
          k: k.buf,
          v: v.buf,
          cache: this.kv.block(i),
          invFreq: blk.invFreq,
          T,
          qHeads: c.headCount,
          pos0,
          neox,
          ropeDims,
          qStride: q.stride,
          qOffset: q.offset,
          kStride: k.stride,
          kOffset: k.offset,
          vStride: v.stride,
          vOffset: v.offset,
        });
      } else {
        this.k.rope(b, { x: q.buf, invFreq: blk.invFreq, T, heads: c.headCount, headDim: HD, pos0, neox, ropeDims, stride: q.stride, offset: q.offset });
        this.k.rope(b, { x: k.buf, invFreq: blk.invFreq, T, heads: c.headCountKv, headDim: HD, pos0, neox, ropeDims, stride: k.stride, offset: k.offset });
        this.k.kvAppend(b, { cache: this.kv.block(i), k: k.buf, v: v.buf, T, pos0, kStride: k.stride, kOffset: k.offset, vStride: v.stride, vOffset: v.offset });
      }
      if (!ropeAttention) this.k.attention(b, {
        q: q.buf,
        qStride: q.stride,
        qOffset: q.offset,
        cache: this.kv.block(i),
        out: a.att,
        T,
        heads: c.headCount,
        pos0,
        scale,
        softcap: arch.attnSoftcap,
        window: blk.window,
      });
      if (fp) {
        // x += o·att; x += down·swiglu(gate|up · rmsnorm(x)); the next norm is the next product's.
        this.products.fusedProduct(b, blk.o, a.att, a.x, { kind: 'plain' }, null, true);
        this.products.fusedProduct(b, blk.up, a.x, a.gate, norm, blk.ffnNorm, false);
        this.products.fusedProduct(b, blk.down, a.gate, a.x, { kind: 'swiglu', upOffset: F }, null, true);
        b = afterBlock?.(i) ?? b;
        continue;
      }
      b = this.products.matmul(b, blk.o, a.att, a.proj, T);
      this.addResidual(b, a.proj, blk.attnPostNorm, blk.ffnNorm, T);
      if (blk.gate) {
        b = this.products.matmul(b, blk.gate, a.xn, a.gate, T);
        b = this.products.matmul(b, blk.up, a.xn, a.up, T, 0, true);
        if (arch.activation === 'gelu') this.k.geglu(b, { gate: a.gate, up: a.up, out: a.act, n: T * F });
        else this.k.swiglu(b, { gate: a.gate, up: a.up, out: a.act, n: T * F });
      } else {
        // Fused [T, gate | up] (phi3, SiLU).
        b = this.products.matmul(b, blk.up, a.xn, a.gate, T);
        this.k.swigluFused(b, { x: a.gate, out: a.act, T, cols: F });
      }
      b = this.products.matmul(b, blk.down, a.act, a.proj, T);
      this.addResidual(b, a.proj, blk.ffnPostNorm, this.blocks[i + 1]?.attnNorm ?? this.outputNorm, T);
      b = afterBlock?.(i) ?? b;
    }
  }

  /**
   * x += y, or x += rmsnorm(y) · postNorm (gemma's post-norms; xn is free by then); then
   * xn = rmsnorm(x) · norm, the norm that follows (the FFN's, the next block's, the output's).
   * Without a post-norm and with fusion on, both are one add_rmsnorm dispatch.
   */
  private addResidual(b: GpuBatch, y: GPUBuffer, postNorm: GPUBuffer | null, norm: GPUBuffer, T: number): void {
    const c = this.config;
    const E = c.embeddingLength;
    const a = this.a;
    if (postNorm) {
      this.k.rmsnorm(b, { x: y, w: postNorm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
      this.k.addInPlace(b, { x: a.x, b: a.xn, n: T * E });
    } else if (this.fuse) {
      this.k.addRmsnorm(b, { x: a.x, d: y, w: norm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
      return;
    } else {
      this.k.addInPlace(b, { x: a.x, b: y, n: T * E });
    }
    this.k.rmsnorm(b, { x: a.x, w: norm, y: a.xn, rows: T, n: E, eps: c.rmsEps });
  }

  /**
   * logits[0 .. rows) = xn[row0 .. row0 + rows) · Woutᵀ, or after a fused one-token body (`fused`)
   * rmsnorm(x) · output_norm · Woutᵀ in one product. Returns the batch to go on recording in.
   */
  encodeOutput(b: GpuBatch, row0: number, rows: number, fused = false): GpuBatch {
    if (fused) this.products.fusedProduct(b, this.output, this.a.x, this.a.logits, { kind: 'rmsnorm', eps: this.config.rmsEps }, this.outputNorm, false);
    else b = this.products.matmul(b, this.output, this.a.xn, this.a.logits, rows, row0 * this.config.embeddingLength);
    if (this.arch.finalSoftcap) this.k.softcap(b, { x: this.a.logits, n: rows * this.config.vocabSize, cap: this.arch.finalSoftcap });
    return b;
  }
}
