/**
 * A full disk as a typed error (PIXELFS_NO_SPACE) naming the folder and the space needed, not a
 * bare ENOSPC with a stack trace: checked up front where the size is known (an import knows its
 * source's size, an upload its Content-Length), and mapped from ENOSPC where it happens anyway.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { PixelFsCodes as C, PixelFsError } from './errors';
import type { FileOps } from './file-ops';

/** Free bytes (for this user) on the filesystem holding `dir`, or its nearest existing parent. */
export async function freeBytesAt(dir: string): Promise<number> {
  let d = path.resolve(dir);
  for (;;) {
    try {
      const s = await fs.statfs(d);
      return s.bavail * s.bsize;
    } catch (e) {
      const parent = path.dirname(d);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === d) throw e;
      d = parent;
    }
  }
}

export function formatSize(n: number): string {
  if (!Number.isFinite(n)) return 'unlimited';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(2)} ${units[i]}`;
}

export function noSpaceError(dir: string, what: string, needed?: number, free?: number): PixelFsError {
  const need = needed === undefined ? '' : `: needs about ${formatSize(needed)}`;
  const has = free === undefined ? '' : `, ${formatSize(Math.max(0, free))} free`;
  return new PixelFsError(C.NO_SPACE, `${dir}: the disk is full, ${what} does not fit${need}${has}; free some space or use a folder on another disk`, {
    file: dir,
    field: 'free space',
    ...(needed === undefined ? {} : { value: needed }),
  });
}

/** Refuses up front when `needed` bytes do not fit in `dir` (freeBytes replaceable by tests). */
export async function checkFreeSpace(dir: string, needed: number, what: string, freeBytes: (dir: string) => Promise<number> = freeBytesAt): Promise<void> {
  const free = await freeBytes(dir);
  if (needed > free) throw noSpaceError(dir, what, needed, free);
}

export function isNoSpace(e: unknown): boolean {
  // SQLITE_FULL: the catalog's own write hit the full disk.
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'SQLITE_FULL';
}

/** `e` as PIXELFS_NO_SPACE naming `dir` when it is an ENOSPC; anything else unchanged. */
export function mapNoSpace(e: unknown, dir: string, what: string, needed?: number): unknown {
  return isNoSpace(e) ? noSpaceError(dir, what, needed) : e;
}

/** FileOps whose ENOSPC failures become PIXELFS_NO_SPACE naming `dir`. */
export function noSpaceMappingOps(inner: FileOps, dir: string): FileOps {
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await f(...a);
      } catch (e) {
        throw mapNoSpace(e, dir, 'the write');
      }
    };
  return {
    mkdir: wrap((d) => inner.mkdir(d)),
    create: wrap((f, opts) => inner.create(f, opts)),
    write: wrap((h, data, pos) => inner.write(h, data, pos)),
    fsync: wrap((h) => inner.fsync(h)),
    close: wrap((h) => inner.close(h)),
    rename: wrap((a, b) => inner.rename(a, b)),
    unlink: wrap((f) => inner.unlink(f)),
    fsyncDir: wrap((d) => inner.fsyncDir(d)),
  };
}
