import { join, resolve } from 'node:path';
import { defaultDataDir, packageVersion, sourceRoot } from '../../app-meta';
import { Services } from '../../services';
import { startWebHost } from '../../web/server';
import { PxiError } from '../../../shared/errors';
import { isPixelFsError, PixelFsCodes } from '../../pixelfs/index';
import { EXIT, parseOptions, parsePort, parseSize, type Command } from '../command';

/** `--max-upload` reads sizes as every size flag does (command.ts). */
export { parseSize };

export const DEFAULT_PORT = 7727;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the workstation in browser mode on 127.0.0.1',
  help: `Usage: pxi serve [options]

Starts the main-process services in plain Node and serves the workstation UI on
127.0.0.1 (browser mode). Open the printed URL in a browser with WebGPU. The URL
carries a random access token made at each start; requests without it, from a
foreign Origin, or with a Host other than 127.0.0.1/localhost are refused.

Options:
  --port N          port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --data-dir DIR    where volumes and catalogs live (default $PXI_HOME or ~/.pixel-llm)
  --renderer DIR    the built renderer to serve (default out/renderer; build with npm run build)
  --no-default-model  do not generate and import the default model (random weights) on the
                    first start of an empty data folder
  --max-upload SIZE largest GGUF upload taken from the page (e.g. 20G; default: whatever
                    fits on the volume's disk, leaving 1 GiB free)
  --json            print {"url","port"} as one JSON line instead of text
  -h, --help        show this help

Runs until Ctrl-C.`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      renderer: { type: 'string' },
      json: { type: 'boolean' },
      'no-default-model': { type: 'boolean' },
      'max-upload': { type: 'string' },
    });
    const maxUpload = parseSize(values['max-upload'], '--max-upload');
    const dataDir = resolve(values['data-dir'] ?? defaultDataDir());
    const services = new Services({
      dataDir,
      mode: 'browser',
      version: packageVersion(),
      importDefaultModel: !values['no-default-model'] && process.env.PXI_NO_DEFAULT_MODEL !== '1',
    });
    // One host per data folder: take its volume before listening, and refuse if another has it.
    try {
      await services.ready();
    } catch (e) {
      await services.close();
      if (isPixelFsError(e, PixelFsCodes.VOLUME_LOCKED)) {
        throw new PxiError(e.code, `${dataDir} is in use by another process (another pxi serve, the app, or a pxi command); stop it or pass another --data-dir`, { file: dataDir });
      }
      throw e;
    }
    const host = await startWebHost({
      services,
      rendererDir: resolve(values.renderer ?? join(sourceRoot, 'out', 'renderer')),
      port: parsePort(values.port, DEFAULT_PORT),
      ...(maxUpload === undefined ? {} : { upload: { maxBytes: maxUpload } }),
    });
    if (values.json) io.out(JSON.stringify({ url: host.url, port: host.port }));
    else io.out(`Pixel-LLM is serving on 127.0.0.1:${host.port}\nOpen: ${host.url}\nPress Ctrl-C to stop.`);
    await io.interrupted;
    await host.close();
    await services.close();
    return EXIT.OK;
  },
};
