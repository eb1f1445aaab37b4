/**
 * The model store's own database, `models.sqlite` in the volume folder, beside PixelFS's
 * catalog. Two tables: `models` (one row per complete model: summary columns for listing, the
 * manifest JSON, the verify state) and `imports` (imports that started and have not finished:
 * what a rerun needs to resume, and what gc may remove). WAL with synchronous=FULL, like the
 * catalog: a model row that committed survives power loss, and it commits only after every
 * PixelFS file it names is complete.
 */
import Database from 'better-sqlite3';
import { ModelStoreError } from './errors';

export const STORE_DB_FILE = 'models.sqlite';
const SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE models (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  architecture    TEXT NOT NULL,
  parameter_count INTEGER NOT NULL CHECK (parameter_count >= 0),
  bytes           INTEGER NOT NULL CHECK (bytes >= 0),
  tensor_types    TEXT NOT NULL,
  source_sha256   TEXT NOT NULL CHECK (length(source_sha256) = 64),
  source_path     TEXT NOT NULL,
  source_mtime_ms REAL NOT NULL,
  header_sha256   TEXT NOT NULL CHECK (length(header_sha256) = 64),
  manifest_sha256 TEXT NOT NULL CHECK (length(manifest_sha256) = 64),
  manifest        TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  verify_state    TEXT NOT NULL CHECK (verify_state IN ('unverified', 'ok', 'corrupt')),
  verified_at     INTEGER,
  verify_report   TEXT
);
CREATE TABLE imports (
  model_id        TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  source_path     TEXT NOT NULL,
  source_size     INTEGER NOT NULL,
  source_mtime_ms REAL NOT NULL,
  header_sha256   TEXT NOT NULL,
  started_at      INTEGER NOT NULL
);
`;

export type VerifyState = 'unverified' | 'ok' | 'corrupt';

export interface ModelRow {
  id: string;
  name: string;
  architecture: string;
  parameterCount: number;
  bytes: number;
  tensorTypes: string[];
  sourceSha256: string;
  sourcePath: string;
  sourceMtimeMs: number;
  headerSha256: string;
  manifestSha256: string;
  createdAt: number;
  verifyState: VerifyState;
  verifiedAt: number | null;
}

/** What identifies the file an import reads: a rerun resumes only when all of it matches. */
export interface SourceIdentity {
  path: string;
  size: number;
  mtimeMs: number;
  headerSha256: string;
}

export interface ImportRow extends SourceIdentity {
  modelId: string;
  name: string;
  startedAt: number;
}

interface RawModel {
  id: string;
  name: string;
  architecture: string;
  parameter_count: number;
  bytes: number;
  tensor_types: string;
  source_sha256: string;
  source_path: string;
  source_mtime_ms: number;
  header_sha256: string;
  manifest_sha256: string;
  created_at: number;
  verify_state: VerifyState;
  verified_at: number | null;
}

interface RawImport {
  model_id: string;
  name: string;
  source_path: string;
  source_size: number;
  source_mtime_ms: number;
  header_sha256: string;
  started_at: number;
}

const MODEL_COLUMNS =
  'id, name, architecture, parameter_count, bytes, tensor_types, source_sha256, source_path, source_mtime_ms, header_sha256, manifest_sha256, created_at, verify_state, verified_at';

function modelRow(r: RawModel): ModelRow {
  return {
    id: r.id,
    name: r.name,
    architecture: r.architecture,
    parameterCount: r.parameter_count,
    bytes: r.bytes,
    tensorTypes: JSON.parse(r.tensor_types) as string[],
    sourceSha256: r.source_sha256,
    sourcePath: r.source_path,
    sourceMtimeMs: r.source_mtime_ms,
    headerSha256: r.header_sha256,
    manifestSha256: r.manifest_sha256,
    createdAt: r.created_at,
    verifyState: r.verify_state,
    verifiedAt: r.verified_at,
  };
}

function importRow(r: RawImport): ImportRow {
  return {
    modelId: r.model_id,
    name: r.name,
    path: r.source_path,
    size: r.source_size,
    mtimeMs: r.source_mtime_ms,
    headerSha256: r.header_sha256,
    startedAt: r.started_at,
  };
}

export function sameSource(a: SourceIdentity, b: SourceIdentity): boolean {
  return a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs && a.headerSha256 === b.headerSha256;
}

export class StoreDb {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** The connection, for the map index that lives in the same database (one commit covers both). */
  get handle(): Database.Database {
    return this.db;
  }

  /** Runs `fn` in one immediate transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  static open(file: string): StoreDb {
    const db = new Database(file, { timeout: 1000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new ModelStoreError('MODEL_STORE_SCHEMA', `${file}: model store schema ${version} is newer than this Pixel-LLM understands (${SCHEMA_VERSION})`, {
          file,
          field: 'user_version',
          value: version,
        });
      }
      if (version === 0) {
        db.transaction(() => {
          db.exec(SCHEMA_V1);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        }).immediate();
      }
      return new StoreDb(db, file);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }

  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  }

  models(): ModelRow[] {
    return (this.db.prepare(`SELECT ${MODEL_COLUMNS} FROM models ORDER BY name`).all() as RawModel[]).map(modelRow);
  }

  model(idOrName: string): ModelRow | undefined {
    const r = this.db.prepare(`SELECT ${MODEL_COLUMNS} FROM models WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`).get(idOrName, idOrName, idOrName) as RawModel | undefined;
    return r && modelRow(r);
  }

  manifestJson(id: string): string | undefined {
    return this.db.prepare('SELECT manifest FROM models WHERE id = ?').pluck().get(id) as string | undefined;
  }

  verifyReport(id: string): string | null {
    return (this.db.prepare('SELECT verify_report FROM models WHERE id = ?').pluck().get(id) as string | null | undefined) ?? null;
  }

  idInUse(id: string): boolean {
    return (
      this.db.prepare('SELECT 1 FROM models WHERE id = ?').get(id) !== undefined || this.db.prepare('SELECT 1 FROM imports WHERE model_id = ?').get(id) !== undefined
    );
  }

  imports(): ImportRow[] {
    return (this.db.prepare('SELECT * FROM imports ORDER BY started_at').all() as RawImport[]).map(importRow);
  }

  importByName(name: string): ImportRow | undefined {
    const r = this.db.prepare('SELECT * FROM imports WHERE name = ?').get(name) as RawImport | undefined;
    return r && importRow(r);
  }

  beginImport(row: ImportRow): void {
    this.db
      .prepare('INSERT INTO imports (model_id, name, source_path, source_size, source_mtime_ms, header_sha256, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(row.modelId, row.name, row.path, row.size, row.mtimeMs, row.headerSha256, row.startedAt);
  }

  dropImport(modelId: string): void {
    this.db.prepare('DELETE FROM imports WHERE model_id = ?').run(modelId);
  }

  /** One transaction: the model becomes visible and its import record goes. */
  completeImport(row: Omit<ModelRow, 'verifyState' | 'verifiedAt'>, manifest: string, alsoInTransaction: () => void = () => undefined): void {
    this.db.transaction(() => {
      alsoInTransaction();
      this.db
        .prepare(
          `INSERT INTO models (id, name, architecture, parameter_count, bytes, tensor_types, source_sha256, source_path, source_mtime_ms, header_sha256, manifest_sha256, manifest, created_at, verify_state)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'unverified')`,
        )
        .run(
          row.id,
          row.name,
          row.architecture,
          row.parameterCount,
          row.bytes,
          JSON.stringify(row.tensorTypes),
          row.sourceSha256,
          row.sourcePath,
          row.sourceMtimeMs,
          row.headerSha256,
          row.manifestSha256,
          manifest,
          row.createdAt,
        );
      this.db.prepare('DELETE FROM imports WHERE model_id = ?').run(row.id);
    }).immediate();
  }

  setVerify(id: string, state: VerifyState, at: number, report: string): void {
    this.db.prepare('UPDATE models SET verify_state = ?, verified_at = ?, verify_report = ? WHERE id = ?').run(state, at, report, id);
  }

  deleteModel(id: string): boolean {
    return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
  }
}
