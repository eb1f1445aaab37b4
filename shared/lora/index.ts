// LoRA adapters in llama.cpp's GGUF format: the reader that checks one against its base model,
// llama.cpp's scale, and a seeded generator of random adapters for tests and demos.
export { LORA_A_SUFFIX, LORA_B_SUFFIX, isEmbeddingTarget, loraAdapterFromGguf, loraScale, type LoraAdapter, type LoraPair } from './adapter';
export { LoraError, type LoraErrorCode } from './errors';
export { DEFAULT_LORA_GAIN, defaultLoraTargets, generateLoraAdapterBytes, type LoraGenOptions } from './generate';
export { writeLoraAdapterBytes, type LoraPairValues, type LoraWriteOptions } from './write';
