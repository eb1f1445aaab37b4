import { PxiError } from '../../shared/errors';

/** An error a browser-mode endpoint answers with an HTTP status of its own (an upload, a download); any other error is a 500. */
export class HttpError extends PxiError {
  constructor(
    code: string,
    readonly status: number,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
  }
}
