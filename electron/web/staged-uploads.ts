/**
 * Browser mode's staged uploads: GGUF files a page uploaded (electron/web/upload.ts) wait in
 * `<volume>/uploads/<id>/<name>.gguf` (the volume's filesystem: the tiles go there next) until
 * they are imported. One folder per upload, so the file keeps its own name (the wizard names
 * the model after it) and removing an upload is removing its folder.
 *
 * The rule (specs/ui.md, "Import in browser mode"): a staged upload is deleted when
 *  - the model.import task that reads it ends: succeeded, failed or cancelled (its bytes are
 *    tiles now, or the import will not use them; a retry needs a new upload);
 *  - the page lets it go before importing it (another file chosen, the inspection refused it);
 *  - `pxi serve` starts and no queued or running import task reads it (stale from an earlier
 *    run), together with any partial upload a cut connection or a crash left.
 */
import { renameDurable } from '../pixelfs/file-ops';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from './http-error';

export const UPLOADS_DIR = 'uploads';

/** An upload refused, with the HTTP status the endpoint answers; codes are UPLOAD_ERRORS (shared/ipc/upload.ts). */
export class UploadError extends HttpError {}

const ID = /^[0-9a-f]{32}$/;
const PART_SUFFIX = '.part';
const MAX_NAME = 200;

/**
 * A file name a person chose, made safe as one path component: letters, digits and `._-+()`
 * plus spaces kept, anything else `_`, at most 200 characters, ending in `.gguf`.
 */
export function safeUploadName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  let clean = base.replace(/[^A-Za-z0-9._+()\- ]/g, '_').trim().replace(/^\.+/, '');
  if (!/\.gguf$/i.test(clean)) clean = `${clean || 'upload'}.gguf`;
  if (clean.length > MAX_NAME) clean = `${clean.slice(0, MAX_NAME - 5)}.gguf`;
  return clean === '.gguf' ? 'upload.gguf' : clean;
}

export interface StagedFile {
  id: string;
  /** The finished file, absolute. */
  path: string;
  /** Where the bytes go while they arrive; renamed to `path` when complete. */
  partPath: string;
}

export class StagedUploads {
  constructor(readonly dir: string) {}

  /** A new upload's folder and names (nothing is written yet but the folder). */
  async begin(name: string): Promise<StagedFile> {
    const id = randomBytes(16).toString('hex');
    const folder = path.join(this.dir, id);
    await fs.mkdir(folder, { recursive: true });
    const file = safeUploadName(name);
    return { id, path: path.join(folder, file), partPath: path.join(folder, `.${file}${PART_SUFFIX}`) };
  }

  /** The complete upload under its own name. */
  async commit(f: StagedFile): Promise<void> {
    // The part file was fsynced by its writer (upload.ts); the new name is made durable too,
    // as a task may be queued with it before a crash: the last step of the one durable write.
    await renameDurable(f.partPath, f.path);
  }

  /** The id of the staged upload `file` is, or null when it is not one. */
  idOf(file: string): string | null {
    const rel = path.relative(this.dir, path.resolve(file));
    const parts = rel.split(path.sep);
    return parts.length === 2 && ID.test(parts[0]!) && !rel.startsWith('..') ? parts[0]! : null;
  }

  /** Removes upload `id` (its folder, whatever state it is in); false when there was none. */
  async remove(id: string): Promise<boolean> {
    if (!ID.test(id)) return false;
    const folder = path.join(this.dir, id);
    const there = await fs.stat(folder).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (there) await fs.rm(folder, { recursive: true, force: true });
    return there;
  }

  /** Removes every upload not in `keep`, and anything else in the folder; returns how many. */
  async sweep(keep: ReadonlySet<string>): Promise<number> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    let n = 0;
    for (const name of names) {
      if (keep.has(name)) continue;
      await fs.rm(path.join(this.dir, name), { recursive: true, force: true });
      n++;
    }
    return n;
  }
}
