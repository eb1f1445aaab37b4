import { PxiError } from '../errors';

export type TokenizerErrorCode =
  | 'TOKENIZER_VOCAB' // the vocabulary is malformed: empty, lengths disagree, a field of the wrong kind
  | 'TOKENIZER_BYTE_TOKEN' // a byte-fallback token whose text is not <0xHH>
  | 'TOKENIZER_MERGE' // a BPE merge that is not "left right"
  | 'TOKENIZER_UNSUPPORTED' // a tokenizer model or pre-tokenizer this project does not implement
  | 'TOKENIZER_TOKEN_ID' // an id passed to decode or to the tokenizer that is not in the vocabulary
  | 'TOKENIZER_NO_TOKEN' // encoding needs a token the vocabulary lacks (byte fallback, BOS, EOS)
  | 'TOKENIZER_GGUF' // a tokenizer.* metadata key of the wrong type or missing
  | 'CHAT_TEMPLATE_PARSE' // a chat template that does not parse as Jinja
  | 'CHAT_TEMPLATE_RENDER'; // a chat template that parsed but failed while rendering

/** Any failure building a tokenizer, encoding, decoding or rendering a chat template. */
export class TokenizerError extends PxiError {
  constructor(code: TokenizerErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
