/**
 * Verify's checks of a stored model (the use case that runs them, with its progress and its
 * report, is electron/ops/verify.ts): which PixelFS files make up the model (header, tensors,
 * padding, manifest, and the packs of an active packed layout), and the check of one of them:
 * present, with the size and sha256 the manifest (a pack: the layout journal) records, every
 * tile re-read and re-hashed, each damaged range located by tile, tensor and GGUF byte range.
 */
import { modelPaths, paddingSegments, type ModelManifest, type StoredFile } from '../../shared/model/manifest';
import { PixelFsCodes } from '../pixelfs/index';
import type { StoreCore } from './store-core';
import type { VerifyState } from './store-db';
import type { ModelPart, ModelProblem, ModelSummary, ModelVerifyReport } from './types';

/** One PixelFS file of a model, as verify checks it. */
export interface StoredPart {
  part: ModelPart;
  file: StoredFile;
  tensorIndex: number | null;
}

/** What the check of one part found. */
export interface PartCheck {
  /** False when the file is missing from the volume (its one problem says so; nothing was read). */
  found: boolean;
  problems: ModelProblem[];
  tilesChecked: number;
  bytesChecked: number;
}

/** What verify reads of one model, the check of each part, and where the result is kept. */
export interface VerifyPlan {
  /** The model as listed when the plan was made. */
  model: ModelSummary;
  parts: StoredPart[];
  /** Parts checked at once (the store's parallelFiles). */
  parallel: number;
  check(part: StoredPart): Promise<PartCheck>;
  /** Keeps `report` as the model's last verify report, its `model.verified` as the model's verify state. */
  record(report: ModelVerifyReport): void;
}

/** The header, tensor, padding and manifest files of `m` (the manifest's size is not recorded: -1). */
function modelFiles(core: StoreCore, m: ModelManifest): StoredPart[] {
  const out: StoredPart[] = [{ part: 'header', file: m.header, tensorIndex: null }];
  for (const t of m.tensors) out.push({ part: 'tensor', file: { name: t.file, size: t.bytes, sha256: t.sha256 }, tensorIndex: t.index });
  if (m.padding.file) out.push({ part: 'padding', file: m.padding.file, tensorIndex: null });
  const r = core.db.model(m.id);
  out.push({ part: 'manifest', file: { name: modelPaths.manifest(m.id), size: -1, sha256: r?.manifestSha256 ?? '' }, tensorIndex: null });
  return out;
}

/** GGUF offset of byte `off` of the padding file (the gaps after each tensor, concatenated). */
function paddingToGguf(m: ModelManifest, off: number): number {
  const gaps = paddingSegments(m);
  let acc = 0;
  for (let i = 0; i < gaps.length; i++) {
    if (off < acc + gaps[i]!) return m.tensors[i]!.offset + m.tensors[i]!.bytes + (off - acc);
    acc += gaps[i]!;
  }
  return m.source.size;
}

async function checkPart(core: StoreCore, m: ModelManifest, f: StoredPart): Promise<PartCheck> {
  const vol = core.volume;
  const t = f.tensorIndex === null ? null : m.tensors[f.tensorIndex]!;
  const out: PartCheck = { found: true, problems: [], tilesChecked: 0, bytesChecked: 0 };
  const problem = (p: Partial<ModelProblem> & { code: string; message: string }): void => {
    out.problems.push({
      part: f.part,
      file: f.file.name,
      tensor: t?.name ?? null,
      tensorIndex: t?.index ?? null,
      tileIndex: null,
      fileOffset: null,
      length: null,
      ggufOffset: null,
      ...p,
    });
  };
  const info = vol.stat(f.file.name);
  if (!info) {
    problem({ code: PixelFsCodes.FILE_NOT_FOUND, message: `${f.file.name} is missing from the volume${t ? ` (tensor ${t.name})` : ''}` });
    out.found = false;
    return out;
  }
  if (info.sha256 !== f.file.sha256 || (f.file.size >= 0 && info.size !== f.file.size)) {
    problem({ code: PixelFsCodes.FILE_CHECKSUM_MISMATCH, message: `${f.file.name}: the volume holds ${info.size} bytes with sha256 ${info.sha256}, the manifest says ${f.file.size} bytes with ${f.file.sha256}` });
  }
  const rep = await vol.verify(f.file.name);
  out.tilesChecked = rep.tilesChecked;
  out.bytesChecked = rep.bytesChecked;
  for (const p of rep.problems) {
    const off = p.offset ?? null;
    let gguf: number | null = null;
    if (off !== null) {
      if (f.part === 'header') gguf = off;
      else if (f.part === 'tensor') gguf = t!.offset + off;
      else if (f.part === 'padding') gguf = paddingToGguf(m, off);
    }
    const where =
      p.tileIndex === undefined
        ? ''
        : `tile ${p.tileIndex}${off !== null ? ` = ${f.part === 'tensor' ? 'tensor' : 'file'} bytes ${off}..${off + (p.length ?? 1) - 1}` : ''}${gguf !== null ? `, GGUF bytes ${gguf}..${gguf + (p.length ?? 1) - 1}` : ''}: `;
    problem({
      tileIndex: p.tileIndex ?? null,
      fileOffset: off,
      length: p.length ?? null,
      ggufOffset: gguf,
      code: p.code,
      message: `${t ? `tensor ${t.name} (#${t.index})` : f.part}: ${where}${p.message}`,
    });
  }
  return out;
}

/** The verify plan of model `ref` (MODEL_NOT_FOUND when there is none). */
export async function verifyPlan(core: StoreCore, ref: string): Promise<VerifyPlan> {
  const r = core.row(ref);
  const m = core.leanManifest(r.id);
  // The engine reads a packed model from its packs: they are checked too, against the journal.
  const packs = (await core.layouts.journal(m)).active?.packs ?? [];
  const parts: StoredPart[] = [...modelFiles(core, m), ...packs.map((p) => ({ part: 'pack' as const, file: { name: p.file, size: p.size, sha256: p.sha256 }, tensorIndex: null }))];
  return {
    model: core.summary(r),
    parts,
    parallel: core.parallel,
    check: (part) => checkPart(core, m, part),
    record: (report) => {
      const state: VerifyState = report.model.verified;
      core.db.setVerify(r.id, state, Date.now(), JSON.stringify(report));
    },
  };
}
