/**
 * The residency planner: given a GPU memory budget, which weight matrices stay on the GPU and
 * which stream per pass from host memory (issue 12 §2; llama.cpp's `--fit` is the anchor, ours
 * decides by itself and says why). Pure: it sees sizes only, so it is tested without a GPU.
 *
 * A streamed matrix goes up in row pieces of at most `pieceBytes`, each written into one of
 * `STREAM_SLOTS` reusable slot buffers just before the dispatch that reads it (the next piece's
 * write is queued while this one computes), so streaming costs STREAM_SLOTS × the largest piece.
 * What stays whatever the budget (KV cache, activations, norms and biases) is `fixedBytes`.
 *
 * The choice: for each piece size tried (each matrix's size, then halvings of the smallest while
 * nothing fits), the slots are set aside and the rest of the budget keeps matrices resident,
 * those read twice per pass first, then the largest. Among the pieces that fit, the plan with the
 * least cost per token wins: bytes uploaded, plus SUBMIT_COST_BYTES per piece (each piece ends a
 * command buffer), so small pieces are used only where they save uploads.
 */
import { EngineError } from './errors';
import { paddedWeightBytes, planRowParts } from './weights';

/** Slot buffers streamed pieces take turns in: one being read, one being written. */
export const STREAM_SLOTS = 2;
/**
 * What one more submit per token is taken to cost, in bytes of upload: a queue submit costs
 * tens of microseconds, about the time a few hundred KiB take over PCIe.
 */
export const SUBMIT_COST_BYTES = 256 << 10;
/** Halvings of the smallest matrix tried when whole matrices do not fit. */
const MAX_HALVINGS = 12;

export interface ResidencyMatrix {
  name: string;
  rows: number;
  /** GGUF bytes of one row (whole blocks). */
  rowBytes: number;
  /** How often one pass reads it (2 for a tied embedding: the gather and the output). Default 1. */
  uses?: number;
}

export interface ResidencyInput {
  /** The weight matrices, in the order a pass reads them. */
  matrices: readonly ResidencyMatrix[];
  /** Bytes that stay on the GPU whatever the plan: KV cache, activations, vectors. */
  fixedBytes: number;
  /** Bytes the model may hold on the GPU; null: no budget (everything resident). */
  budget: number | null;
  /** Most bytes one buffer may bind (resident matrices split into row parts past it). */
  maxBindingBytes: number;
}

export interface ResidencyPlan {
  budget: number | null;
  resident: string[];
  /** In pass order. */
  streamed: string[];
  /** Binding cap for streamed matrices: their row pieces are planned with it (planRowParts). 0 when nothing streams. */
  pieceBytes: number;
  /** Bytes of one slot buffer (the largest piece, padded). */
  slotBytes: number;
  /** GPU bytes of the resident matrices, and of all slots together. */
  residentBytes: number;
  slotsBytes: number;
  /** Bytes written to the slots per single-token pass (output included), and the pieces (submits) they take. */
  uploadBytesPerPass: number;
  piecesPerPass: number;
  /** What was decided and why, one sentence a line. */
  explanation: string[];
}

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const usesOf = (m: ResidencyMatrix) => m.uses ?? 1;
const count = (n: number) => `${n} ${n === 1 ? 'matrix' : 'matrices'}`;

/** Bytes a human reads: 1.17 MB, 640.0 KB. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} KB`;
  return `${n} B`;
}

/** GPU bytes of each row part of `m` when no buffer may bind more than `cap`. */
export function pieceSizes(m: ResidencyMatrix, cap: number): number[] {
  return planRowParts(m.name, m.rows, m.rowBytes, cap).map((r) => paddedWeightBytes(r.rows * m.rowBytes));
}

interface Candidate {
  resident: Set<string>;
  cap: number;
  slot: number;
  upload: number;
  pieces: number;
  cost: number;
}

export function planResidency(input: ResidencyInput): ResidencyPlan {
  const { matrices, fixedBytes, budget, maxBindingBytes } = input;
  const gpuBytes = new Map(matrices.map((m) => [m.name, sum(pieceSizes(m, maxBindingBytes))] as const));
  const total = sum([...gpuBytes.values()]);
  const names = matrices.map((m) => m.name);
  const allResident = (why: string): ResidencyPlan => ({
    budget,
    resident: names,
    streamed: [],
    pieceBytes: 0,
    slotBytes: 0,
    residentBytes: total,
    slotsBytes: 0,
    uploadBytesPerPass: 0,
    piecesPerPass: 0,
    explanation: [why, `all ${matrices.length} weight matrices (${formatBytes(total)}) resident; nothing streams`],
  });
  if (budget === null) return allResident('no GPU memory budget given');
  if (!Number.isFinite(budget) || budget <= 0) {
    throw new EngineError('ENGINE_BAD_OPTION', `gpuMemory must be a positive number of bytes, got ${budget}`, { field: 'gpuMemory', value: budget });
  }
  const room = budget - fixedBytes;
  const head = `budget ${formatBytes(budget)}: KV cache, activations, norms and biases take ${formatBytes(fixedBytes)}, leaving ${formatBytes(Math.max(0, room))} for ${formatBytes(total)} of weight matrices`;
  if (total <= room) return allResident(head);

  // A piece must hold at least one row of every matrix.
  const minCap = Math.max(...matrices.map((m) => paddedWeightBytes(m.rowBytes)));
  const tryCap = (cap: number): Candidate | null => {
    const slot = Math.max(...matrices.map((m) => Math.max(...pieceSizes(m, cap))));
    let free = room - STREAM_SLOTS * slot;
    if (free < 0) return null;
    // Keep what saves the most uploads first: read twice per pass, then the largest.
    const resident = new Set<string>();
    for (const m of [...matrices].sort((a, b) => usesOf(b) - usesOf(a) || gpuBytes.get(b.name)! - gpuBytes.get(a.name)!)) {
      if (gpuBytes.get(m.name)! <= free) {
        resident.add(m.name);
        free -= gpuBytes.get(m.name)!;
      }
    }
    const streamed = matrices.filter((m) => !resident.has(m.name));
    if (streamed.length === 0) return null;
    const upload = sum(streamed.map((m) => sum(pieceSizes(m, cap)) * usesOf(m)));
    const pieces = sum(streamed.map((m) => pieceSizes(m, cap).length * usesOf(m)));
    const exactSlot = Math.max(...streamed.map((m) => Math.max(...pieceSizes(m, cap))));
    return { resident, cap, slot: exactSlot, upload, pieces, cost: upload + pieces * SUBMIT_COST_BYTES };
  };
  const whole = [...new Set(matrices.map((m) => Math.min(maxBindingBytes, gpuBytes.get(m.name)!)))].filter((c) => c >= minCap);
  let found = whole.map(tryCap).filter((c): c is Candidate => c !== null);
  if (found.length === 0) {
    // Whole matrices do not fit two slots: stream in smaller row pieces.
    let cap = Math.min(...whole, maxBindingBytes);
    for (let i = 0; i < MAX_HALVINGS && found.length === 0 && cap > minCap; i++) {
      cap = Math.max(minCap, Math.floor(cap / 2));
      const c = tryCap(cap);
      if (c) found = [c];
    }
  }
  const best = found.sort((a, b) => a.cost - b.cost || b.cap - a.cap)[0];
  if (!best) {
    const least = fixedBytes + STREAM_SLOTS * minCap;
    throw new EngineError(
      'ENGINE_BAD_OPTION',
      `gpuMemory ${formatBytes(budget)} is too small for this model: streaming every weight matrix row by row still needs ${formatBytes(least)} (KV cache, activations and vectors ${formatBytes(fixedBytes)}, ${STREAM_SLOTS} slots of the widest row); give at least that, or a shorter context`,
      { field: 'gpuMemory', value: budget, needed: least },
    );
  }
  const resident = matrices.filter((m) => best.resident.has(m.name));
  const streamed = matrices.filter((m) => !best.resident.has(m.name));
  const residentBytes = sum(resident.map((m) => gpuBytes.get(m.name)!));
  const split = streamed.some((m) => pieceSizes(m, best.cap).length > pieceSizes(m, maxBindingBytes).length);
  return {
    budget,
    resident: resident.map((m) => m.name),
    streamed: streamed.map((m) => m.name),
    pieceBytes: best.cap,
    slotBytes: best.slot,
    residentBytes,
    slotsBytes: STREAM_SLOTS * best.slot,
    uploadBytesPerPass: best.upload,
    piecesPerPass: best.pieces,
    explanation: [
      head,
      `${count(resident.length)} resident (${formatBytes(residentBytes)}); ${count(streamed.length)} stream from host memory (${formatBytes(sum(streamed.map((m) => gpuBytes.get(m.name)!)))})`,
      `streamed matrices go up in ${best.pieces} pieces per token, taking turns in ${STREAM_SLOTS} slots of ${formatBytes(best.slot)}: one is read while the next is written` +
        (split ? ` (matrices are cut into row pieces of at most ${formatBytes(best.cap)}: whole ones would not leave room for two slots)` : ''),
      `chosen for the least upload per token (${formatBytes(best.upload)}), each piece counted as ${formatBytes(SUBMIT_COST_BYTES)} more for its submit`,
    ],
  };
}
