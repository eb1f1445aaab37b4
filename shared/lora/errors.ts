/**
 * Every way a LoRA adapter (llama.cpp's GGUF format) can be refused, by the reader that checks it
 * against its base model or by the generator asked for one it cannot make. Messages read
 * `<file>: <field> = <value>: <what is wrong>`, like GgufError and ModelError, and `details`
 * holds the three.
 */
import { PxiError } from '../errors';
import { showValue } from '../gguf/errors';

export type LoraErrorCode =
  | 'LORA_NOT_ADAPTER' // general.type is not "adapter" or adapter.type is not "lora"
  | 'LORA_ALORA' // an activated LoRA (adapter.alora.*: invocation tokens), which we do not apply
  | 'LORA_BAD_ALPHA' // adapter.lora.alpha of a type other than float32, or not finite
  | 'LORA_ARCH_MISMATCH' // general.architecture differs from the base model's (or is absent)
  | 'LORA_UNPAIRED' // a .lora_a without its .lora_b, or the other way round
  | 'LORA_DUPLICATE' // two tensors claim the same half of one pair
  | 'LORA_SHAPE' // dims that do not fit the base tensor, ranks that differ within a pair, a rank above min(in, out)
  | 'LORA_UNKNOWN_TENSOR' // a tensor that is no LoRA half, or a pair whose base tensor does not exist
  | 'LORA_TYPE' // a LoRA tensor neither F32 nor F16
  | 'LORA_BAD_OPTION'; // generator: an option it cannot honour (rank, alpha, seed, targets, type)

export class LoraError extends PxiError {
  declare readonly code: LoraErrorCode;
  readonly file: string;
  readonly field: string;

  constructor(code: LoraErrorCode, where: { file: string; field: string }, value: unknown, what: string) {
    const shown = showValue(value);
    super(code, `${where.file}: ${where.field} = ${shown}: ${what}`, { file: where.file, field: where.field, value: shown });
    this.file = where.file;
    this.field = where.field;
  }
}

/** The field name of one tensor in messages, `tensor["blk.0.attn_q.weight.lora_a"]`. */
export function tensorField(name: string): string {
  return `tensor[${JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name)}]`;
}
