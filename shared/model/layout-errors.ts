/**
 * Errors of layout reorganisation (issue 12 §4): a read trace or a layout journal that does not
 * parse or does not fit the model. Messages read `<file>: <field> = <value>: <what is wrong>`.
 */
import { PxiError } from '../errors';
import { showValue } from '../gguf/errors';

export type LayoutErrorCode =
  | 'LAYOUT_TRACE_INVALID' // a read trace that is not JSON of the expected shape, or names unknown tensors
  | 'LAYOUT_JOURNAL_INVALID' // a layout journal file that fails validation against the model
  | 'LAYOUT_STATE'; // the operation does not apply now (apply on a packed model, undo with nothing to undo)

export class LayoutError extends PxiError {
  declare readonly code: LayoutErrorCode;

  constructor(code: LayoutErrorCode, where: { file: string; field: string }, value: unknown, what: string) {
    const shown = showValue(value);
    super(code, `${where.file}: ${where.field} = ${shown}: ${what}`, { file: where.file, field: where.field, value: shown });
  }
}
