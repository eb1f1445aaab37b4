import { existsSync, statSync } from 'node:fs';
import { engineSupport, formatSupport } from '../../../shared/engine/support';
import { readGgufHeader } from '../../../shared/gguf/reader';
import { decodeMetadata } from '../../../shared/model/metadata-json';
import { formatBytes, formatCount, formatSummary, summarizeModel, type ModelSummaryInfo } from '../../../shared/model/summary';
import { manifestTensorInfos } from '../../engine/pixel-source';
import { listAdapters } from '../../train/adapters';
import { positionals, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { withFileByteSource } from '../../storage/file-byte-source';
import { EXIT, parseOptions, type Command } from '../command';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show a GGUF file or an imported model (architecture, sizes, tokenizer)',
  help: `Usage: pxi inspect [FILE.gguf | MODEL] [options]

With a path to a GGUF file: reads its header only (no tensor data) and shows the
architecture, parameter count, tensor types with counts and bytes, total size, context
length, tokenizer (model, vocabulary size, bos/eos) and the first lines of the chat
template, the model configuration when the file is a model of a family we run, and
whether the engine runs it ("runs  yes", or "runs  no:" with each missing part: the
architecture, a tensor's type, the tokenizer's pre-tokenizer, a shape). Any GGUF can be
imported, stored and explored whatever this says.
With a model id or name: the same for a model imported into the volume (from its
manifest), with its id and verify state.
Without an argument: lists the models in the volume.

Options:
  ${VOLUME_HELP}
  --json             print JSON on stdout (the full chat template included)
  -h, --help         show this help`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(argv, { volume: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [target] = positionals(args, ['FILE|MODEL'], 1);
    if (target !== undefined && existsSync(target) && statSync(target).isFile()) {
      const h = await withFileByteSource(target, (src) => readGgufHeader(src, { name: target }));
      const s = summarizeModel(h);
      const support = engineSupport(h);
      io.out(values.json ? JSON.stringify({ ...s, support }) : `${formatSummary(s)}\nruns           ${formatSupport(support)}`);
      return EXIT.OK;
    }
    return withStore(volumeDir(values.volume), async (store) => {
      if (target === undefined) {
        const models = store.list();
        if (values.json) io.out(JSON.stringify({ volume: store.root, models, pendingImports: store.pendingImports().map((p) => ({ id: p.modelId, name: p.name, source: p.path })) }));
        else if (models.length === 0) io.out(`${store.root}: no models`);
        else {
          for (const m of models) {
            io.out(`${m.name.padEnd(24)} ${m.id.padEnd(36)} ${m.architecture.padEnd(6)} ${formatCount(m.parameterCount).padStart(7)}  ${formatBytes(m.bytes).padStart(10)}  ${m.tensorTypes.join(',').padEnd(12)} ${m.verified}`);
          }
          for (const p of store.pendingImports()) io.out(`${p.name.padEnd(24)} ${p.modelId.padEnd(36)} (interrupted import of ${p.path}: rerun pxi import to resume)`);
        }
        return EXIT.OK;
      }
      const m = store.manifest(target);
      const model = store.get(target);
      const header = {
        file: `${m.name} (${m.source.fileName})`,
        version: m.gguf.version,
        fileSize: m.source.size,
        metadata: decodeMetadata(m.metadata, m.id),
        tensors: manifestTensorInfos(m),
      };
      const s: ModelSummaryInfo = summarizeModel(header);
      const support = engineSupport(header);
      const adapters = listAdapters(store.volume, m.id);
      if (values.json) {
        io.out(JSON.stringify({ model, source: m.source, storage: m.storage, createdAt: m.createdAt, ...s, support, adapters }));
      } else {
        io.out(`model          ${m.name}  (id ${m.id}, imported ${m.createdAt}, verify: ${model.verified})`);
        io.out(`source         ${m.source.fileName}, sha256 ${m.source.sha256}`);
        io.out(formatSummary(s));
        io.out(`runs           ${formatSupport(support)}`);
        io.out(`adapters       ${adapters.length ? adapters.map((a) => `${a.name} (${formatBytes(a.bytes)})`).join(', ') + ' (pxi run MODEL --lora NAME)' : 'none (pxi finetune makes one)'}`);
      }
      return EXIT.OK;
    });
  },
};
