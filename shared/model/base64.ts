/**
 * RFC 4648 base64 (standard alphabet, padded) for shared/, which has no Node Buffer. Used for
 * numeric metadata arrays in manifests: exact bits, a third of the size of a JSON number list.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) t[ALPHABET.charCodeAt(i)] = i;
  return t;
})();

export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chunk += ALPHABET[v >>> 18]! + ALPHABET[(v >>> 12) & 63]! + ALPHABET[(v >>> 6) & 63]! + ALPHABET[v & 63]!;
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  if (n - i === 1) {
    const v = bytes[i]! << 16;
    chunk += `${ALPHABET[v >>> 18]!}${ALPHABET[(v >>> 12) & 63]!}==`;
  } else if (n - i === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    chunk += `${ALPHABET[v >>> 18]!}${ALPHABET[(v >>> 12) & 63]!}${ALPHABET[(v >>> 6) & 63]!}=`;
  }
  parts.push(chunk);
  return parts.join('');
}

/** Decodes padded base64; `undefined` for anything that is not canonical padded base64. */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0) return undefined;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const c = [0, 1, 2, 3].map((k) => {
      const code = s.charCodeAt(i + k);
      if (last && s[i + k] === '=' && k >= 4 - pad) return 0;
      return code < 128 ? LOOKUP[code]! : -1;
    });
    if (c.some((x) => x < 0)) return undefined;
    const v = (c[0]! << 18) | (c[1]! << 12) | (c[2]! << 6) | c[3]!;
    out[o++] = v >>> 16;
    if (o < out.length) out[o++] = (v >>> 8) & 0xff;
    if (o < out.length) out[o++] = v & 0xff;
  }
  // Canonical: unused bits of the last symbol must be zero, so each byte string has one encoding.
  if (s.length > 0 && toBase64(out.subarray(Math.max(0, out.length - ((out.length % 3) || 3)))).slice(-4) !== s.slice(-4)) return undefined;
  return out;
}
