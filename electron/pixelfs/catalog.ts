/**
 * The PixelFS catalog: one SQLite database per volume (better-sqlite3). WAL with
 * synchronous=FULL (every commit survives power loss; better-sqlite3 would otherwise run WAL at
 * NORMAL), foreign keys on, and locking_mode=EXCLUSIVE: one process owns a volume at a time, so
 * an orphan sweep never races another process's writes. The schema is versioned by user_version.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { PixelFsCodes as C, PixelFsError } from './errors';

export const CATALOG_VERSION = 1;

export interface VolumeSettings {
  tileWidth: number;
  tileHeight: number;
  /** Deflate level of new tiles, 0 (stored) .. 9. */
  level: number;
}

export interface FileRow {
  id: number;
  name: string;
  state: 'pending' | 'complete';
  size: number | null;
  sha256: string | null;
  createdAt: number;
  completedAt: number | null;
}

export interface FileTileRow {
  idx: number;
  hash: string;
  length: number;
}

/** A tile row to commit; storedSize is set when the tile may be new to the tiles table. */
export interface TileCommit extends FileTileRow {
  storedSize: number | null;
}

export interface PendingRow extends FileRow {
  tiles: number;
}

const SCHEMA_V1 = `
CREATE TABLE volume (
  singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
  tile_width    INTEGER NOT NULL CHECK (tile_width BETWEEN 1 AND 8192),
  tile_height   INTEGER NOT NULL CHECK (tile_height BETWEEN 1 AND 8192),
  deflate_level INTEGER NOT NULL CHECK (deflate_level BETWEEN 0 AND 9),
  volume_id     TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE tiles (
  hash           TEXT PRIMARY KEY CHECK (length(hash) = 64),
  payload_length INTEGER NOT NULL CHECK (payload_length >= 1),
  stored_size    INTEGER NOT NULL CHECK (stored_size >= 1),
  created_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE files (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT NOT NULL CHECK (length(name) >= 1),
  state        TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
  size         INTEGER CHECK (size >= 0),
  sha256       TEXT CHECK (length(sha256) = 64),
  created_at   INTEGER NOT NULL,
  completed_at INTEGER,
  CHECK ((state = 'complete') = (size IS NOT NULL AND sha256 IS NOT NULL AND completed_at IS NOT NULL))
);
CREATE UNIQUE INDEX files_name_state ON files (name, state);
CREATE TABLE file_tiles (
  file_id   INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL CHECK (idx >= 0),
  tile_hash TEXT NOT NULL REFERENCES tiles (hash),
  length    INTEGER NOT NULL CHECK (length >= 1),
  PRIMARY KEY (file_id, idx)
) WITHOUT ROWID;
CREATE INDEX file_tiles_by_tile ON file_tiles (tile_hash);
`;

interface RawFile {
  id: number;
  name: string;
  state: 'pending' | 'complete';
  size: number | null;
  sha256: string | null;
  created_at: number;
  completed_at: number | null;
}

function fileRow(r: RawFile): FileRow {
  return { id: r.id, name: r.name, state: r.state, size: r.size, sha256: r.sha256, createdAt: r.created_at, completedAt: r.completed_at };
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

export class Catalog {
  readonly settings: VolumeSettings & { volumeId: string; createdAt: number };
  private readonly st: ReturnType<Catalog['prepare']>;

  private constructor(
    readonly db: Database.Database,
    readonly path: string,
  ) {
    const v = db.prepare('SELECT tile_width, tile_height, deflate_level, volume_id, created_at FROM volume WHERE singleton = 1').get() as
      | { tile_width: number; tile_height: number; deflate_level: number; volume_id: string; created_at: number }
      | undefined;
    if (!v) throw new PixelFsError(C.CATALOG_INCONSISTENT, `${path}: the volume settings row is missing`, { file: path, field: 'volume' });
    this.settings = { tileWidth: v.tile_width, tileHeight: v.tile_height, level: v.deflate_level, volumeId: v.volume_id, createdAt: v.created_at };
    this.st = this.prepare();
  }

  /** Opens (and with `create`, creates) the catalog; throws VOLUME_LOCKED if another connection owns it. */
  static open(file: string, create: VolumeSettings | null, volumeId: string): Catalog {
    const exists = fs.existsSync(file);
    if (!exists && !create) throw new PixelFsError(C.VOLUME_NOT_FOUND, `${file}: no PixelFS catalog here`, { file });
    let db: Database.Database | null = null;
    try {
      db = new Database(file, { timeout: 250 });
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new PixelFsError(C.CATALOG_INCONSISTENT, `${file}: journal_mode is ${String(mode)}, WAL could not be enabled`, { file, field: 'journal_mode', value: mode });
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      const d = db;
      // A write transaction takes the exclusive lock now, not at the first put.
      d.transaction(() => Catalog.migrate(d, file, create, volumeId)).immediate();
      return new Catalog(d, file);
    } catch (e) {
      db?.close();
      if (isBusy(e)) throw new PixelFsError(C.VOLUME_LOCKED, `${file}: the catalog is locked by another process or connection`, { file });
      throw e;
    }
  }

  private static migrate(db: Database.Database, file: string, create: VolumeSettings | null, volumeId: string): void {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > CATALOG_VERSION) {
      throw new PixelFsError(C.CATALOG_VERSION, `${file}: catalog schema version ${version} is newer than this PixelFS (${CATALOG_VERSION})`, { file, field: 'user_version', value: version });
    }
    if (version === 0) {
      const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n;
      if (tables > 0) throw new PixelFsError(C.CATALOG_VERSION, `${file}: has ${tables} tables but no PixelFS schema version`, { file, field: 'user_version', value: 0 });
      if (!create) throw new PixelFsError(C.VOLUME_NOT_FOUND, `${file}: the catalog is empty (volume creation did not finish)`, { file });
      db.exec(SCHEMA_V1);
      db.prepare('INSERT INTO volume (singleton, tile_width, tile_height, deflate_level, volume_id, created_at) VALUES (1, ?, ?, ?, ?, ?)').run(
        create.tileWidth,
        create.tileHeight,
        create.level,
        volumeId,
        Date.now(),
      );
      db.pragma(`user_version = ${CATALOG_VERSION}`);
    }
    // Future migrations: `if (version < 2) { ...; db.pragma('user_version = 2'); }`
  }

  private prepare() {
    const db = this.db;
    return {
      fileByState: db.prepare('SELECT * FROM files WHERE name = ? AND state = ?'),
      insertPending: db.prepare("INSERT INTO files (name, state, created_at) VALUES (?, 'pending', ?)"),
      listComplete: db.prepare("SELECT * FROM files WHERE state = 'complete' ORDER BY name"),
      listPending: db.prepare(
        "SELECT f.*, (SELECT count(*) FROM file_tiles t WHERE t.file_id = f.id) AS tiles FROM files f WHERE state = 'pending' ORDER BY name",
      ),
      fileTiles: db.prepare('SELECT idx, tile_hash AS hash, length FROM file_tiles WHERE file_id = ? ORDER BY idx'),
      hasTile: db.prepare('SELECT 1 FROM tiles WHERE hash = ?').pluck(),
      insertTile: db.prepare('INSERT OR IGNORE INTO tiles (hash, payload_length, stored_size, created_at) VALUES (?, ?, ?, ?)'),
      upsertFileTile: db.prepare('INSERT OR REPLACE INTO file_tiles (file_id, idx, tile_hash, length) VALUES (?, ?, ?, ?)'),
      trimFileTiles: db.prepare('DELETE FROM file_tiles WHERE file_id = ? AND idx >= ?'),
      countFileTiles: db.prepare('SELECT count(*) AS n, coalesce(sum(length), 0) AS bytes, coalesce(max(idx), -1) AS maxIdx FROM file_tiles WHERE file_id = ?'),
      deleteFile: db.prepare('DELETE FROM files WHERE id = ?'),
      completeFile: db.prepare("UPDATE files SET state = 'complete', size = ?, sha256 = ?, completed_at = ? WHERE id = ? AND state = 'pending'"),
      fileHashes: db.prepare('SELECT DISTINCT tile_hash FROM file_tiles WHERE file_id = ?').pluck(),
      unreferenced: db.prepare('SELECT hash, stored_size AS storedSize FROM tiles t WHERE NOT EXISTS (SELECT 1 FROM file_tiles f WHERE f.tile_hash = t.hash)'),
      tileIfUnreferenced: db.prepare(
        'SELECT hash, stored_size AS storedSize FROM tiles t WHERE hash = ? AND NOT EXISTS (SELECT 1 FROM file_tiles f WHERE f.tile_hash = t.hash)',
      ),
      deleteTile: db.prepare('DELETE FROM tiles WHERE hash = ?'),
      allHashes: db.prepare('SELECT hash FROM tiles').pluck(),
      stats: db.prepare(`SELECT
          (SELECT count(*) FROM files WHERE state = 'complete') AS files,
          (SELECT count(*) FROM files WHERE state = 'pending') AS pendingFiles,
          (SELECT coalesce(sum(size), 0) FROM files WHERE state = 'complete') AS logicalBytes,
          (SELECT count(*) FROM tiles) AS tiles,
          (SELECT coalesce(sum(stored_size), 0) FROM tiles) AS storedBytes,
          (SELECT coalesce(sum(payload_length), 0) FROM tiles) AS tilePayloadBytes,
          (SELECT coalesce(sum(t.payload_length), 0) FROM tiles t WHERE EXISTS (
             SELECT 1 FROM file_tiles ft JOIN files f ON f.id = ft.file_id WHERE ft.tile_hash = t.hash AND f.state = 'complete')) AS uniqueCompletePayloadBytes`),
    };
  }

  completeFile(name: string): FileRow | undefined {
    const r = this.st.fileByState.get(name, 'complete') as RawFile | undefined;
    return r && fileRow(r);
  }

  pendingFile(name: string): FileRow | undefined {
    const r = this.st.fileByState.get(name, 'pending') as RawFile | undefined;
    return r && fileRow(r);
  }

  createPending(name: string): FileRow {
    this.st.insertPending.run(name, Date.now());
    return fileRow(this.st.fileByState.get(name, 'pending') as RawFile);
  }

  listComplete(): FileRow[] {
    return (this.st.listComplete.all() as RawFile[]).map(fileRow);
  }

  listPending(): PendingRow[] {
    return (this.st.listPending.all() as (RawFile & { tiles: number })[]).map((r) => ({ ...fileRow(r), tiles: r.tiles }));
  }

  fileTiles(fileId: number): FileTileRow[] {
    return this.st.fileTiles.all(fileId) as FileTileRow[];
  }

  hasTile(hash: string): boolean {
    return this.st.hasTile.get(hash) !== undefined;
  }

  /** One transaction: the tiles (files already durable on disk) and the rows that use them. */
  commitTiles(fileId: number, rows: readonly TileCommit[]): void {
    if (rows.length === 0) return;
    const now = Date.now();
    this.db.transaction(() => {
      for (const r of rows) {
        if (r.storedSize !== null) this.st.insertTile.run(r.hash, r.length, r.storedSize, now);
        this.st.upsertFileTile.run(fileId, r.idx, r.hash, r.length);
      }
    })();
  }

  /**
   * The one transaction that makes a file visible: last rows, trim of rows past the end (a rerun
   * with a shorter source), consistency check, removal of the file it replaces, state flip.
   * Returns the tile hashes of the replaced file (candidates for freeing).
   */
  completePending(file: FileRow, rows: readonly TileCommit[], size: number, sha256: string, tileCount: number, replace: FileRow | undefined): string[] {
    const now = Date.now();
    return this.db.transaction(() => {
      for (const r of rows) {
        if (r.storedSize !== null) this.st.insertTile.run(r.hash, r.length, r.storedSize, now);
        this.st.upsertFileTile.run(file.id, r.idx, r.hash, r.length);
      }
      this.st.trimFileTiles.run(file.id, tileCount);
      const c = this.st.countFileTiles.get(file.id) as { n: number; bytes: number; maxIdx: number };
      if (c.n !== tileCount || c.bytes !== size || c.maxIdx !== tileCount - 1) {
        throw new PixelFsError(C.CATALOG_INCONSISTENT, `${this.path}: file '${file.name}' would complete with ${c.n} tile rows / ${c.bytes} bytes, expected ${tileCount} / ${size}`, {
          file: file.name,
          field: 'file_tiles',
          value: c.n,
        });
      }
      let freed: string[] = [];
      if (replace) {
        freed = this.st.fileHashes.all(replace.id) as string[];
        this.st.deleteFile.run(replace.id);
      }
      const changed = this.st.completeFile.run(size, sha256, now, file.id).changes;
      if (changed !== 1) throw new PixelFsError(C.CATALOG_INCONSISTENT, `${this.path}: pending file '${file.name}' (id ${file.id}) vanished before completion`, { file: file.name });
      return freed;
    })();
  }

  /** Deletes a file row (its tile rows cascade); returns the tile hashes it used. */
  deleteFile(file: FileRow): string[] {
    return this.db.transaction(() => {
      const hashes = this.st.fileHashes.all(file.id) as string[];
      this.st.deleteFile.run(file.id);
      return hashes;
    })();
  }

  /** Deletes tile rows no file uses (among `hashes`, or all) and returns them; files go after. */
  deleteUnreferencedTiles(hashes: readonly string[] | null): { hash: string; storedSize: number }[] {
    return this.db.transaction(() => {
      const gone = hashes
        ? hashes.flatMap((h) => (this.st.tileIfUnreferenced.all(h) as { hash: string; storedSize: number }[]))
        : (this.st.unreferenced.all() as { hash: string; storedSize: number }[]);
      for (const t of gone) this.st.deleteTile.run(t.hash);
      return gone;
    })();
  }

  allTileHashes(): Set<string> {
    return new Set(this.st.allHashes.all() as string[]);
  }

  stats(): {
    files: number;
    pendingFiles: number;
    logicalBytes: number;
    tiles: number;
    storedBytes: number;
    tilePayloadBytes: number;
    uniqueCompletePayloadBytes: number;
  } {
    return this.st.stats.get() as never;
  }

  integrityCheck(): string[] {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
