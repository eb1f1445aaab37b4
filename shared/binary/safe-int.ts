/**
 * Checked arithmetic on non-negative integers that must stay exact in a JS number (< 2^53).
 * Each returns `undefined` on overflow so the caller raises its own typed error naming the
 * field. A product of two safe integers whose true value is ≥ 2^53 rounds to ≥ 2^53, so
 * checking the rounded result is enough.
 */

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;
export const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

export function isSafeCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export function mulSafe(a: number, b: number): number | undefined {
  if (!isSafeCount(a) || !isSafeCount(b)) return undefined;
  const r = a * b;
  return r <= MAX_SAFE ? r : undefined;
}

export function addSafe(a: number, b: number): number | undefined {
  if (!isSafeCount(a) || !isSafeCount(b)) return undefined;
  const r = a + b;
  return r <= MAX_SAFE ? r : undefined;
}

/** Rounds `n` up to a multiple of `alignment` (any positive integer). */
export function alignUpSafe(n: number, alignment: number): number | undefined {
  if (!isSafeCount(n) || !Number.isSafeInteger(alignment) || alignment < 1) return undefined;
  const rem = n % alignment;
  return rem === 0 ? n : addSafe(n, alignment - rem);
}

export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  while (n % 2 === 0) n /= 2; // exact for safe integers; avoids 32-bit bitwise wrap
  return n === 1;
}
