import { realpathSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { MIME_TYPES } from './content-policy';

/**
 * Maps a request path to a file inside the built renderer folder, or null when the path would
 * leave it (`..`, encoded separators, absolute paths, symlinks out). Used by both the Electron
 * `app://` protocol and the browser-mode HTTP host.
 */
export function resolveStaticPath(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const rel = decoded === '/' || decoded === '' ? 'index.html' : decoded.replace(/^\/+/, '');
  const rootAbs = resolve(root);
  const full = resolve(join(rootAbs, rel));
  if (full !== rootAbs && !full.startsWith(rootAbs + sep)) return null;
  try {
    const real = realpathSync(full);
    const realRoot = realpathSync(rootAbs);
    if (real !== realRoot && !real.startsWith(realRoot + sep)) return null;
    return real;
  } catch {
    return null;
  }
}

export function mimeTypeOf(path: string): string {
  return MIME_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}
