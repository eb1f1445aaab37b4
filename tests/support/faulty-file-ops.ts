/**
 * The crash tests' FileOps: stops the world at the Nth write-side call and then models what a
 * power cut loses. Lives with the tests (issue 14): production code only knows the FileOps interface.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { nodeFileOps, PixelFsCodes as C, PixelFsError, type CreateOptions, type FileOps, type WriteHandle } from '../../electron/pixelfs/index';

export type FileOpName = keyof FileOps;

export interface FaultyFileOpsOptions {
  /** 1-based index of the call that fails; every later call fails too (the process is "dead").
   * Infinity (the default) never fails: use it to count the calls of a run. */
  failAt?: number;
}

interface Pending {
  kind: 'create' | 'rename' | 'mkdir';
  dir: string; // the directory whose fsync makes it durable
  from?: string;
  to: string;
}

/**
 * A FileOps for crash tests. Call N throws PIXELFS_SIMULATED_CRASH before doing anything, and so
 * does every call after it. `powerLoss()` then undoes what a power cut could undo: file data not
 * yet fsynced is truncated to what was, renames and creations whose directory was not fsynced
 * are rolled back. (Unlinks are not resurrected: PixelFS only unlinks what it may lose.)
 */
export class FaultyFileOps implements FileOps {
  calls = 0;
  readonly log: string[] = [];
  private readonly failAt: number;
  private readonly synced = new Map<string, number>(); // path -> bytes known durable
  private readonly dirty = new Set<string>();
  private pending: Pending[] = [];
  private readonly open = new Set<WriteHandle>();

  constructor(
    opts: FaultyFileOpsOptions = {},
    private readonly inner: FileOps = nodeFileOps,
  ) {
    this.failAt = opts.failAt ?? Infinity;
  }

  get crashed(): boolean {
    return this.calls >= this.failAt;
  }

  private step(op: FileOpName, target: string): void {
    this.calls++;
    this.log.push(`${op} ${target}`);
    if (this.calls >= this.failAt) {
      throw new PixelFsError(C.SIMULATED_CRASH, `simulated crash at file-op call ${this.calls} (${op} ${target})`, { call: this.calls, op, target });
    }
  }

  async mkdir(dir: string): Promise<boolean> {
    this.step('mkdir', dir);
    const created = await this.inner.mkdir(dir);
    if (created) this.pending.push({ kind: 'mkdir', dir: path.dirname(dir), to: dir });
    return created;
  }

  async create(file: string, opts?: CreateOptions): Promise<WriteHandle> {
    this.step('create', file);
    const h = await this.inner.create(file, opts);
    this.open.add(h);
    this.synced.set(file, 0);
    this.pending.push({ kind: 'create', dir: path.dirname(file), to: file });
    return h;
  }

  async write(h: WriteHandle, data: Uint8Array, position: number): Promise<void> {
    this.step('write', h.path);
    await this.inner.write(h, data, position);
    this.dirty.add(h.path);
  }

  async fsync(h: WriteHandle): Promise<void> {
    this.step('fsync', h.path);
    await this.inner.fsync(h);
    this.synced.set(h.path, (await fs.stat(h.path)).size);
    this.dirty.delete(h.path);
  }

  async close(h: WriteHandle): Promise<void> {
    this.step('close', h.path);
    await this.inner.close(h);
    this.open.delete(h);
  }

  async rename(from: string, to: string): Promise<void> {
    this.step('rename', `${from} -> ${to}`);
    await this.inner.rename(from, to);
    const synced = this.synced.get(from);
    if (synced !== undefined) {
      this.synced.delete(from);
      this.synced.set(to, synced);
    }
    if (this.dirty.delete(from)) this.dirty.add(to);
    this.pending.push({ kind: 'rename', dir: path.dirname(to), from, to });
  }

  async unlink(file: string): Promise<void> {
    this.step('unlink', file);
    await this.inner.unlink(file);
    this.synced.delete(file);
    this.dirty.delete(file);
  }

  async fsyncDir(dir: string): Promise<void> {
    this.step('fsyncDir', dir);
    await this.inner.fsyncDir(dir);
    const d = path.resolve(dir);
    // PixelFS renames only within one directory, so that directory's fsync settles a rename.
    this.pending = this.pending.filter((p) => path.resolve(p.dir) !== d);
  }

  /** Rolls the disk back to what a power cut right now could leave. Call after the crash. */
  async powerLoss(): Promise<void> {
    // A dead process's descriptors are closed by the kernel; here by us.
    for (const h of this.open) await this.inner.close(h).catch(() => undefined);
    this.open.clear();
    for (const file of this.dirty) {
      const keep = this.synced.get(file) ?? 0;
      await fs.truncate(file, keep).catch(() => undefined);
    }
    this.dirty.clear();
    for (const p of [...this.pending].reverse()) {
      if (p.kind === 'rename' && p.from) {
        await fs.rename(p.to, p.from).catch(() => undefined);
      } else if (p.kind === 'create') {
        await fs.unlink(p.to).catch(() => undefined);
      } else if (p.kind === 'mkdir') {
        await fs.rm(p.to, { recursive: true, force: true });
      }
    }
    this.pending = [];
  }
}
