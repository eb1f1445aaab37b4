import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { PxiError } from '../../shared/errors';
import { ggmlType } from '../../shared/gguf/ggml-types';
import { readGgufHeader } from '../../shared/gguf/reader';
import { FILES_ERRORS } from '../../shared/ipc/channels/files';
import type { Handlers } from '../../shared/ipc/dispatch';
import type { ModelStore } from '../models/store';
import { encodeTile, tileCapacity } from '../pixelfs';
import { withFileByteSource } from '../storage/file-byte-source';

type FileChannel = 'files:chooseGguf' | 'files:importPlan';

/** Errors of the host-file channels; codes are FILES_ERRORS. */
export class FilesError extends PxiError {}

/** Shows the host's native open dialog; resolves to the chosen path, or null when cancelled. */
export type ChooseFile = (opts: { title: string; filters: { name: string; extensions: string[] }[] }) => Promise<string | null>;

/** PNG size of one full tile at level 0, by geometry: stored deflate, so it does not depend on the bytes. */
const storedTileSize = new Map<string, number>();
function storedTileFileBytes(width: number, height: number): number {
  const key = `${width}x${height}`;
  let n = storedTileSize.get(key);
  if (n === undefined) {
    const g = { width, height };
    n = encodeTile(new Uint8Array(tileCapacity(g)), g, { level: 0 }).length;
    storedTileSize.set(key, n);
  }
  return n;
}

async function checkFile(path: string): Promise<void> {
  if (!isAbsolute(path)) throw new FilesError(FILES_ERRORS.BAD_PATH, `${path}: give an absolute path to a .gguf file on this machine`, { file: path, field: 'path', value: path });
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new FilesError(FILES_ERRORS.NOT_FOUND, `${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { file: path, field: 'path', value: path });
  });
  if (!st.isFile()) throw new FilesError(FILES_ERRORS.NOT_A_FILE, `${path} is not a regular file`, { file: path, field: 'path', value: path });
}

/**
 * The import wizard's host-side helpers. The plan reads the header only: any GGUF the reader
 * accepts is stored (a model the engine does not run included), so `importProblem` is null
 * whenever the plan is answered at all.
 */
export function fileHandlers(store: () => Promise<ModelStore>, chooseFile: ChooseFile | undefined): Pick<Handlers, FileChannel> {
  return {
    'files:chooseGguf': async () => {
      if (!chooseFile) {
        throw new FilesError(
          FILES_ERRORS.DIALOG_UNAVAILABLE,
          'no native file dialog in browser mode: type the absolute path of a .gguf file on the machine running pxi serve',
        );
      }
      return { path: await chooseFile({ title: 'Import a GGUF model', filters: [{ name: 'GGUF models', extensions: ['gguf'] }] }) };
    },
    'files:importPlan': async ({ path }) => {
      await checkFile(path);
      const h = await withFileByteSource(path, (src) => readGgufHeader(src, { name: path }));
      // Any GGUF the reader accepts can be stored and explored; whether the engine runs it is the
      // inspection's engineProblem, not a reason to refuse the import.
      const importProblem: { code: string; message: string } | null = null;
      const s = await store();
      const vol = s.volume;
      const st = s.stats();
      return {
        path,
        volume: {
          tileWidth: vol.settings.tileWidth,
          tileHeight: vol.settings.tileHeight,
          level: vol.settings.level,
          tileBytes: vol.tileBytes,
          storedTileFileBytes: storedTileFileBytes(vol.settings.tileWidth, vol.settings.tileHeight),
          measuredRatio: st.tiles > 0 && st.tilePayloadBytes > 0 ? st.storedBytes / st.tilePayloadBytes : null,
          perImport: false as const,
          tiles: st.tiles,
          storedBytes: st.storedBytes,
          logicalBytes: st.logicalBytes,
        },
        tensors: h.tensors.map((t) => ({ name: t.name, type: ggmlType(t.type).name, bytes: t.byteSize })),
        importProblem,
      };
    },
  };
}
