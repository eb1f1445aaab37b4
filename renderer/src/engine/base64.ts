/**
 * Base64 to bytes for tensor reads of up to 8 MiB: the engine's own decoder (shared/model) is
 * made for manifests and is far slower; the platform's is native code.
 */
export function decodeBase64(s: string): Uint8Array {
  const native = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array }).fromBase64;
  if (native) return native(s);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
