import { expect } from 'vitest';

/**
 * The code of the error `fn` throws, which must be an instance of `type` (a project error class
 * with a code); undefined when it throws nothing.
 */
export function codeOf<E extends Error & { code: string }>(type: abstract new (...args: never[]) => E, fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return (e as E).code;
  }
  return undefined;
}
