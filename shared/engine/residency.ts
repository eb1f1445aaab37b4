/**
 * The residency planner: given a GPU memory budget, which weight matrices stay on the GPU and
 * which stream per pass from host memory (issue 12 §2; llama.cpp's `--fit` is the anchor, ours
 * decides by itself and says why). Pure: it sees sizes only, so it is tested without a GPU.
 *
 * A streamed matrix is written into one of `STREAM_SLOTS` reusable slot buffers just before the
 * dispatch that reads it (the next one's write is queued while this one computes), so the slots
 * cost STREAM_SLOTS × the largest streamed matrix. What must stay resident whatever the budget
 * (KV cache, activations, norms and biases) is `fixedBytes`. Among the ways to fit, the plan
 * uploads the fewest bytes per pass: it tries each slot size (each matrix size), keeps every
 * matrix larger than the slot resident, then keeps as many of the others as the rest allows.
 */
import { EngineError } from './errors';

/** Slot buffers streamed matrices take turns in: one being read, one being written. */
export const STREAM_SLOTS = 2;

export interface ResidencyMatrix {
  name: string;
  /** GPU bytes of each row part (one part unless the matrix exceeds a binding). */
  parts: readonly number[];
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
}

export interface ResidencyPlan {
  budget: number | null;
  resident: string[];
  /** In pass order. */
  streamed: string[];
  /** Bytes of each part buffer of one slot (empty when nothing streams). */
  slotParts: number[];
  /** GPU bytes of the resident matrices, and of all slots. */
  residentBytes: number;
  slotBytes: number;
  /** Bytes written to the slots per single-token pass (output included). */
  uploadBytesPerPass: number;
  /** What was decided and why, one sentence a line. */
  explanation: string[];
}

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const bytesOf = (m: ResidencyMatrix) => sum(m.parts);
const usesOf = (m: ResidencyMatrix) => m.uses ?? 1;

/** Bytes a human reads: 1.17 MB, 640 KB. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} KB`;
  return `${n} B`;
}

/** Per part index, the largest part among `ms`: what one slot must hold for any of them. */
function slotPartsFor(ms: readonly ResidencyMatrix[]): number[] {
  const out: number[] = [];
  for (const m of ms) m.parts.forEach((p, i) => (out[i] = Math.max(out[i] ?? 0, p)));
  return out;
}

export function planResidency(input: ResidencyInput): ResidencyPlan {
  const { matrices, fixedBytes, budget } = input;
  const total = sum(matrices.map(bytesOf));
  const names = matrices.map((m) => m.name);
  const allResident = (why: string): ResidencyPlan => ({
    budget,
    resident: names,
    streamed: [],
    slotParts: [],
    residentBytes: total,
    slotBytes: 0,
    uploadBytesPerPass: 0,
    explanation: [why, `all ${matrices.length} weight matrices (${formatBytes(total)}) resident; nothing streams`],
  });
  if (budget === null) return allResident('no GPU memory budget given');
  if (!Number.isFinite(budget) || budget <= 0) {
    throw new EngineError('ENGINE_BAD_OPTION', `gpuMemory must be a positive number of bytes, got ${budget}`, { field: 'gpuMemory', value: budget });
  }
  const room = budget - fixedBytes;
  const head = `budget ${formatBytes(budget)}: KV cache, activations, norms and biases take ${formatBytes(fixedBytes)}, leaving ${formatBytes(Math.max(0, room))} for ${formatBytes(total)} of weight matrices`;
  if (total <= room) return allResident(head);

  let best: { resident: Set<string>; upload: number; slot: number } | null = null;
  for (const cap of [...new Set(matrices.map(bytesOf))].sort((a, b) => a - b)) {
    const big = matrices.filter((m) => bytesOf(m) > cap);
    const small = matrices.filter((m) => bytesOf(m) <= cap);
    const slot = sum(slotPartsFor(small));
    let free = room - STREAM_SLOTS * slot - sum(big.map(bytesOf));
    if (free < 0) continue;
    // Keep what saves the most uploads first: read twice per pass, then the largest.
    const resident = new Set(big.map((m) => m.name));
    for (const m of [...small].sort((a, b) => usesOf(b) - usesOf(a) || bytesOf(b) - bytesOf(a))) {
      if (bytesOf(m) <= free) {
        resident.add(m.name);
        free -= bytesOf(m);
      }
    }
    const streamed = matrices.filter((m) => !resident.has(m.name));
    if (streamed.length === 0) continue;
    const upload = sum(streamed.map((m) => bytesOf(m) * usesOf(m)));
    const exactSlot = sum(slotPartsFor(streamed));
    if (!best || upload < best.upload || (upload === best.upload && exactSlot < best.slot)) best = { resident, upload, slot: exactSlot };
  }
  if (!best) {
    const least = fixedBytes + STREAM_SLOTS * sum(slotPartsFor(matrices));
    throw new EngineError(
      'ENGINE_BAD_OPTION',
      `gpuMemory ${formatBytes(budget)} is too small for this model: streaming every weight matrix still needs ${formatBytes(least)} (KV cache, activations and vectors ${formatBytes(fixedBytes)}, ${STREAM_SLOTS} slots of the largest matrix); give at least that, or a shorter context`,
      { field: 'gpuMemory', value: budget, needed: least },
    );
  }
  const resident = matrices.filter((m) => best.resident.has(m.name));
  const streamed = matrices.filter((m) => !best.resident.has(m.name));
  const slotParts = slotPartsFor(streamed);
  const largest = Math.max(...streamed.map(bytesOf));
  return {
    budget,
    resident: resident.map((m) => m.name),
    streamed: streamed.map((m) => m.name),
    slotParts,
    residentBytes: sum(resident.map(bytesOf)),
    slotBytes: STREAM_SLOTS * sum(slotParts),
    uploadBytesPerPass: best.upload,
    explanation: [
      head,
      `${resident.length} matrices resident (${formatBytes(sum(resident.map(bytesOf)))}); ${streamed.length} stream from host memory (${formatBytes(sum(streamed.map(bytesOf)))})`,
      `streamed matrices take turns in ${STREAM_SLOTS} slots of ${formatBytes(sum(slotParts))} (the largest streamed, ${formatBytes(largest)}): one is read while the next is written`,
      `chosen to upload the least per token: ${formatBytes(best.upload)} per single-token pass`,
    ],
  };
}
