/**
 * Where the renderer keeps the kernel tuner's measurements (shared/engine/autotune.ts): one
 * tuning file as JSON in this browser's storage. Read back as hostile input; a damaged or
 * missing entry counts as nothing measured, and a full or disabled storage only means the
 * next load measures again.
 */
import { emptyTuningFile, findTuning, mergeTuning, parseTuningFile, withTuning, type TuningFile, type TuningRecord } from '../../../shared/engine/autotune';

/** The raw text storage (localStorage here; a memory stand-in in tests). */
export interface TuningStore {
  get(): string | null;
  set(text: string): void;
}

const TUNING_KEY = 'pxi.kernelTuning';

export const localTuningStore: TuningStore = {
  get: () => (typeof localStorage === 'undefined' ? null : localStorage.getItem(TUNING_KEY)),
  set: (text) => localStorage.setItem(TUNING_KEY, text),
};

export class KeptTuning {
  constructor(private readonly store: TuningStore = localTuningStore) {}

  /** Every adapter's kept measurements. */
  read(): TuningFile {
    try {
      const text = this.store.get();
      return text ? parseTuningFile(text, 'kept kernel tuning') : emptyTuningFile();
    } catch {
      return emptyTuningFile();
    }
  }

  /** Keeps `record`, replacing the one of the same adapter and kernels. */
  keep(record: TuningRecord): void {
    this.write(withTuning(this.read(), record));
  }

  /** Keeps `record` merged into the kept one of the same adapter and kernels (its types win). */
  merge(record: TuningRecord): TuningRecord {
    const merged = mergeTuning(findTuning(this.read(), record.adapter, record.kernels), record);
    this.keep(merged);
    return merged;
  }

  forget(adapter: string, kernels: string): void {
    const f = this.read();
    this.write({ ...f, records: f.records.filter((r) => !(r.adapter === adapter && r.kernels === kernels)) });
  }

  private write(f: TuningFile): void {
    try {
      this.store.set(JSON.stringify(f));
    } catch {
      // Storage full or off: the next load measures again.
    }
  }
}
