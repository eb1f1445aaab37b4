/**
 * What every task handler over the model store shares, kept below the use-case layer so that
 * the training tasks (electron/train, beside the store) and the model tasks (electron/ops) both
 * use it: the store a handler is given, and the typed error for params that do not validate.
 */
import type { z } from 'zod';
import { PxiError } from '../../shared/errors';
import type { ModelStore } from './store';

export type StoreProvider = () => ModelStore | Promise<ModelStore>;

export class TaskParamsError extends PxiError {
  constructor(kind: string, e: z.ZodError, params: unknown) {
    const issue = e.issues[0]!;
    const field = issue.path.join('.') || '(params)';
    let value: unknown = params;
    for (const k of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[k];
    super('TASK_INVALID_PARAMS', `${kind}: params.${field} = ${JSON.stringify(value)?.slice(0, 80) ?? String(value)}: ${issue.message}`, { file: kind, field, value: String(value) });
  }
}
