import { formatBytes, formatCount } from '../../../shared/model/summary';
import { interruptSignal, intFlag, positionals, progressPrinter, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { formatDuration, RateMeter } from '../../models/progress';
import { MAX_TILE_SIDE, type VolumeSettings } from '../../pixelfs/index';
import { importModel } from '../../ops/import';
import { EXIT, parseOptions, type Command } from '../command';

export const importCommand: Command = {
  name: 'import',
  summary: 'import a GGUF model into a volume as PNG tiles (resumable)',
  help: `Usage: pxi import FILE.gguf [options]

Stores a GGUF model in a PixelFS volume (PXI-LLM v1, specs/pxi_llm.md): one PixelFS file
of PNG tiles per tensor, the header bytes verbatim, a manifest, and a row in the volume's
model table. The header is parsed and checked first: a malformed, truncated or unsupported
file (an architecture other than llama or qwen2) is refused before anything is written.
It places the model on the Infinite Map first and builds its level-of-detail pyramid (tile
statistics and heat images of the decoded values, for the explorer and pxi map) from the
bytes as they are stored: one pass over the file.
Progress (MB/s, ETA) goes to stderr. Ctrl-C stops; run the same command again and it
continues where it stopped (tensors already stored are kept, a pyramid resumes at the
first tensor not built). Importing the same file again under the same name only finishes
what is missing.

Options:
  ${VOLUME_HELP};
                     created if missing
  --name NAME        model name (default: the file name without .gguf)
  --tile-size N      tile side in pixels when the volume is created (default 1024: 4 MiB per
                     tile; 1..${MAX_TILE_SIDE}); an existing volume must have this size
  --compression L    deflate level 0-9 when the volume is created (default 0: quantized
                     weights barely compress); an existing volume must have this level
  --skip-pyramid     store and place the model but do not build its pyramid now
                     (pxi map builds it when first needed)
  --json             print the result as JSON on stdout
  -h, --help         show this help

Exit codes: 0 imported (or already there), 1 refused or failed, 2 usage error,
130 interrupted (rerun to resume).`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(
      argv,
      { volume: { type: 'string' }, name: { type: 'string' }, 'tile-size': { type: 'string' }, compression: { type: 'string' }, 'skip-pyramid': { type: 'boolean' }, json: { type: 'boolean' } },
      true,
    );
    const [file] = positionals(args, ['FILE.gguf']);
    const tile = intFlag('tile-size', values['tile-size'], 1, MAX_TILE_SIDE);
    const level = intFlag('compression', values.compression, 0, 9);
    const create: Partial<VolumeSettings> = {};
    if (tile !== undefined) Object.assign(create, { tileWidth: tile, tileHeight: tile });
    if (level !== undefined) create.level = level;
    const signal = interruptSignal(io);
    const show = progressPrinter(io, 'import');
    return runStorageCommand('import', io, () =>
      withStore(
        volumeDir(values.volume),
        async (store) => {
          const showPyr = progressPrinter(io, 'pyramid');
          const meter = new RateMeter();
          const r = await importModel(store, file!, {
            ...(values.name === undefined ? {} : { name: values.name }),
            pyramid: !values['skip-pyramid'],
            signal,
            onProgress: (p) =>
              show(
                p.bytesDone,
                p.bytesTotal,
                p,
                p.phase === 'reading' ? `tensor ${Math.min(p.tensorsDone + 1, p.tensorCount)}/${p.tensorCount}${p.tensor ? ` ${p.tensor}` : ''}` : p.phase,
                p.phase === 'done',
              ),
            onPyramidProgress: (q) => showPyr(q.bytesDone, q.bytesTotal, meter.sample(q.bytesDone, q.bytesTotal), `tensor ${q.tensorIndex + 1}/${q.tensorCount} ${q.tensor}`),
          });
          const pyramid = r.pyramid ? { built: r.pyramid.built, alreadyBuilt: r.pyramid.alreadyBuilt, skipped: r.pyramid.skipped, seconds: r.pyramidSeconds ?? 0 } : null;
          if (values.json) {
            const { manifest, ...rest } = r;
            io.out(JSON.stringify({ ...rest, pyramid, manifest: { id: manifest.id, source: manifest.source, tensors: manifest.tensors.length, config: manifest.config } }));
          } else if (r.alreadyImported) {
            io.out(`${r.model.name} (id ${r.model.id}) is already imported from this file${r.pyramidSeconds !== null ? `; its pyramid is now built (${formatDuration(r.pyramidSeconds)})` : '; nothing to do'}.`);
          } else {
            const mbs = r.seconds > 0 ? (r.bytesRead / r.seconds / 1e6).toFixed(1) : '-';
            io.out(
              `imported ${r.model.name} (id ${r.model.id}): ${r.model.architecture}, ${formatCount(r.model.parameterCount)} parameters, ${formatBytes(r.model.bytes)}, ` +
                `${r.manifest.tensors.length} tensors (${r.model.tensorTypes.join(', ')}) in ${formatDuration(r.seconds)} (${mbs} MB/s); ` +
                `tiles: ${r.tilesWritten} written, ${r.tilesDeduped} already stored${r.resumed ? `, resumed (${formatBytes(r.bytesReused)} kept from the interrupted run)` : ''}` +
                `${r.discardedStale ? '; an interrupted import of another file under this name was discarded' : ''}` +
                `${pyramid ? `; pyramid of ${pyramid.built + pyramid.alreadyBuilt} tensors built as it was stored${r.pyramidSeconds !== null ? ` (and from the tiles in ${formatDuration(r.pyramidSeconds)})` : ''}` : ''}`,
            );
          }
          return EXIT.OK;
        },
        Object.keys(create).length > 0 ? create : true,
      ),
    );
  },
};
