/**
 * Will the engine run this model? Answered from the GGUF header alone (metadata and tensor
 * table, no tensor data), before anything is stored or loaded, naming each part that is
 * missing: the architecture, the configuration (a key or tensor shape), a tensor's type, the
 * tokenizer (e.g. an unknown pre-tokenizer), a head size the attention kernel cannot take.
 * `pxi inspect`, the import wizard and the Models view all show this one answer.
 */
import { PxiError } from '../errors';
import { blockMatrixNames, modelArchFromGguf, modelConfigFromGguf, modelVectorNames, type ModelArchSpec, type ModelConfig } from '../model';
import { tokenizerFromGguf } from '../tokenizer';
import { tensorTypeName, type ModelHeader } from './tensor-source';
import { weightTypeOf } from './weights';

export type SupportPart = 'architecture' | 'configuration' | 'tensor type' | 'tokenizer' | 'shape';

export interface SupportProblem {
  readonly part: SupportPart;
  /** The message, naming the key, tensor or value. */
  readonly detail: string;
}

export interface EngineSupport {
  readonly runs: boolean;
  readonly problems: readonly SupportProblem[];
}

/** The attention kernel's limit (attention.wgsl: 4 dims per invocation, 64 invocations). */
export const MAX_HEAD_DIM = 256;

function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export function engineSupport(h: ModelHeader): EngineSupport {
  const problems: SupportProblem[] = [];
  let config: ModelConfig | null = null;
  let arch: ModelArchSpec | null = null;
  try {
    config = modelConfigFromGguf(h);
    arch = modelArchFromGguf(h, config);
  } catch (e) {
    if (!(e instanceof PxiError)) throw e;
    problems.push({ part: e.code === 'MODEL_UNSUPPORTED_ARCH' ? 'architecture' : 'configuration', detail: e.message });
  }
  if (config && arch) {
    const byName = new Map(h.tensors.map((t) => [t.name, t] as const));
    const matrices = ['token_embd.weight', ...(config.tiedOutput ? [] : ['output.weight'])];
    for (let b = 0; b < config.blockCount; b++) matrices.push(...blockMatrixNames(arch, b));
    // One line per type (a Q5_K file would otherwise list every tensor).
    const seen = new Set<string>();
    for (const n of matrices) {
      const t = byName.get(n)!;
      try {
        weightTypeOf(t);
      } catch (e) {
        const key = tensorTypeName(t);
        if (!seen.has(key)) problems.push({ part: 'tensor type', detail: message(e) });
        seen.add(key);
      }
    }
    for (const n of modelVectorNames(config, arch)) {
      const type = tensorTypeName(byName.get(n)!);
      if (type !== 'F32' && type !== 'F16' && type !== 'BF16') problems.push({ part: 'tensor type', detail: `vector ${JSON.stringify(n)} is ${type}; norms and biases must be F32, F16 or BF16` });
    }
    if (config.headDim > MAX_HEAD_DIM) problems.push({ part: 'shape', detail: `${h.file}: head size ${config.headDim}; the attention kernel takes sizes up to ${MAX_HEAD_DIM}` });
  }
  try {
    tokenizerFromGguf(h.metadata, h.file);
  } catch (e) {
    if (!(e instanceof PxiError)) throw e;
    problems.push({ part: 'tokenizer', detail: e.message });
  }
  return { runs: problems.length === 0, problems };
}

/** One line for people: "runs" or what is missing. */
export function formatSupport(s: EngineSupport): string {
  if (s.runs) return 'yes: the engine runs this model';
  return `no: ${s.problems.map((p) => `${p.part}: ${p.detail}`).join('; ')}`;
}
