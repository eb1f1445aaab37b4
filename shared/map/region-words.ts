/**
 * What a map region is, in plain words, for people who do not read llama.cpp tensor names:
 * `blk.3.attn_q.weight` is "Block 3 · attention: query projection (weights)". The Explorer's
 * inspector shows this as its heading, with the stored name (and the region id, in a fold)
 * under it. Names it does not know keep their own name: never a guess.
 */
import type { RegionKind } from './regions';

/** The part of a block name after `blk.N.` (without `.weight`/`.bias`), in words. */
const BLOCK_PARTS: Readonly<Record<string, string>> = Object.freeze({
  attn_norm: 'attention: input norm',
  attn_norm_2: 'attention: second input norm',
  attn_qkv: 'attention: query, key and value projection (fused)',
  attn_q: 'attention: query projection',
  attn_q_norm: 'attention: query norm',
  attn_k: 'attention: key projection',
  attn_k_norm: 'attention: key norm',
  attn_v: 'attention: value projection',
  attn_output: 'attention: output projection',
  attn_out_norm: 'attention: output norm',
  attn_post_norm: 'attention: norm after it',
  post_attention_norm: 'attention: norm after it',
  ffn_norm: 'feed-forward: input norm',
  ffn_gate_inp: 'feed-forward: expert router',
  ffn_gate: 'feed-forward: gate projection',
  ffn_up: 'feed-forward: up projection',
  ffn_down: 'feed-forward: down projection',
  ffn_gate_exps: 'feed-forward: gate projections of the experts',
  ffn_up_exps: 'feed-forward: up projections of the experts',
  ffn_down_exps: 'feed-forward: down projections of the experts',
  ffn_gate_shexp: 'feed-forward: gate projection of the shared expert',
  ffn_up_shexp: 'feed-forward: up projection of the shared expert',
  ffn_down_shexp: 'feed-forward: down projection of the shared expert',
  post_ffw_norm: 'feed-forward: norm after it',
  ffn_post_norm: 'feed-forward: norm after it',
  layer_output_norm: 'block output norm',
});

/** Tensors outside the blocks, by name without `.weight`/`.bias`. */
const MODEL_PARTS: Readonly<Record<string, string>> = Object.freeze({
  token_embd: 'Token embedding: one row of numbers per vocabulary entry',
  token_embd_norm: 'Token embedding norm',
  position_embd: 'Position embedding: one row per position',
  token_types: 'Token type embedding',
  output_norm: 'Final norm, before the output head',
  output: 'Output head: a score for every vocabulary entry',
  rope_freqs: 'Rotary position frequencies',
});

/** The non-tensor regions: the bands the engine writes while it runs. */
const BAND_WORDS: Readonly<Record<Exclude<RegionKind, 'weights'>, string>> = Object.freeze({
  activations: 'Activations: the values flowing between blocks while the model runs',
  'kv-cache': 'KV cache: the keys and values of the tokens read so far',
  free: 'Free room for the KV cache to grow into',
  corpus: 'Text corpus stored as tiles',
});

export interface RegionWords {
  /** The heading: what the region is ("Block 3 · attention: query projection"). */
  title: string;
  /** What the stored numbers are ("weights", "bias", "norm scale"), or null for bands. */
  part: string | null;
}

function suffixWords(suffix: string | undefined, what: string): string | null {
  if (suffix === 'bias') return 'bias';
  if (suffix !== 'weight') return null;
  return /norm/.test(what) ? 'scale' : 'weights';
}

/** A region (its kind and name, as on the map) in plain words. */
export function regionWords(kind: RegionKind, name: string): RegionWords {
  if (kind === 'corpus') return { title: `${BAND_WORDS.corpus}: ${name}`, part: null };
  if (kind !== 'weights') return { title: BAND_WORDS[kind], part: null };
  const m = /^(.*?)(?:\.(weight|bias))?$/.exec(name)!;
  const base = m[1]!;
  const suffix = m[2];
  const block = /^blk\.(\d+)\.(.+)$/.exec(base);
  if (block) {
    const words = BLOCK_PARTS[block[2]!];
    return { title: words ? `Block ${block[1]} · ${words}` : `Block ${block[1]} · ${block[2]}`, part: suffixWords(suffix, block[2]!) };
  }
  const words = MODEL_PARTS[base];
  return { title: words ?? name, part: words ? suffixWords(suffix, base) : null };
}

/**
 * Where a tensor's bytes are stored in its model's active layout (map:region's place), in
 * words: "in its own file, PixelFS tiles 0–3" (the import layout) or "packed with 8 other
 * tensors read with it, from byte 4,224: PixelFS tiles 1–2" (a packed layout).
 */
export function storedPlaceWords(p: { layout: 'import' | 'packed'; offset: number; tiles: { first: number; last: number } | null; tensorsInFile: number }): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  const tiles = p.tiles === null ? 'no tiles' : p.tiles.first === p.tiles.last ? `PixelFS tile ${n(p.tiles.first)}` : `PixelFS tiles ${n(p.tiles.first)}–${n(p.tiles.last)}`;
  if (p.layout === 'import') return `in its own file, ${tiles}`;
  const others = p.tensorsInFile - 1;
  return `packed with ${n(others)} other tensor${others === 1 ? '' : 's'} read with it, from byte ${n(p.offset)}: ${tiles}`;
}
