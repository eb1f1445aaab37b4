export { Tokenizer, StreamDecoder, createTokenizer } from './tokenizer';
export { TokenizerError, type TokenizerErrorCode } from './errors';
export { TokenType, type TokenTypeValue, type TokenizerSpec, type EncodeOptions, type DecodeOptions } from './types';
export { ChatTemplate, renderChat, type ChatMessage, type ChatRenderOptions } from './chat';
export { tokenizerSpecFromGguf, tokenizerFromGguf, chatTemplateFromGguf } from './from-gguf';
export { SUPPORTED_PRE_TOKENIZERS } from './pre-tokenizers';
