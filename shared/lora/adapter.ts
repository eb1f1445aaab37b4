/**
 * A llama.cpp LoRA adapter GGUF, checked against its base model the way llama.cpp's
 * llama_adapter_lora_init checks it (src/llama-adapter.cpp), plus the checks llama.cpp leaves to
 * an assertion or a crash at graph time. Nothing here trusts the adapter: every key and tensor
 * is looked at before it is used, and each refusal is a LoraError naming the file, the field or
 * tensor, and the value.
 *
 * What llama.cpp requires and accepts (the version tests/llama-cpp runs):
 *  - `general.type` = "adapter", then `general.architecture` = the base model's, then
 *    `adapter.type` = "lora" (in this order). A missing string key reads as "" and fails the
 *    comparison; a key of another type aborts llama.cpp (gguf_get_val_str asserts): refused here.
 *  - `adapter.lora.alpha`: float32. Absent, llama.cpp takes 0, and alpha 0 means "no alpha": the
 *    scale is the user's scale alone (see loraScale). Another type aborts llama.cpp
 *    (gguf_get_val_f32 asserts): refused. NaN or ±Inf, which llama.cpp would carry into every
 *    output, are refused too.
 *  - `adapter.alora.invocation_tokens` makes an activated LoRA (applied only after those tokens);
 *    llama.cpp supports it, we do not apply adapters that way, so any `adapter.alora.*` key is
 *    refused.
 *  - Tensors: a name ending in `.lora_a` or `.lora_b` is half of the pair for the base tensor
 *    named by removing that suffix (llama.cpp removes every occurrence, and so do we); a name
 *    ending in `_norm.weight` is skipped (llama.cpp does not apply norm deltas; listed in
 *    `ignored`); any other name is refused. Each pair needs both halves, and its base tensor must
 *    exist in the base model: any base tensor, so `output.weight` and `token_embd.weight` are
 *    accepted (llama.cpp applies them through build_lora_mm and build_inp_embd). A pair on a 1-D
 *    base tensor (a bias) passes llama.cpp's check and is never applied; it passes here too,
 *    and the engine refuses adapters for tensors it does not multiply by.
 *  - Shapes (ggml order, dims[0] = row length; a missing dim is 1): for a base tensor [in, out],
 *    lora_a is [in, r] and lora_b [r, out]. For `token_embd.weight` ([n_embd, n_vocab]) llama.cpp
 *    takes A and B the other way round (a row of A per token): lora_a [r, n_vocab], lora_b
 *    [r, n_embd]. Both cases: rank r = lora_b's dims[0], as llama.cpp reads it.
 *
 * Checked here beyond llama.cpp's loader: the rank of the two halves agrees for token_embd too
 * (llama.cpp's mul_mat would assert later); dims past the second equal the base tensor's (1 for
 * a matrix; the expert count for a 3-D expert tensor, as ggml_mul_mat_id needs); r ≤ min(in,
 * out) (a higher rank is no low-rank update); one tensor per half of a pair (llama.cpp keeps the
 * last of two names that reduce to the same pair); and the type: llama.cpp accepts any ggml type
 * its kernels multiply (convert_lora_to_gguf.py writes f32, f16, bf16 and q8_0); we take F32 and
 * F16 only.
 */
import type { ModelHeader, TensorInfo } from '../engine/tensor-source';
import { describeType, findGgmlType, GgmlType, kvField, type GgufValue } from '../gguf';
import { LoraError, tensorField, type LoraErrorCode } from './errors';

/** One adapted matrix: the base tensor's name and its two low-rank factors. */
export interface LoraPair {
  /** The base tensor, e.g. 'blk.0.attn_q.weight'. */
  target: string;
  /** r: lora_b's dims[0], as llama.cpp reads it. */
  rank: number;
  /** [in, r] (r rows of the base's row length); [r, n_vocab] for token_embd.weight. */
  a: TensorInfo;
  /** [r, out] (out = the base's row count); [r, n_embd] for token_embd.weight. */
  b: TensorInfo;
}

export interface LoraAdapter {
  file: string;
  /** adapter.lora.alpha; 0 when the file has none (then the scale is the user's scale alone). */
  alpha: number;
  /** By target (base tensor name), in the order the adapter's tensors first name them. */
  pairs: ReadonlyMap<string, LoraPair>;
  /** `*_norm.weight` tensors of the adapter, which llama.cpp skips, and so do we. */
  ignored: readonly string[];
}

export const LORA_A_SUFFIX = '.lora_a';
export const LORA_B_SUFFIX = '.lora_b';
const NORM_SUFFIX = '_norm.weight';
const ALORA_PREFIX = 'adapter.alora.';
const LORA_TYPES: ReadonlySet<number> = new Set([GgmlType.F32, GgmlType.F16]);

/** Whether llama.cpp treats `target` as the token embeddings (A and B swapped; build_inp_embd). */
export function isEmbeddingTarget(target: string): boolean {
  return target.endsWith('token_embd.weight');
}

/**
 * llama.cpp's scale for a pair (llama_adapter_lora_weight::get_scale): user scale × alpha / rank,
 * or the user scale alone when alpha is 0 (absent). Computed in float32 as llama.cpp does.
 */
export function loraScale(adapter: Pick<LoraAdapter, 'alpha'>, pair: Pick<LoraPair, 'rank'>, userScale = 1): number {
  const s = Math.fround(userScale);
  if (adapter.alpha === 0) return s;
  return Math.fround(Math.fround(s * Math.fround(adapter.alpha)) / Math.fround(pair.rank));
}

/** ggml's ne[]: the dims padded with 1 to four. */
function ne(dims: readonly number[]): [number, number, number, number] {
  return [dims[0] ?? 1, dims[1] ?? 1, dims[2] ?? 1, dims[3] ?? 1];
}

function showDims(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/**
 * Checks `adapter` (the header of a LoRA GGUF) against `base` (the model it adapts) and returns
 * its pairs. Throws LoraError on anything llama.cpp would refuse or crash on, and on the stricter
 * checks listed at the top of this file.
 */
export function loraAdapterFromGguf(adapter: ModelHeader, base: ModelHeader): LoraAdapter {
  const file = adapter.file;
  const fail = (code: LoraErrorCode, field: string, value: unknown, what: string): never => {
    throw new LoraError(code, { file, field }, value, what);
  };
  const meta = adapter.metadata;

  const stringKey = (key: string, code: LoraErrorCode, want: string, missing: string): string => {
    const v: GgufValue | undefined = meta.get(key);
    if (v === undefined) return fail(code, kvField(key), 'missing', missing);
    if (v.type !== 'string') return fail(code, kvField(key), describeType(v), `expected the string ${JSON.stringify(want)} (llama.cpp aborts on another type)`);
    return v.value;
  };

  // 1. general.type (llama.cpp checks it first).
  const generalType = stringKey('general.type', 'LORA_NOT_ADAPTER', 'adapter', 'a LoRA adapter says general.type = "adapter" (is this a model rather than an adapter?)');
  if (generalType !== 'adapter') {
    fail('LORA_NOT_ADAPTER', kvField('general.type'), generalType, 'expected "adapter": this file is not a LoRA adapter');
  }

  // 2. general.architecture, against the base's.
  const baseArchValue = base.metadata.get('general.architecture');
  if (baseArchValue?.type !== 'string') {
    throw new LoraError('LORA_ARCH_MISMATCH', { file: base.file, field: kvField('general.architecture') }, baseArchValue ? describeType(baseArchValue) : 'missing', 'the base model names no architecture to match the adapter against');
  }
  const baseArch = baseArchValue.value;
  const arch = stringKey('general.architecture', 'LORA_ARCH_MISMATCH', baseArch, `the adapter names no architecture; its base ${base.file} is ${JSON.stringify(baseArch)}`);
  if (arch !== baseArch) {
    fail('LORA_ARCH_MISMATCH', kvField('general.architecture'), arch, `the base model ${base.file} is ${JSON.stringify(baseArch)}: a LoRA adapts only the architecture it was made for`);
  }

  // 3. adapter.type.
  const adapterType = stringKey('adapter.type', 'LORA_NOT_ADAPTER', 'lora', 'a LoRA adapter says adapter.type = "lora"');
  if (adapterType !== 'lora') {
    fail('LORA_NOT_ADAPTER', kvField('adapter.type'), adapterType, 'expected "lora": the only adapter type llama.cpp loads as a LoRA');
  }

  // 4. adapter.lora.alpha: float32, 0 when absent.
  let alpha = 0;
  const alphaValue = meta.get('adapter.lora.alpha');
  if (alphaValue !== undefined) {
    if (alphaValue.type !== 'float32') {
      fail('LORA_BAD_ALPHA', kvField('adapter.lora.alpha'), describeType(alphaValue), 'expected float32 (llama.cpp reads it as float32 and aborts on another type)');
    }
    alpha = alphaValue.value as number;
    if (!Number.isFinite(alpha)) fail('LORA_BAD_ALPHA', kvField('adapter.lora.alpha'), alpha, 'alpha must be a finite number');
  }

  // 5. aLoRA: refused.
  for (const key of meta.keys()) {
    if (key.startsWith(ALORA_PREFIX)) {
      fail('LORA_ALORA', kvField(key), describeType(meta.get(key)!), 'an activated LoRA (applied only after its invocation tokens); adapters that apply from the first token are the only kind we run');
    }
  }

  // 6. Tensors: halves of pairs by target, norms skipped, anything else refused.
  const halves = new Map<string, { a?: TensorInfo; b?: TensorInfo }>();
  const ignored: string[] = [];
  for (const t of adapter.tensors) {
    const name = t.name;
    let role: 'a' | 'b';
    let target: string;
    if (name.endsWith(LORA_A_SUFFIX)) {
      role = 'a';
      target = name.replaceAll(LORA_A_SUFFIX, '');
    } else if (name.endsWith(LORA_B_SUFFIX)) {
      role = 'b';
      target = name.replaceAll(LORA_B_SUFFIX, '');
    } else if (name.endsWith(NORM_SUFFIX)) {
      ignored.push(name);
      continue;
    } else {
      return fail('LORA_UNKNOWN_TENSOR', `${tensorField(name)}.name`, name, 'not a LoRA tensor: llama.cpp takes <base tensor>.lora_a / .lora_b pairs (and skips *_norm.weight)');
    }
    if (!LORA_TYPES.has(t.type)) {
      fail('LORA_TYPE', `${tensorField(name)}.type`, findGgmlType(t.type)?.name ?? `type ${t.type}`, 'LoRA tensors must be F32 or F16 here (llama.cpp also multiplies BF16 and quantised ones; convert them with convert_lora_to_gguf.py --outtype f16)');
    }
    const h = halves.get(target) ?? {};
    const other = h[role];
    if (other) {
      fail('LORA_DUPLICATE', tensorField(name), target, `${JSON.stringify(other.name)} is already the lora_${role} of this base tensor`);
    }
    h[role] = t;
    halves.set(target, h);
  }

  // 7. Each pair: both halves, a base tensor, shapes.
  const baseTensors = new Map(base.tensors.map((t) => [t.name, t] as const));
  const pairs = new Map<string, LoraPair>();
  for (const [target, h] of halves) {
    if (!h.a || !h.b) {
      const have = (h.a ?? h.b)!;
      const missing = h.a ? LORA_B_SUFFIX : LORA_A_SUFFIX;
      return fail('LORA_UNPAIRED', tensorField(have.name), target, `the pair for this base tensor lacks its ${missing.slice(1)} half (llama.cpp: "missing one component")`);
    }
    const { a, b } = h;
    const w = baseTensors.get(target);
    if (!w) {
      return fail('LORA_UNKNOWN_TENSOR', tensorField(a.name), target, `the base model ${base.file} has no tensor of this name (an adapter made for another model?)`);
    }
    const W = ne(w.dims);
    const A = ne(a.dims);
    const B = ne(b.dims);
    const baseDims = `the base's ${target} is ${showDims(w.dims)}`;
    const shape = (t: TensorInfo, k: number, what: string): never =>
      fail('LORA_SHAPE', `${tensorField(t.name)}.dims[${k}]`, ne(t.dims)[k], `${what}; ${baseDims}`);
    if (isEmbeddingTarget(target)) {
      // llama.cpp: W.ne[0] == B.ne[1] && W.ne[1] == A.ne[1] (A and B flipped: one row of A per token).
      if (A[1] !== W[1]) shape(a, 1, `token_embd's lora_a has one row of rank r per token: expected ${W[1]} rows`);
      if (B[1] !== W[0]) shape(b, 1, `token_embd's lora_b maps rank r to the embedding: expected ${W[0]} rows`);
      if (A[0] !== B[0]) shape(a, 0, `lora_a's rank differs from lora_b's (${B[0]})`);
    } else {
      // llama.cpp: W.ne[0] == A.ne[0] && W.ne[1] == B.ne[1], then A.ne[1] == B.ne[0].
      if (A[0] !== W[0]) shape(a, 0, `lora_a's rows must have the base's row length ${W[0]}`);
      if (B[1] !== W[1]) shape(b, 1, `lora_b must have the base's ${W[1]} rows`);
      if (A[1] !== B[0]) shape(a, 1, `lora_a's rank differs from lora_b's (${B[0]})`);
    }
    for (let k = 2; k < 4; k++) {
      if (A[k] !== W[k]) shape(a, k, `expected ${W[k]} as the base tensor has`);
      if (B[k] !== W[k]) shape(b, k, `expected ${W[k]} as the base tensor has`);
    }
    const rank = B[0];
    const maxRank = Math.min(W[0], W[1]);
    if (!(rank >= 1)) shape(b, 0, 'a rank must be at least 1');
    if (rank > maxRank) {
      shape(b, 0, `rank ${rank} exceeds min(in, out) = ${maxRank}: no low-rank update`);
    }
    pairs.set(target, { target, rank, a, b });
  }

  return { file, alpha, pairs, ignored };
}
