import { formatBytes } from '../../../shared/model/summary';
import { interruptSignal, positionals, progressPrinter, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { formatDuration } from '../../models/progress';
import { EXIT, parseOptions, type Command } from '../command';
import { verifyModel } from '../../ops/verify';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 're-hash every tile of an imported model; exit 3 if damaged',
  help: `Usage: pxi verify MODEL [options]

Reads back every tile of every file of the model (header, tensors, padding, manifest,
and the packs of a packed layout: see pxi layout), checks each tile's sha256 and each
file's sha256 against the manifest (a pack's against the layout journal), and reports
each damaged or missing tile with its tile index, the tensor it belongs to, and its
byte range in the tensor and in the GGUF file. The result is recorded as the model's
verify state.

Options:
  ${VOLUME_HELP}
  --json             print the report as JSON on stdout
  -h, --help         show this help

Exit codes: 0 intact, 3 damage found, 1 failed, 2 usage error.`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(argv, { volume: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [ref] = positionals(args, ['MODEL']);
    const signal = interruptSignal(io);
    const show = progressPrinter(io, 'verify');
    return runStorageCommand('verify', io, () =>
      withStore(volumeDir(values.volume), async (store) => {
        const rep = await verifyModel(store, ref!, { signal, onProgress: (p) => show(p.bytesDone, p.bytesTotal, p, `file ${p.filesDone}/${p.fileCount}`) });
        if (values.json) {
          io.out(JSON.stringify(rep));
        } else {
          for (const p of rep.problems) io.out(`DAMAGED ${p.message}`);
          io.out(
            `${rep.model.name}: ${rep.ok ? 'OK' : `${rep.problems.length} problem${rep.problems.length === 1 ? '' : 's'}`} (${rep.filesChecked} files, ${rep.tilesChecked} tiles, ${formatBytes(rep.bytesChecked)} in ${formatDuration(rep.seconds)})`,
          );
        }
        return rep.ok ? EXIT.OK : EXIT.CORRUPT;
      }),
    );
  },
};
