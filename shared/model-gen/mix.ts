/**
 * llama-quantize's type mixes (`pxi gen --mix`): the type each matrix gets when llama.cpp's
 * llama-quantize makes a file of that `llama_ftype` from an F32/F16 file, with its default
 * settings (no importance matrix, no `--pure`, no tensor-type overrides, output quantised).
 *
 * Transcribed from the llama.cpp that tests/llama-cpp runs (src/llama-quant.cpp, node-llama-cpp's
 * bundled source): `llama_tensor_get_type` → `llama_tensor_get_type_impl` (the per-tensor rules),
 * then `tensor_type_fallback` (rows that are not whole blocks of the chosen type). Only the
 * branches that can fire for these ten file types on the generator's architectures (llama, qwen2,
 * qwen3, phi3, gemma2, gemma3; no experts, never Falcon) are kept:
 *
 * - output.weight, and token_embd.weight when there is no output.weight (tied): Q8_0 if the row
 *   is not whole blocks of the mix's base type, else Q6_K.
 * - attn_v and attn_qkv (both `category_is_attn_v`; phi3's fused attn_qkv therefore follows the
 *   attn_v rules, and llama.cpp's separate attn_qkv branch is never reached), i = their running
 *   count, n = how many the model has, gqa = heads / kv_heads:
 *   Q2_K: Q4_K if gqa ≥ 4 else Q3_K; Q3_K_M: Q5_K for i < 2 else Q4_K; Q3_K_L: Q5_K;
 *   IQ4_XS: Q5_K if gqa ≥ 4; Q4_K_M, Q5_K_M: Q6_K where use_more_bits(i, n); Q4_K_S: Q5_K for
 *   i < 4. Then a "70B" model (llama with 80 blocks and kv_heads ≠ heads, or qwen2 with 80
 *   blocks: llama.cpp's LLM_TYPE_70B) turns Q3_K and Q4_K into Q5_K.
 * - ffn_down, i = its running count, n = block count: Q2_K: Q3_K; Q3_K_M: Q5_K for i < n/16 else
 *   Q4_K; Q3_K_L: Q5_K; Q4_K_M: Q6_K where use_more_bits(i, n); IQ4_XS: Q5_K for i < n/8;
 *   Q5_K_M: Q6_K where use_more_bits(i, n); Q4_K_S: Q5_K for i < n/8.
 * - attn_output: Q2_K: Q3_K; Q3_K_M: Q4_K; Q3_K_L: Q5_K.
 * - Everything else (attn_q, attn_k, ffn_gate, ffn_up, untied token_embd): the base type.
 *
 * use_more_bits(i, n) = i < n/8 || i ≥ 7n/8 || (i − n/8) mod 3 = 2 (integer division).
 * llama.cpp visits tensors sorted by block number (the others first), then by name
 * (llama_model_loader's weight_name_comparer), so the running counts are block numbers here.
 */
import { GEN_TYPE_BLOCK, type GenMix, type GenType, type ModelConfig } from './config';
import { modelTensors, type GenTensor } from './tensors';

/** llama.cpp's `enum llama_ftype` of each mix (include/llama.h): `general.file_type`. */
export const MIX_FILE_TYPE: Readonly<Record<GenMix, number>> = {
  Q2_K: 10, // MOSTLY_Q2_K
  Q3_K_S: 11, // MOSTLY_Q3_K_S
  Q3_K_M: 12, // MOSTLY_Q3_K_M
  Q3_K_L: 13, // MOSTLY_Q3_K_L
  Q4_K_S: 14, // MOSTLY_Q4_K_S
  Q4_K_M: 15, // MOSTLY_Q4_K_M
  Q5_K_S: 16, // MOSTLY_Q5_K_S
  Q5_K_M: 17, // MOSTLY_Q5_K_M
  Q6_K: 18, // MOSTLY_Q6_K
  IQ4_XS: 30, // MOSTLY_IQ4_XS
};

/** The type of every matrix no rule names (llama.cpp's llama_ftype_get_default_type). */
export const MIX_BASE_TYPE: Readonly<Record<GenMix, GenType>> = {
  Q2_K: 'Q2_K',
  Q3_K_S: 'Q3_K',
  Q3_K_M: 'Q3_K',
  Q3_K_L: 'Q3_K',
  Q4_K_S: 'Q4_K',
  Q4_K_M: 'Q4_K',
  Q5_K_S: 'Q5_K',
  Q5_K_M: 'Q5_K',
  Q6_K: 'Q6_K',
  IQ4_XS: 'IQ4_XS',
};

/**
 * llama.cpp's tensor_type_fallback: a row of `rowLength` that is not whole blocks of `type` gets
 * IQ4_XS → IQ4_NL, Q2_K/Q3_K → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0 (32-element types keep
 * their type), and F16 if even that does not fit.
 */
export function fallbackType(type: GenType, rowLength: number): GenType {
  if (rowLength % GEN_TYPE_BLOCK[type] === 0) return type;
  let to: GenType;
  switch (type) {
    case 'IQ4_XS':
      to = 'IQ4_NL';
      break;
    case 'Q2_K':
    case 'Q3_K':
      to = 'Q4_0';
      break;
    case 'Q4_K':
      to = 'Q5_0';
      break;
    case 'Q5_K':
      to = 'Q5_1';
      break;
    case 'Q6_K':
      to = 'Q8_0';
      break;
    default:
      to = type;
  }
  return rowLength % GEN_TYPE_BLOCK[to] === 0 ? to : 'F16';
}

/** llama.cpp's tensor categories (tensor_get_category), as far as these files have them. */
type Category = 'output' | 'token_embd' | 'attn_qkv' | 'attn_v' | 'attn_k' | 'attn_q' | 'attn_output' | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight') return 'token_embd';
  if (name.includes('attn_qkv.weight')) return 'attn_qkv';
  if (name.includes('attn_v.weight')) return 'attn_v';
  if (name.includes('attn_k.weight')) return 'attn_k';
  if (name.includes('attn_q.weight')) return 'attn_q';
  if (name.includes('attn_output.weight')) return 'attn_output';
  if (name.includes('ffn_up')) return 'ffn_up';
  if (name.includes('ffn_gate')) return 'ffn_gate';
  if (name.includes('ffn_down')) return 'ffn_down';
  return 'other';
}

/** ggml_n_dims: dimensions up to the last one longer than 1. */
function nDims(dims: readonly number[]): number {
  for (let i = dims.length - 1; i >= 1; i--) if (dims[i]! > 1) return i + 1;
  return 1;
}

/** tensor_allows_quantization, for these files' names: 2-D weights other than norms. */
function quantizable(t: { readonly name: string; readonly dims: readonly number[] }): boolean {
  return nDims(t.dims) >= 2 && t.name.endsWith('weight') && !t.name.includes('_norm.weight');
}

/** llama_model_loader's weight_name_comparer: by block number (others first, as −1), then name. */
function blockOf(name: string): number {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

const div = (a: number, b: number): number => Math.trunc(a / b);

function useMoreBits(i: number, n: number): boolean {
  return i < div(n, 8) || i >= div(7 * n, 8) || (i - div(n, 8)) % 3 === 2;
}

/** What the rules read from the model: llama.cpp's hparams and model type. */
export type MixModel = Pick<ModelConfig, 'arch' | 'blocks' | 'heads' | 'kvHeads'>;

/**
 * The type llama-quantize gives each tensor of `tensors` (the model's whole list, in any order)
 * for `mix`, in the order given. Tensors llama-quantize does not quantise (norms, biases,
 * rope_freqs) keep their type.
 */
export function mixTensorTypes(
  c: MixModel,
  mix: GenMix,
  tensors: readonly { readonly name: string; readonly dims: readonly number[]; readonly type: GenType }[],
): GenType[] {
  const base = MIX_BASE_TYPE[mix];
  const gqa = Math.trunc(c.heads / c.kvHeads);
  // LLM_TYPE_70B (src/models/llama.cpp, qwen2.cpp): the only model type the rules look at.
  const is70B = c.blocks === 80 && ((c.arch === 'llama' && c.heads !== c.kvHeads) || c.arch === 'qwen2');
  // init_quantize_state_counters: over every tensor of the file.
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const nAttnV = tensors.filter((t) => {
    const k = category(t.name);
    return k === 'attn_v' || k === 'attn_qkv';
  }).length;
  const nLayer = c.blocks;
  let iAttnV = 0;
  let iFfnDown = 0;

  const rule = (name: string, rowLength: number): GenType => {
    const cat = category(name);
    let t: GenType = base;
    if (cat === 'output' || (tied && cat === 'token_embd')) {
      if (rowLength % GEN_TYPE_BLOCK[base] !== 0) t = 'Q8_0';
      else if (t !== 'Q8_0') t = 'Q6_K';
    } else if (cat === 'attn_v' || cat === 'attn_qkv') {
      if (mix === 'Q2_K') t = gqa >= 4 ? 'Q4_K' : 'Q3_K';
      else if (mix === 'Q3_K_M') t = iAttnV < 2 ? 'Q5_K' : 'Q4_K';
      else if (mix === 'Q3_K_L') t = 'Q5_K';
      else if (mix === 'IQ4_XS' && gqa >= 4) t = 'Q5_K';
      else if ((mix === 'Q4_K_M' || mix === 'Q5_K_M') && useMoreBits(iAttnV, nAttnV)) t = 'Q6_K';
      else if (mix === 'Q4_K_S' && iAttnV < 4) t = 'Q5_K';
      if (is70B && (t === 'Q3_K' || t === 'Q4_K')) t = 'Q5_K';
      iAttnV++;
    } else if (cat === 'ffn_down') {
      const i = iFfnDown;
      if (mix === 'Q2_K') t = 'Q3_K';
      else if (mix === 'Q3_K_M') t = i < div(nLayer, 16) ? 'Q5_K' : 'Q4_K';
      else if (mix === 'Q3_K_L') t = 'Q5_K';
      else if (mix === 'Q4_K_M') {
        if (useMoreBits(i, nLayer)) t = 'Q6_K';
      } else if (mix === 'IQ4_XS' && i < div(nLayer, 8)) t = 'Q5_K';
      else if (mix === 'Q5_K_M' && useMoreBits(i, nLayer)) t = 'Q6_K';
      else if (mix === 'Q4_K_S' && i < div(nLayer, 8)) t = 'Q5_K';
      iFfnDown++;
    } else if (cat === 'attn_output') {
      if (mix === 'Q2_K') t = 'Q3_K';
      else if (mix === 'Q3_K_M') t = 'Q4_K';
      else if (mix === 'Q3_K_L') t = 'Q5_K';
    }
    return fallbackType(t, rowLength);
  };

  const out = tensors.map((t) => t.type);
  const order = tensors
    .map((t, i) => ({ i, name: t.name, block: blockOf(t.name) }))
    .filter(({ i }) => quantizable(tensors[i]!))
    .sort((a, b) => (a.block !== b.block ? a.block - b.block : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const { i } of order) out[i] = rule(tensors[i]!.name, tensors[i]!.dims[0]!);
  return out;
}

/** `tensors` (a model's list in the mix's base type) with each one's type under `mix`. */
export function applyMix(c: MixModel, mix: GenMix, tensors: readonly GenTensor[]): GenTensor[] {
  const types = mixTensorTypes(c, mix, tensors);
  return tensors.map((t, i) => (types[i] === t.type ? t : { ...t, type: types[i]! }));
}

/** The tensors of model `c` (modelTensors) typed as llama-quantize's `mix` types them. */
export function mixTensors(c: ModelConfig, mix: GenMix): GenTensor[] {
  return applyMix(c, mix, modelTensors(c, MIX_BASE_TYPE[mix]));
}
