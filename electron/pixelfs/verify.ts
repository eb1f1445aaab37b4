/**
 * A volume's verify: for each file, the shape of its tile rows (0..n-1, full tiles except the
 * last, summing to the size), every tile re-read and re-hashed, and the file's sha256 over them.
 * Problems are collected, not thrown.
 */
import type { Catalog, FileRow } from './catalog';
import { PixelFsCodes as C } from './errors';
import type { TileReader } from './tile-reader';
import type { VerifyReport } from './volume-types';

export async function verifyFiles(catalog: Catalog, reader: TileReader, files: readonly FileRow[], tileBytes: number): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, filesChecked: 0, tilesChecked: 0, bytesChecked: 0, problems: [] };
  const cap = tileBytes;
  for (const f of files) {
    report.filesChecked++;
    const rows = catalog.fileTiles(f.id);
    const size = f.size ?? 0;
    const before = report.problems.length;
    // The shape of the rows: 0..n-1, full tiles except the last, summing to the size.
    const expectTiles = Math.ceil(size / cap);
    let sum = 0;
    rows.forEach((r, i) => {
      sum += r.length;
      const want = i === expectTiles - 1 ? size - i * cap : cap;
      if (r.idx !== i || r.length !== want) {
        report.problems.push({ ...reader.context(f.name, r), code: C.CATALOG_INCONSISTENT, message: `'${f.name}': tile row ${i} has index ${r.idx} and length ${r.length}, expected ${i} and ${want}` });
      }
    });
    if (rows.length !== expectTiles || sum !== size) {
      report.problems.push({ file: f.name, code: C.CATALOG_INCONSISTENT, message: `'${f.name}': ${rows.length} tile rows holding ${sum} bytes, expected ${expectTiles} holding ${size}` });
    }
    const got = await reader.stream(
      f.name,
      rows,
      (payload) => {
        report.tilesChecked++;
        report.bytesChecked += payload.length;
      },
      {
        onError: (e, row) => {
          report.tilesChecked++;
          report.problems.push({ ...reader.context(f.name, row), code: e.code, message: e.message });
        },
      },
    );
    if (report.problems.length === before && got !== f.sha256) {
      report.problems.push({ file: f.name, code: C.FILE_CHECKSUM_MISMATCH, message: `'${f.name}': the tiles give sha256 ${got}, the catalog says ${f.sha256}` });
    }
  }
  report.ok = report.problems.length === 0;
  return report;
  report.ok = report.problems.length === 0;
  return report;
}
