/**
 * Tensor lists shaped like real models, for the map benchmark and tests (names and dims as
 * llama.cpp's GGUF export writes them; ggml dims are [columns, rows]).
 */
import type { TensorSpec } from '../../shared/map/placement';

const BYTES: Record<string, [number, number]> = { F32: [1, 4], F16: [1, 2], Q8_0: [32, 34], Q4_K: [256, 144], Q6_K: [256, 210] };

export function tensorSpec(name: string, ggmlType: string, dims: number[]): TensorSpec {
  const [bs, bpb] = BYTES[ggmlType]!;
  const n = dims.reduce((a, b) => a * b, 1);
  return { name, ggmlType, dims, byteSize: (n / bs) * bpb };
}

export interface TransformerShape {
  blocks: number;
  hidden: number;
  kvDim: number;
  ffn: number;
  vocab: number;
  /** Type of the big matrices; output uses `outputType`. */
  type: string;
  outputType: string;
  qkvBias: boolean;
}

/** Qwen2.5-7B: 28 blocks, hidden 3584, 4 KV heads of 128, FFN 18944, vocab 152064, QKV biases. */
export const QWEN25_7B: TransformerShape = { blocks: 28, hidden: 3584, kvDim: 512, ffn: 18944, vocab: 152064, type: 'Q4_K', outputType: 'Q6_K', qkvBias: true };

export function transformerTensors(s: TransformerShape): TensorSpec[] {
  const t: TensorSpec[] = [tensorSpec('token_embd.weight', s.type, [s.hidden, s.vocab])];
  for (let b = 0; b < s.blocks; b++) {
    const p = `blk.${b}.`;
    t.push(tensorSpec(`${p}attn_norm.weight`, 'F32', [s.hidden]));
    t.push(tensorSpec(`${p}attn_q.weight`, s.type, [s.hidden, s.hidden]));
    t.push(tensorSpec(`${p}attn_k.weight`, s.type, [s.hidden, s.kvDim]));
    t.push(tensorSpec(`${p}attn_v.weight`, s.type, [s.hidden, s.kvDim]));
    if (s.qkvBias) {
      t.push(tensorSpec(`${p}attn_q.bias`, 'F32', [s.hidden]));
      t.push(tensorSpec(`${p}attn_k.bias`, 'F32', [s.kvDim]));
      t.push(tensorSpec(`${p}attn_v.bias`, 'F32', [s.kvDim]));
    }
    t.push(tensorSpec(`${p}attn_output.weight`, s.type, [s.hidden, s.hidden]));
    t.push(tensorSpec(`${p}ffn_norm.weight`, 'F32', [s.hidden]));
    t.push(tensorSpec(`${p}ffn_gate.weight`, s.type, [s.hidden, s.ffn]));
    t.push(tensorSpec(`${p}ffn_up.weight`, s.type, [s.hidden, s.ffn]));
    t.push(tensorSpec(`${p}ffn_down.weight`, s.type, [s.ffn, s.hidden]));
  }
  t.push(tensorSpec('output_norm.weight', 'F32', [s.hidden]));
  t.push(tensorSpec('output.weight', s.outputType, [s.hidden, s.vocab]));
  return t;
}
