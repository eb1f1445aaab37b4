/**
 * What `pxi inspect` shows about a model, computed from GGUF metadata and the tensor table alone
 * (so it works on a GGUF file and on an imported model's manifest alike): architecture,
 * parameter count, tensor types with counts and bytes, tokenizer, chat template, context length
 * and, when the file is a model we can configure, the configuration (else the reason why not).
 */
import { PxiError } from '../errors';
import { ggmlType } from '../gguf/ggml-types';
import type { GgufMetadata } from '../gguf/values';
import { modelConfigFromGguf, type ModelConfig } from './config';

export interface TensorTypeCount {
  readonly type: string;
  readonly count: number;
  readonly elements: number;
  readonly bytes: number;
}

export interface TokenRef {
  readonly id: number;
  /** The token's text, when the vocabulary has that id. */
  readonly text: string | null;
}

export interface ModelSummaryInfo {
  readonly file: string;
  readonly architecture: string | null;
  readonly name: string | null;
  readonly ggufVersion: number;
  readonly fileSize: number;
  readonly tensorCount: number;
  readonly tensorBytes: number;
  readonly parameterCount: number;
  /** By bytes, largest first. */
  readonly tensorTypes: readonly TensorTypeCount[];
  readonly contextLength: number | null;
  readonly tokenizer: {
    readonly model: string | null;
    readonly pre: string | null;
    readonly vocabSize: number | null;
    readonly bos: TokenRef | null;
    readonly eos: TokenRef | null;
  };
  readonly chatTemplate: string | null;
  readonly config: ModelConfig | null;
  /** Why there is no config (unsupported architecture, inconsistent shapes), else null. */
  readonly configError: string | null;
}

interface Source {
  readonly file: string;
  readonly version: number;
  readonly fileSize: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly { readonly name: string; readonly type: number; readonly dims: readonly number[]; readonly elementCount: number; readonly byteSize: number }[];
}

function str(m: GgufMetadata, key: string): string | null {
  const v = m.get(key);
  return v?.type === 'string' ? v.value : null;
}

function int(m: GgufMetadata, key: string): number | null {
  const v = m.get(key);
  if (!v) return null;
  if (typeof v.value === 'number' && Number.isSafeInteger(v.value) && v.type !== 'float32' && v.type !== 'float64') return v.value;
  if (typeof v.value === 'bigint' && v.value >= 0n && v.value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v.value);
  return null;
}

export function summarizeModel(src: Source): ModelSummaryInfo {
  const m = src.metadata;
  const arch = str(m, 'general.architecture');
  const byType = new Map<string, { count: number; elements: number; bytes: number }>();
  let tensorBytes = 0;
  let parameterCount = 0;
  for (const t of src.tensors) {
    const name = ggmlType(t.type).name;
    const e = byType.get(name) ?? { count: 0, elements: 0, bytes: 0 };
    e.count++;
    e.elements += t.elementCount;
    e.bytes += t.byteSize;
    byType.set(name, e);
    tensorBytes += t.byteSize;
    parameterCount += t.elementCount;
  }
  const tokensValue = m.get('tokenizer.ggml.tokens');
  const tokens = tokensValue?.type === 'array' && tokensValue.value.itemType === 'string' ? tokensValue.value.items : null;
  const tokenRef = (key: string): TokenRef | null => {
    const id = int(m, key);
    if (id === null) return null;
    return { id, text: tokens && id < tokens.length ? tokens[id]! : null };
  };
  let config: ModelConfig | null = null;
  let configError: string | null = null;
  try {
    config = modelConfigFromGguf(src);
  } catch (e) {
    if (!(e instanceof PxiError)) throw e;
    configError = e.message;
  }
  return {
    file: src.file,
    architecture: arch,
    name: str(m, 'general.name'),
    ggufVersion: src.version,
    fileSize: src.fileSize,
    tensorCount: src.tensors.length,
    tensorBytes,
    parameterCount,
    tensorTypes: [...byType].map(([type, e]) => ({ type, ...e })).sort((a, b) => b.bytes - a.bytes || a.type.localeCompare(b.type)),
    contextLength: arch ? int(m, `${arch}.context_length`) : null,
    tokenizer: {
      model: str(m, 'tokenizer.ggml.model'),
      pre: str(m, 'tokenizer.ggml.pre'),
      vocabSize: tokens ? tokens.length : null,
      bos: tokenRef('tokenizer.ggml.bos_token_id'),
      eos: tokenRef('tokenizer.ggml.eos_token_id'),
    },
    chatTemplate: str(m, 'tokenizer.chat_template'),
    config,
    configError,
  };
}

/** A parameter count the way model cards write it: 260.1K, 1.54B. */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [v, u] of units) if (n >= v) return `${(n / v).toFixed(n / v >= 100 ? 0 : n / v >= 10 ? 1 : 2)}${u}`;
  return String(n);
}

/** Bytes with a binary unit: 1.5 KiB, 4.37 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** The text block `pxi inspect` prints. */
export function formatSummary(s: ModelSummaryInfo, templateLines = 6): string {
  const lines: string[] = [];
  const c = s.config;
  lines.push(`file           ${s.file}`);
  lines.push(`architecture   ${s.architecture ?? '(none)'}${s.name ? `  (general.name ${JSON.stringify(s.name)})` : ''}`);
  lines.push(`parameters     ${formatCount(s.parameterCount)} (${s.parameterCount})`);
  lines.push(`size           ${formatBytes(s.fileSize)} (${s.fileSize} bytes; tensors ${formatBytes(s.tensorBytes)}), GGUF v${s.ggufVersion}, ${s.tensorCount} tensors`);
  lines.push(`context        ${s.contextLength ?? '(not set)'}`);
  if (c) {
    lines.push(
      `config         ${c.blockCount} blocks, embedding ${c.embeddingLength}, ${c.headCount} heads / ${c.headCountKv} KV heads (head dim ${c.headDim}), FFN ${c.feedForwardLength}, vocab ${c.vocabSize}`,
    );
    lines.push(
      `               rope ${c.ropeType} theta ${c.ropeTheta} (${c.ropeDimensionCount} dims), rms eps ${c.rmsEps}, ${c.tiedOutput ? 'tied output' : 'separate output'}${c.qkvBias ? ', q/k/v biases' : ''}`,
    );
  } else {
    lines.push(`config         not runnable here: ${s.configError}`);
  }
  lines.push('tensor types');
  for (const t of s.tensorTypes) lines.push(`  ${t.type.padEnd(8)} ${String(t.count).padStart(5)} tensors  ${formatBytes(t.bytes).padStart(10)}  ${formatCount(t.elements)} params`);
  const tk = s.tokenizer;
  const tok = (r: TokenRef | null): string => (r ? `${r.id}${r.text !== null ? ` ${JSON.stringify(r.text)}` : ''}` : '(none)');
  lines.push(`tokenizer      ${tk.model ?? '(none)'}${tk.pre ? ` (pre ${tk.pre})` : ''}, ${tk.vocabSize ?? 0} tokens, bos ${tok(tk.bos)}, eos ${tok(tk.eos)}`);
  if (s.chatTemplate) {
    const all = s.chatTemplate.split('\n');
    lines.push(`chat template  ${all.length} lines, ${s.chatTemplate.length} chars:`);
    for (const l of all.slice(0, templateLines)) lines.push(`  | ${l.length > 100 ? `${l.slice(0, 100)}…` : l}`);
    if (all.length > templateLines) lines.push(`  | … (${all.length - templateLines} more lines)`);
  } else {
    lines.push('chat template  (none)');
  }
  return lines.join('\n');
}
