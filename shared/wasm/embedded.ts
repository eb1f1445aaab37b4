/**
 * The one way the project instantiates a WebAssembly module embedded as base64 (the modules
 * scripts/wasm/build-wasm.ts generates from the .wat sources): its exports, or null where it
 * cannot run here (no WebAssembly, no 128-bit SIMD, or compiling refused by a content policy).
 * Every caller keeps a JavaScript route that gives the same results for null. atob, not Buffer,
 * so that it runs in a page or a worker as well as in Node.
 */
export function instantiateEmbedded<T>(base64: string): T | null {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as T;
  } catch {
    return null;
  }
}
