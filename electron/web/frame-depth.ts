/**
 * A bound on how deeply a request frame from a page may nest. Validation (zod) and the handlers
 * walk payloads recursively: a frame nested 100k deep blocked every client for seconds and then
 * answered INTERNAL "Maximum call stack size exceeded". No channel's payload comes close to
 * this depth, so anything deeper is refused as an invalid request before it is parsed or
 * validated.
 */
export const MAX_FRAME_DEPTH = 64;

/** Whether JSON `text` opens more than `max` arrays/objects inside one another; a linear scan that skips strings. */
export function jsonDepthExceeds(text: string, max = MAX_FRAME_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Whether a decoded value nests more than `max` arrays/objects deep; iterative, so any depth is safe to ask about. */
export function valueDepthExceeds(value: unknown, max = MAX_FRAME_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) continue;
    if (d + 1 > max) return true;
    for (const x of Array.isArray(v) ? v : Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, d + 1]);
  }
  return false;
}

/** The request id at the start of a text frame (`{"id":N,...}`, as the clients write it), found without parsing the rest. */
export function leadingFrameId(text: string): number | undefined {
  const m = /^\s*\{\s*"id"\s*:\s*(\d{1,15})\s*,/.exec(text.slice(0, 64));
  return m ? Number(m[1]) : undefined;
}
