/**
 * The inference engine: llama / qwen2 models run by WGSL kernels on WebGPU, the same code in
 * the renderer and in Node. See specs/engine.md.
 *
 *   const source = await openGgufTensorSource(byteSource, name);   // or a PixelFS TensorSource
 *   const model = await Model.load(ctx, source, { contextLength, onProgress, signal });
 *   const r = await generate(model, tokenizer, tokenizer.encode(prompt), { maxTokens, temperature, onToken });
 *   model.forward(ids, 'none' | 'argmax' | 'last' | 'all')       // the raw forward pass
 *   new ChatSession(model, tokenizer, chatTemplate).send(text)    // a conversation
 */
export { EngineAbortedError, EngineError, type EngineErrorCode } from './errors';
export { checkTensorRange, ggufTensorSource, openGgufTensorSource, tensorTypeName, type ModelHeader, type TensorInfo, type TensorSource } from './tensor-source';
export { paddedWeightBytes, planRowParts, matrixShape, weightTypeOf, type GpuWeight, type RowRange, type WeightPart } from './weights';
export {
  DEFAULT_CONTEXT_CAP,
  DEFAULT_MAX_BATCH,
  Model,
  llamaRopeInvFreq,
  type ForwardOutput,
  type ForwardTrace,
  type ForwardTraceEvent,
  type ForwardResult,
  type LoadProgress,
  type ModelLoadOptions,
  type ModelMemory,
} from './model';
export {
  StopStringFilter,
  generate,
  generateStream,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationModel,
  type GenerationResult,
  type GenerationTimings,
  type GenerationTokenizer,
  type StopReason,
} from './generate';
export { ChatSession, type ChatModel } from './chat';
export { Sampler, SamplerOptionError, type SamplerOptions } from './sampling';
