/**
 * llama_detokenize's clean_spaces, on UTF-8 bytes (every byte it looks at is ASCII, so multi-byte
 * characters pass through untouched). Three passes, in llama.cpp's order:
 * 1. a space before ? ! . , goes;
 * 2. " ' " becomes "'" (both spaces go);
 * 3. a space before 's 'm 're 've goes (before 't 'd 'll it stays).
 */
export function cleanSpaces(bytes: Uint8Array): Uint8Array {
  const SPACE = 0x20;
  const QUOTE = 0x27;
  const [QM, EXCL, DOT, COMMA] = [0x3f, 0x21, 0x2e, 0x2c];
  const ch = (c: string) => c.charCodeAt(0);

  // 1: " ?", " !", " .", " ,"
  let a: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const x = bytes[i]!;
    if (i > 0 && bytes[i - 1] === SPACE && (x === QM || x === EXCL || x === DOT || x === COMMA)) a.pop();
    a.push(x);
  }

  // 2: " ' " → "'". llama.cpp blanks the space after in place, so that space no longer counts
  // as the space before a quote that follows it (" ' ' " → "'' ").
  let b: number[] = [];
  let blanked = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (i > 0 && x === QUOTE && i + 1 < a.length && a[i - 1] === SPACE && i - 1 !== blanked && a[i + 1] === SPACE) {
      b.pop();
      b.push(x);
      blanked = ++i;
      continue;
    }
    b.push(x);
  }

  // 3: " 's", " 'm", " 're", " 've"
  const c: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    if (i > 0 && b[i - 1] === SPACE && x === QUOTE && i + 1 < b.length) {
      const x1 = b[i + 1]!;
      const x2 = i + 2 < b.length ? b[i + 2] : undefined;
      if (x1 === ch('s') || x1 === ch('m') || ((x1 === ch('r') || x1 === ch('v')) && x2 === ch('e'))) c.pop();
    }
    c.push(x);
  }
  a = [];
  b = [];
  return Uint8Array.from(c);
}
