/**
 * Where Node hosts keep the kernel tuner's measurements: `<data dir>/kernel-tuning.json` (the
 * data dir is $PXI_HOME or ~/.pixel-llm), one record per adapter and kernel version
 * (shared/engine/autotune.ts). Written whole through writeFileDurable, so a crash
 * leaves the old file or the new one. A file that does not parse is reported, never trusted.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { defaultDataDir } from '../app-meta';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { IntVariant } from '../../shared/engine/int-matvec';
import { adapterKey, emptyTuningFile, findTuning, intMatvecTable, kernelsKey, parseTuningFile, prefillTable, tuningTable, withTuning, type TuningFile, type TuningRecord } from '../../shared/engine/autotune';
import type { PrefillVariant, WeightKernelTuning, WeightType } from '../../shared/engine/quant-matmul';
import type { GpuContext } from '../../shared/gpu';

export const TUNING_FILE_NAME = 'kernel-tuning.json';

export function tuningFilePath(dataDir = defaultDataDir()): string {
  return join(dataDir, TUNING_FILE_NAME);
}

/** The file's records; an absent file is empty; a damaged one throws ENGINE_BAD_TUNING_FILE. */
export function readTuningFile(path: string): TuningFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyTuningFile();
    throw e;
  }
  return parseTuningFile(text, path);
}

/** Writes the whole file through the project's one durable write. */
async function writeTuningFile(path: string, file: TuningFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileDurable(path, new TextEncoder().encode(JSON.stringify(file, null, 2) + '\n'));
}

/** Adds (or replaces) a record, durably. A damaged file is replaced by one holding this record. */
export async function saveTuningRecord(path: string, record: TuningRecord): Promise<void> {
  let file: TuningFile;
  try {
    file = readTuningFile(path);
  } catch {
    file = emptyTuningFile();
  }
  await writeTuningFile(path, withTuning(file, record));
}

/** Removes the record of an adapter and kernel version; false when there was none. */
export async function forgetTuning(path: string, adapter: string, kernels: string): Promise<boolean> {
  const file = readTuningFile(path);
  const records = file.records.filter((r) => !(r.adapter === adapter && r.kernels === kernels));
  if (records.length === file.records.length) return false;
  await writeTuningFile(path, { ...file, records });
  return true;
}

export interface SavedTuning {
  record: TuningRecord;
  table: Partial<Record<WeightType, WeightKernelTuning>>;
  /** The integer decode kernels the tuner kept (proven faster, checked against the reference); empty: none. */
  intMatvec: Partial<Record<WeightType, IntVariant>>;
  /** The tiled prefill products the tuner kept (proven faster, checked against the matmul kernel); empty: none. */
  prefillMatmul: Partial<Record<WeightType, PrefillVariant>>;
}

/**
 * The measurement for this device's adapter and kernels, if one was saved. `warn` hears about
 * a file that could not be read (the engine then runs with the default shapes).
 */
export function savedTuningFor(ctx: GpuContext, path: string, warn: (message: string) => void = () => {}): SavedTuning | undefined {
  let file: TuningFile;
  try {
    file = readTuningFile(path);
  } catch (e) {
    warn(`ignoring the kernel tuning file: ${(e as Error).message}`);
    return undefined;
  }
  const record = findTuning(file, adapterKey(ctx.adapter), kernelsKey(ctx));
  return record ? { record, table: tuningTable(record), intMatvec: intMatvecTable(record), prefillMatmul: prefillTable(record) } : undefined;
}
