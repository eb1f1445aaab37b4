/**
 * Errors of the model layer: a GGUF that parses but does not describe a model we can configure
 * (unsupported architecture, missing or inconsistent hyperparameters, tensors whose shapes
 * disagree with them), and manifests that fail validation. Messages read
 * `<file>: <field> = <value>: <what is wrong>`, like GgufError, and `details` holds the three.
 */
import { PxiError } from '../errors';
import { showValue } from '../gguf/errors';

export type ModelErrorCode =
  | 'MODEL_UNSUPPORTED_ARCH' // general.architecture is not one we configure
  | 'MODEL_BAD_HPARAM' // a hyperparameter is missing, of a non-numeric type, or out of range
  | 'MODEL_TENSOR_MISSING' // a tensor the architecture needs is absent
  | 'MODEL_TENSOR_SHAPE' // a tensor's dims disagree with the hyperparameters
  | 'MANIFEST_INVALID' // a manifest that does not match the PXI-LLM v1 schema
  | 'MANIFEST_VERSION'; // a manifest of a newer (or unknown) format version

export class ModelError extends PxiError {
  declare readonly code: ModelErrorCode;
  readonly file: string;
  readonly field: string;

  constructor(code: ModelErrorCode, where: { file: string; field: string }, value: unknown, what: string) {
    const shown = showValue(value);
    super(code, `${where.file}: ${where.field} = ${shown}: ${what}`, { file: where.file, field: where.field, value: shown });
    this.file = where.file;
    this.field = where.field;
  }
}
