// The public surface of the GGUF format module.
export { GgufError, kvField, type GgufErrorCode, type GgufWhere } from './errors';
export {
  GgmlType,
  GGML_TYPES,
  findGgmlType,
  ggmlType,
  rowByteSize,
  tensorByteSize,
  tensorElementCount,
  type GgmlTypeId,
  type GgmlTypeInfo,
  type GgmlTypeName,
} from './ggml-types';
export { DEFAULT_GGUF_LIMITS, GGUF_DEFAULT_ALIGNMENT, type GgufLimits } from './limits';
export {
  getArray,
  getBool,
  getF32,
  getI32,
  getString,
  getU32,
  getU64,
  getValue,
  hasKey,
  type GgufMetaSource,
} from './metadata';
export { parseGgufBytes, readGgufHeader, type GgufHeader, type GgufReadOptions, type GgufTensorInfo } from './reader';
export {
  describeType,
  gv,
  type GgufArray,
  type GgufArrayItems,
  type GgufMetadata,
  type GgufValue,
  type GgufValueType,
} from './values';
export {
  layoutGguf,
  writeGgufBytes,
  type GgufLayout,
  type GgufTensorPlacement,
  type GgufTensorSpec,
  type GgufWriteOptions,
} from './writer';
