import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { PxiError } from '../../shared/errors';
import { isWeightType } from '../../shared/engine/quant-matmul';
import { engineSupport } from '../../shared/engine/support';
import { readGgufHeader } from '../../shared/gguf/reader';
import type { Handlers } from '../../shared/ipc/dispatch';
import { summarizeModel } from '../../shared/model/summary';
import { decodeMetadata } from '../../shared/model/metadata-json';
import { manifestTensorInfos } from '../engine/pixel-source';
import type { ModelStore } from '../models/store';
import { withFileByteSource } from '../storage/file-byte-source';
import { adaptersByModel, describeAdapter, listAdapters } from '../train/adapters';
import { finetuneSupport, storedHeader } from './finetune-runs';
import { MAX_ADAPTERS } from '../../shared/ipc/channels/models';

type ModelChannel = 'models:list' | 'models:inspectFile' | 'models:delete' | 'models:adapters';

/** Vectors (norms, biases) may also be BF16; the matrices must be a type the kernels read. */
function runnableType(type: string): boolean {
  return isWeightType(type) || type === 'BF16';
}

/**
 * The model catalogue over the host's volume, and the import wizard's first step: reading a
 * GGUF file's header on the host's disk (never its tensor data) to say what it holds and
 * whether the engine can run it. A model's row also says whether the training engine can
 * fine-tune it and which adapters a fine-tune stored beside it (`models:adapters` reads them).
 */
export function modelHandlers(store: () => Promise<ModelStore>): Pick<Handlers, ModelChannel> {
  const supportById = new Map<string, { runs: boolean; runProblem: string | null; finetunes: boolean; finetuneProblem: string | null }>();
  return {
    'models:list': async () => {
      const st = await store();
      const adapters = adaptersByModel(st.volume);
      return {
        models: st.list().map((m) => {
          // A model's header never changes under its id: the answer is computed once.
          let support = supportById.get(m.id);
          if (!support) {
            const man = st.manifest(m.id);
            const s = engineSupport({ file: m.name, metadata: decodeMetadata(man.metadata, man.id), tensors: manifestTensorInfos(man) });
            const f = finetuneSupport(storedHeader(st, m.id));
            support = { runs: s.runs, runProblem: s.runs ? null : s.problems.map((p) => `${p.part}: ${p.detail}`).join('\n'), finetunes: f.ok, finetuneProblem: f.problem };
            supportById.set(m.id, support);
          }
          const own = (adapters.get(m.id) ?? []).slice(0, MAX_ADAPTERS).map((a) => ({ name: a.name, bytes: a.bytes }));
          return { ...m, ...support, adapters: own };
        }),
      };
    },
    'models:delete': async ({ id }) => {
      const st = await store();
      const model = st.get(id).id;
      const adapters = listAdapters(st.volume, model);
      await st.remove(id);
      // Its adapters go with it: they only apply to this base.
      for (const a of adapters) await st.volume.rm(a.file);
      return { deleted: id };
    },
    'models:adapters': async ({ id }) => {
      const st = await store();
      const model = st.get(id).id;
      const adapters = [];
      for (const a of listAdapters(st.volume, model).slice(0, MAX_ADAPTERS)) {
        // An adapter whose header cannot be read is still listed (by name and size), its figures unknown.
        const d = await describeAdapter(st.volume, a).catch(() => ({ ...a, rank: null, alpha: null, targets: [], steps: null, validLoss: null }));
        adapters.push({ name: d.name, bytes: d.bytes, rank: d.rank, alpha: d.alpha, targets: d.targets, steps: d.steps, validLoss: d.validLoss, createdAt: d.createdAt });
      }
      return { model, adapters };
    },
    'models:inspectFile': async ({ path }) => {
      if (!isAbsolute(path)) throw new PxiError('INSPECT_BAD_PATH', `${path}: give an absolute path to a .gguf file on this machine`, { file: path });
      const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
        throw new PxiError('INSPECT_NOT_FOUND', `${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { file: path });
      });
      if (!st.isFile()) throw new PxiError('INSPECT_NOT_A_FILE', `${path} is not a regular file`, { file: path });
      const header = await withFileByteSource(path, (src) => readGgufHeader(src, { name: path }));
      const s = summarizeModel({ file: path, version: header.version, fileSize: header.fileSize, metadata: header.metadata, tensors: header.tensors });
      const arch = s.architecture;
      const support = engineSupport({ file: path, metadata: header.metadata, tensors: header.tensors });
      // Each missing part on its own line: the wizard shows them as a list.
      const engineProblem = support.runs ? null : support.problems.map((p) => `${p.part}: ${p.detail}`).join('\n');
      return {
        path,
        fileSize: s.fileSize,
        ggufVersion: s.ggufVersion,
        architecture: arch,
        name: s.name,
        parameterCount: s.parameterCount,
        tensorCount: s.tensorCount,
        tensorTypes: s.tensorTypes.map((t) => ({ type: t.type, count: t.count, bytes: t.bytes, runnable: runnableType(t.type) })),
        contextLength: s.contextLength,
        tokenizer: { model: s.tokenizer.model, vocabSize: s.tokenizer.vocabSize },
        chatTemplate: s.chatTemplate,
        engineProblem,
      };
    },
  };
}
