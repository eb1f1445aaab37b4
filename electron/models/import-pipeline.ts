/**
 * The import pipeline (specs/pxi_llm.md §8): a GGUF file stored in the volume as PXI-LLM v1.
 *
 * Import reads the source once, in order, hashing it as it goes, and streams each tensor's bytes
 * into a PixelFS put (a few puts overlap, so one tensor's last tiles are encoded while the next
 * tensor is read), and into the tensor's map pyramid (TensorPyramidWriter: the map's heat
 * and statistics come from the same pass, not from reading every tile back). Memory is bounded
 * by the read chunks and PixelFS's tile windows, never by tensor size. An import is recorded in
 * `imports` before its first write and becomes a `models` row in one transaction after its last,
 * so a crash leaves either nothing visible or a complete model; a rerun of the same import finds
 * its `imports` row, keeps the tensor files that are complete (after checking them against the
 * source bytes it re-reads for the file hash) and lets PixelFS reuse the committed tiles of the
 * tensor that was being written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readGgufHeader, type GgufHeader } from '../../shared/gguf/reader';
import { ggmlType } from '../../shared/gguf/ggml-types';
import type { ModelConfig } from '../../shared/model/config';
import {
  MODEL_ID,
  PXI_LLM_FORMAT,
  PXI_LLM_VERSION,
  modelPaths,
  parseManifest,
  type MapPlacement,
  type ManifestTensor,
  type ModelManifest,
  type StoredFile,
} from '../../shared/model/manifest';
import { encodeMetadata } from '../../shared/model/metadata-json';
import { DEFAULT_HEAT_SIZE } from '../../shared/map/pyramid-core';
import { layoutFromRegions, nextModelOrigin, placeModel, type ModelLayout } from '../../shared/map/placement';
import { packageVersion } from '../app-meta';
import type { IndexedRegion } from '../map/index';
import { PyramidThread } from '../map/pyramid-thread';
import { TensorPyramidWriter } from '../map/tensor-pyramid-writer';
import type { PyramidWrite } from '../map/map-types';
import { checkFreeSpace, mapNoSpace, type PutResult } from '../pixelfs/index';
import { FileByteSource } from '../storage/file-byte-source';
import { ChunkChannel } from './channel';
import { cancelledError, ModelStoreError, throwIfAborted } from './errors';
import type { HashStream } from './hash-ring';
import { checkName, chunked, configOrNull, dataSegments, declaredArchitecture, rangeOf, readIntoSlots, slug, type Segment } from './import-source';
import { RateMeter } from './progress';
import { sameSource, type ModelRow, type SourceIdentity } from './store-db';
import { sha256, type StoreCore } from './store-core';
import type { ImportOptions, ImportProgress, ImportPyramid, ImportResult } from './types';

/** Bytes outside the tensors that an import keeps in memory before storing them (see specs). */
export const MAX_PADDING_BYTES = 64 * 1024 * 1024;

/** Finished tensor pyramids written to the map index per commit (or fewer, at this many cells). */
const PYRAMID_BATCH_TENSORS = 64;
const PYRAMID_BATCH_CELLS = 4096;

interface ImportInput {
  h: GgufHeader;
  src: FileByteSource;
  id: string;
  name: string;
  identity: SourceIdentity;
  headerBytes: Uint8Array;
  segs: Segment[];
  /** Null for a GGUF of a family the engine does not run (stored and explored all the same). */
  config: ModelConfig | null;
  opts: ImportOptions;
  t0: number;
  resumed: boolean;
  discardedStale: boolean;
}

/** The state of one import run: counters and the progress it reports. */
interface ImportRun {
  counts: { tilesWritten: number; tilesDeduped: number; tilesResumed: number; bytesReused: number };
  bytesDone: number;
  tensorsDone: number;
  current: string | null;
  addPut(r: PutResult): void;
  report(phase: ImportProgress['phase'], force?: boolean): void;
}

interface StoredData {
  headerFile: StoredFile;
  shas: string[];
  padding: Uint8Array;
  paddingZero: boolean;
  sourceSha: string;
  pyramid: ImportPyramid | null;
}

/** The manifest's record of a map layout. */
function placementOf(layout: ModelLayout, tileWidth: number, tileHeight: number): MapPlacement {
  return {
    strategy: 'columns-by-block/1',
    tileWidth,
    tileHeight,
    box: { ...layout.box },
    regions: layout.regions.map((r) => ({
      name: r.name,
      kind: r.kind as Exclude<typeof r.kind, 'corpus'>, // a model's layout holds no corpus regions
      x: r.x,
      y: r.y,
      width: r.width,
      height: r.height,
      cols: r.grid.cols,
      rows: r.grid.rows,
      tiles: r.grid.tileCount,
    })),
  };
}

/** Imports GGUF files into the store that `core` is the state of (ModelStore.import). */
export class ImportPipeline {
  constructor(private readonly core: StoreCore) {}

  /**
   * Imports a GGUF file. The header is parsed and the model configured before anything is
   * written, so a malformed, truncated or unsupported file is refused with the volume untouched.
   */
  async run(sourcePath: string, opts: ImportOptions = {}): Promise<ImportResult> {
    this.core.assertOpen();
    const t0 = performance.now();
    throwIfAborted(opts.signal, 'import');
    const file = path.resolve(sourcePath);
    let st: Stats;
    let src: FileByteSource;
    try {
      src = await FileByteSource.open(file);
      st = await fs.stat(file);
    } catch (e) {
      throw new ModelStoreError('MODEL_SOURCE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { file, field: 'source', value: (e as NodeJS.ErrnoException).code ?? 'ERROR' });
    }
    try {
      const h = await readGgufHeader(src, { name: path.basename(file) });
      const config = configOrNull(h);
      const segs = dataSegments(h);
      const paddingBytes = segs.reduce((n, s) => n + (s.kind === 'gap' ? s.length : 0), 0);
      if (paddingBytes > MAX_PADDING_BYTES) {
        throw new ModelStoreError('MODEL_PADDING_TOO_LARGE', `${h.file}: ${paddingBytes} bytes lie outside the tensors (padding and trailing data); the store keeps at most ${MAX_PADDING_BYTES}`, {
          file: h.file,
          field: 'padding',
          value: paddingBytes,
        });
      }
      const headerSize = Math.min(h.dataOffset, h.fileSize);
      const headerBytes = new Uint8Array(await src.read(0, headerSize));
      const identity: SourceIdentity = { path: realpathSync(file), size: st.size, mtimeMs: st.mtimeMs, headerSha256: sha256(headerBytes) };
      const name = opts.name ?? (path.basename(file).replace(/\.gguf$/i, '') || 'model');
      checkName(name);

      const existing = this.core.db.model(name);
      if (existing && existing.name === name) {
        if (sameSource(identity, { path: existing.sourcePath, size: existing.bytes, mtimeMs: existing.sourceMtimeMs, headerSha256: existing.headerSha256 })) {
          return { ...this.emptyResult(existing, t0), alreadyImported: true };
        }
        throw new ModelStoreError('MODEL_EXISTS', `${this.core.root}: a model named ${JSON.stringify(name)} exists (id ${existing.id}); choose another name or remove it first`, {
          file: h.file,
          field: 'name',
          value: name,
        });
      }
      if (existing) {
        throw new ModelStoreError('MODEL_EXISTS', `${this.core.root}: ${JSON.stringify(name)} is the id of model ${JSON.stringify(existing.name)}; choose another name`, { file: h.file, field: 'name', value: name });
      }

      let pending = this.core.db.importByName(name);
      let discardedStale = false;
      if (pending && this.core.active.has(pending.modelId)) {
        throw new ModelStoreError('MODEL_EXISTS', `${this.core.root}: an import named ${JSON.stringify(name)} is running`, { file: h.file, field: 'name', value: name });
      }
      if (pending && !sameSource(identity, pending)) {
        // An interrupted import of another file (or of this file before it changed): its bytes
        // are not this file's, so nothing of it may be reused.
        await this.core.discard(pending.modelId);
        this.core.db.dropImport(pending.modelId);
        pending = undefined;
        discardedStale = true;
      }
      // A new import needs about the source's size again for its tiles (less with deflate and
      // dedup): refuse up front, naming the folder, rather than fail with ENOSPC midway.
      if (!pending) await checkFreeSpace(this.core.root, st.size, `importing ${file}`, this.core.freeBytes);
      const resumed = pending !== undefined;
      let id: string;
      if (pending) {
        id = pending.modelId;
      } else {
        do id = `${slug(name)}-${randomBytes(4).toString('hex')}`;
        while (this.core.db.idInUse(id) || !MODEL_ID.test(id));
        const newId = id;
        // The import record and the model's place on the map in one commit: the pyramid's cells
        // are written to those regions as the bytes stream (§6), and a rerun finds them.
        this.core.db.transaction(() => {
          this.core.db.beginImport({ ...identity, modelId: newId, name, startedAt: Date.now() });
          this.core.map.putRegions(this.placeOnMap(newId, h).regions);
        });
      }
      this.core.active.add(id);
      try {
        return await this.runImport({ h, src, id, name, identity, headerBytes, segs, config, opts, t0, resumed, discardedStale });
      } catch (e) {
        throw mapNoSpace(e, this.core.root, `importing ${file}`, st.size);
      } finally {
        this.core.active.delete(id);
      }
    } finally {
      await src.close();
    }
  }

  private emptyResult(r: ModelRow, t0: number): ImportResult {
    return {
      model: this.core.summary(r),
      manifest: this.core.manifest(r.id),
      alreadyImported: false,
      resumed: false,
      discardedStale: false,
      bytesRead: 0,
      bytesReused: 0,
      tilesWritten: 0,
      tilesDeduped: 0,
      tilesResumed: 0,
      pyramid: null,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  private async runImport(a: ImportInput): Promise<ImportResult> {
    const { h, opts } = a;
    const vol = this.core.volume;
    // Progress is bytes read in file order (the puts trail it by at most a few tiles).
    const meter = new RateMeter();
    const interval = opts.progressIntervalMs ?? 250;
    let lastReport = -Infinity;
    const run: ImportRun = {
      counts: { tilesWritten: 0, tilesDeduped: 0, tilesResumed: 0, bytesReused: 0 },
      bytesDone: 0,
      tensorsDone: 0,
      current: null,
      addPut(r) {
        run.counts.tilesWritten += r.tilesWritten;
        run.counts.tilesDeduped += r.tilesDeduped;
        run.counts.tilesResumed += r.tilesResumed;
        run.counts.bytesReused += Math.min(r.size, r.tilesResumed * vol.tileBytes);
      },
      report(phase, force = false) {
        if (!opts.onProgress) return;
        const now = performance.now();
        if (!force && now - lastReport < interval) return;
        lastReport = now;
        const rate = meter.sample(run.bytesDone, h.fileSize);
        opts.onProgress({
          phase,
          bytesDone: run.bytesDone,
          bytesTotal: h.fileSize,
          bytesPerSecond: rate.bytesPerSecond,
          etaSeconds: phase === 'done' ? 0 : rate.etaSeconds,
          tensorsDone: run.tensorsDone,
          tensorCount: h.tensors.length,
          tensor: run.current,
          bytesReused: run.counts.bytesReused,
        });
      },
    };
    run.report('reading', true);
    const layout = this.layoutOf(a.id, h);
    // The weights regions the pyramid is written to, by tensor name (none without a pyramid).
    const regions = new Map<string, IndexedRegion>();
    if (opts.pyramid !== false) for (const r of this.core.map.listRegions(a.id)) if (r.kind === 'weights') regions.set(r.name, r);
    // The whole file's sha256 runs on the hash thread over the slots the reads land in.
    const stream = this.core.hasher().stream();
    const fh = await fs.open(a.identity.path, 'r');
    try {
      const data = await this.storeData(a, run, stream, fh, regions);
      return await this.finishImport(a, run, data, layout);
    } finally {
      stream.drop();
      await fh.close();
    }
  }

  /**
   * Step 3 of an import (specs/pxi_llm.md §8): one sequential pass over the file that hashes
   * it, streams every tensor into its PixelFS file and collects the gaps.
   */
  private async storeData(a: ImportInput, run: ImportRun, stream: HashStream, fh: fs.FileHandle, regions: ReadonlyMap<string, IndexedRegion>): Promise<StoredData> {
    const { h, src, id, opts } = a;
    const hasher = this.core.hasher();
    const vol = this.core.volume;
    const signal = opts.signal;
    const counts = run.counts;

    await hasher.updateFrom(stream, a.headerBytes);
    run.bytesDone = a.headerBytes.length;
    const headerFile = await this.putSmall(modelPaths.header(id), a.headerBytes, counts);

    const shas: string[] = new Array<string>(h.tensors.length);
    const open = new Set<Promise<void>>();
    let failure: { e: unknown } | null = null;
    const fail = (e: unknown): void => {
      failure ??= { e };
    };
    const track = (p: Promise<void>): void => {
      const q = p.catch(fail).finally(() => open.delete(q));
      open.add(q);
    };
    const padding = new Uint8Array(a.segs.reduce((n, s) => n + (s.kind === 'gap' ? s.length : 0), 0));
    let padPos = 0;
    let paddingZero = true;

    const pyramid: ImportPyramid | null = regions.size > 0 ? { built: 0, alreadyBuilt: 0, skipped: 0, cells: 0 } : null;
    // The tensors' pyramids, fed the same bytes as their puts: for a large model on a thread of
    // their own (PyramidThread; the main thread is the import's critical path), for a small one
    // here (a thread's start would cost more than it saves). `pyr` is where the pyramid of the
    // tensor being read is built (null: none to build).
    const onThread = a.h.tensors.reduce((n, t) => n + t.byteSize, 0) >= this.core.pyramidThreadMinBytes;
    let thread: PyramidThread | null = null;
    let pyr: TensorPyramidWriter | PyramidThread | null = null;
    // Finished pyramids on their way back from the thread.
    const pyrBack: Array<Promise<void>> = [];
    let seg: Segment | null = null;
    let channel: ChunkChannel | null = null;
    let check: { hash: ReturnType<typeof createHash>; stored: string } | null = null;
    // Finished pyramids wait here and go to the index a batch per commit (each commit a WAL fsync
    // on the main thread: two per tensor cost ~1 s a GB).
    let pyramidBatch: PyramidWrite[] = [];
    let pyramidBatchCells = 0;
    const writePyramidBatch = (): void => {
      const batch = pyramidBatch;
      pyramidBatch = [];
      pyramidBatchCells = 0;
      this.core.map.writePyramids(batch);
    };
    const finishSegment = (): void => {
      if (!seg || seg.kind !== 'tensor') return;
      const i = seg.index;
      const t = h.tensors[i]!;
      if (channel) {
        channel.end();
      } else if (check) {
        if (check.hash.digest('hex') === check.stored) {
          shas[i] = check.stored;
          counts.bytesReused += t.byteSize;
        } else {
          // A complete file from the earlier run holds other bytes (the source was replaced by
          // one with the same size, mtime and header): store this tensor again.
          track(
            vol.put(modelPaths.tensor(id, i), rangeOf(src, t.offset, t.byteSize, this.core.chunkBytes), { overwrite: true, size: t.byteSize, window: 4 }).then((r) => {
              shas[i] = r.sha256;
              run.addPut(r);
            }),
          );
        }
      }
      if (pyr && pyramid) {
        const add = (done: PyramidWrite): void => {
          pyramid.cells += done.summary.cells;
          pyramid.built++;
          pyramidBatch.push(done);
          pyramidBatchCells += done.cells.length;
          if (pyramidBatch.length >= PYRAMID_BATCH_TENSORS || pyramidBatchCells >= PYRAMID_BATCH_CELLS) writePyramidBatch();
        };
        if (pyr instanceof TensorPyramidWriter) add(pyr.finishDeferred());
        else pyrBack.push(pyr.finish().then(add).catch(fail));
      }
      pyr = null;
      run.tensorsDone++;
      channel = null;
      check = null;
    };

    const beginPyramid = (t: { name: string }): void => {
      const region = regions.get(t.name);
      if (!region || !pyramid) return;
      if (region.pyramid.state === 'built') {
        pyramid.alreadyBuilt++;
        return;
      }
      if (!onThread) {
        const w = TensorPyramidWriter.openDeferred(this.core.map, region, DEFAULT_HEAT_SIZE);
        if (w instanceof TensorPyramidWriter) pyr = w;
        else pyramid.skipped++;
        return;
      }
      if (TensorPyramidWriter.deferrable(this.core.map, region) !== true) {
        pyramid.skipped++;
        return;
      }
      thread ??= new PyramidThread();
      thread.begin(region, DEFAULT_HEAT_SIZE);
      pyr = thread;
    };

    const beginTensor = async (i: number): Promise<void> => {
      const t = h.tensors[i]!;
      run.current = t.name;
      while (open.size >= this.core.parallel && !failure) await Promise.race(open);
      if (failure) return;
      beginPyramid(t);
      const name = modelPaths.tensor(id, i);
      const done = vol.stat(name);
      if (done && done.size === t.byteSize) {
        check = { hash: createHash('sha256'), stored: done.sha256 };
        return;
      }
      const ch = new ChunkChannel(2);
      channel = ch;
      track(
        vol
          .put(name, ch, { overwrite: done !== undefined, size: t.byteSize, window: 4 })
          .then((r) => {
            shas[i] = r.sha256;
            run.addPut(r);
          })
          .finally(() => ch.close()),
      );
    };

    try {
      for await (const { seg: s, slot, length } of readIntoSlots(fh, h.file, hasher, chunked(a.segs, this.core.chunkBytes))) {
        // This loop owns `slot` until it hands it to a channel or releases it.
        let owned = true;
        try {
          if (failure) break;
          if (signal?.aborted) {
            fail(cancelledError('import', signal.reason));
            break;
          }
          if (s !== seg) {
            finishSegment();
            seg = s;
            if (s.kind === 'tensor') await beginTensor(s.index);
            if (failure) break;
          }
          stream.update(slot, length);
          const bytes = slot.bytes.subarray(0, length);
          run.bytesDone += length;
          // Before the bytes go to the put, which may hand the slot back as soon as it has them.
          if (s.kind === 'tensor' && pyr) {
            const to = pyr as TensorPyramidWriter | PyramidThread;
            if (to instanceof TensorPyramidWriter) to.write(bytes);
            else await to.write(bytes);
          }
          if (s.kind === 'gap') {
            padding.set(bytes, padPos);
            padPos += length;
            if (paddingZero) paddingZero = bytes.every((b) => b === 0);
          } else if (check) {
            (check as { hash: ReturnType<typeof createHash> }).hash.update(bytes);
          } else if (channel) {
            try {
              owned = false;
              await (channel as ChunkChannel).push(bytes, () => hasher.release(slot.index));
            } catch {
              owned = true;
              // The put stopped reading: its own rejection (recorded by track) says why.
              await Promise.allSettled([...open]);
              break;
            }
          }
          run.report('reading');
        } finally {
          if (owned) hasher.release(slot.index);
        }
      }
      if (!failure) finishSegment();
    } catch (e) {
      fail(e);
    }
    // The finished pyramids are kept even when the import stops: a rerun need not build them again.
    await Promise.allSettled(pyrBack);
    await (thread as PyramidThread | null)?.close();
    try {
      writePyramidBatch();
    } catch (e) {
      fail(e);
    }
    if (failure) (channel as ChunkChannel | null)?.fail((failure as { e: unknown }).e);
    run.report('finishing', true);
    await Promise.allSettled([...open]);
    if (failure) {
      const e = (failure as { e: unknown }).e;
      throw signal?.aborted ? cancelledError('import', signal.reason) : e;
    }
    throwIfAborted(signal, 'import');
    return { headerFile, shas, padding, paddingZero, sourceSha: await stream.digest(), pyramid };
  }

  /** Steps 4 and 5: check the source did not change, write padding, placement and manifest, commit. */
  private async finishImport(a: ImportInput, run: ImportRun, data: StoredData, layout: ModelLayout): Promise<ImportResult> {
    const { h, id } = a;
    const vol = this.core.volume;
    const counts = run.counts;
    const { headerFile, shas, padding, paddingZero, sourceSha } = data;
    // The file must not have changed under us: what we stored is what we hashed.
    const after = await fs.stat(a.identity.path);
    if (after.size !== a.identity.size || after.mtimeMs !== a.identity.mtimeMs) {
      throw new ModelStoreError('MODEL_SOURCE_CHANGED', `${h.file} changed while it was imported (size ${a.identity.size} -> ${after.size}); import it again`, {
        file: h.file,
        field: 'mtime',
        value: after.mtimeMs,
      });
    }

    let paddingFile: StoredFile | null = null;
    if (!paddingZero) paddingFile = await this.putSmall(modelPaths.padding(id), padding, counts);

    const tensors: ManifestTensor[] = h.tensors.map((t, i) => ({
      index: i,
      name: t.name,
      type: ggmlType(t.type).name,
      typeId: t.type,
      dims: [...t.dims],
      elements: t.elementCount,
      offset: t.offset,
      bytes: t.byteSize,
      file: modelPaths.tensor(id, i),
      sha256: shas[i]!,
    }));
    const placement = placementOf(layout, vol.settings.tileWidth, vol.settings.tileHeight);
    const manifest: ModelManifest = {
      format: PXI_LLM_FORMAT,
      formatVersion: PXI_LLM_VERSION,
      id,
      name: a.name,
      createdAt: new Date().toISOString(),
      producer: `pixel-llm ${packageVersion()}`,
      source: { fileName: path.basename(a.identity.path), size: h.fileSize, sha256: sourceSha },
      gguf: { version: h.version, alignment: h.alignment, headerEnd: h.headerEnd, dataOffset: h.dataOffset, tensorCount: h.tensors.length, kvCount: h.metadata.size },
      storage: { tileWidth: vol.settings.tileWidth, tileHeight: vol.settings.tileHeight, tileBytes: vol.tileBytes, level: vol.settings.level },
      header: headerFile,
      padding: { bytes: padding.length, allZero: paddingZero, file: paddingFile },
      tensors,
      metadata: encodeMetadata(h.metadata),
      config: a.config,
      map: placement,
    };
    const json = JSON.stringify(manifest);
    parseManifest(JSON.parse(json) as unknown, `manifest of ${id}`); // what readers will see must validate
    const manifestFile = await this.putSmall(modelPaths.manifest(id), new TextEncoder().encode(json), counts, true);

    const byType = new Map<string, number>();
    for (const t of tensors) byType.set(t.type, (byType.get(t.type) ?? 0) + t.bytes);
    const row: Omit<ModelRow, 'verifyState' | 'verifiedAt'> = {
      id,
      name: a.name,
      architecture: a.config?.architecture ?? declaredArchitecture(h),
      parameterCount: h.tensors.reduce((n, t) => n + t.elementCount, 0),
      bytes: h.fileSize,
      tensorTypes: [...byType].sort((x, y) => y[1] - x[1]).map(([t]) => t),
      sourceSha256: sourceSha,
      sourcePath: a.identity.path,
      sourceMtimeMs: a.identity.mtimeMs,
      headerSha256: a.identity.headerSha256,
      manifestSha256: manifestFile.sha256,
      createdAt: Date.now(),
    };
    // One commit: the model row and the end of the import record (its map regions are there
    // since the import began).
    this.core.db.completeImport(row, json);
    run.current = null;
    run.report('done', true);
    return {
      model: this.core.summary({ ...row, verifyState: 'unverified', verifiedAt: null }),
      manifest,
      alreadyImported: false,
      resumed: a.resumed,
      discardedStale: a.discardedStale,
      bytesRead: run.bytesDone,
      ...counts,
      pyramid: data.pyramid,
      seconds: (performance.now() - a.t0) / 1000,
    };
  }

  /** Stores bytes held in memory, keeping a complete file that already has them. */
  private async putSmall(
    name: string,
    bytes: Uint8Array,
    counts: { tilesWritten: number; tilesDeduped: number; tilesResumed: number; bytesReused: number },
    replaceAlways = false,
  ): Promise<StoredFile> {
    const sha = sha256(bytes);
    const have = this.core.volume.stat(name);
    if (have && have.sha256 === sha && have.size === bytes.length && !replaceAlways) {
      counts.bytesReused += bytes.length;
      return { name, size: bytes.length, sha256: sha };
    }
    if (have && have.sha256 === sha && have.size === bytes.length) return { name, size: bytes.length, sha256: sha };
    const r = await this.core.volume.put(name, [bytes], { overwrite: have !== undefined, size: bytes.length });
    counts.tilesWritten += r.tilesWritten;
    counts.tilesDeduped += r.tilesDeduped;
    counts.tilesResumed += r.tilesResumed;
    return { name, size: r.size, sha256: r.sha256 };
  }

  /** The model's place: right of every model (and unfinished import) already on the map. */
  private placeOnMap(id: string, h: GgufHeader): ModelLayout {
    const geo = { tileWidth: this.core.volume.settings.tileWidth, tileHeight: this.core.volume.settings.tileHeight };
    const boxes = this.core.map
      .listModels()
      .filter((m) => m.modelId !== id)
      .map((m) => m.box);
    const origin = nextModelOrigin(boxes, this.core.placement.modelGap ?? 4 * geo.tileWidth);
    const tensors = h.tensors.map((t) => ({ name: t.name, ggmlType: ggmlType(t.type).name, dims: [...t.dims], byteSize: t.byteSize }));
    return placeModel({ modelId: id, tensors }, geo, this.core.placement, origin);
  }

  /**
   * The layout of an import: the regions written when it began (a resumed import keeps its
   * place and its built pyramid tensors), or, for an import record without them, placed now.
   */
  private layoutOf(id: string, h: GgufHeader): ModelLayout {
    const box = this.core.map.modelBox(id);
    if (box) return layoutFromRegions(id, box, this.core.map.listRegions(id));
    const layout = this.placeOnMap(id, h);
    this.core.map.putRegions(layout.regions);
    return layout;
  }
}
