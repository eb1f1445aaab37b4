import { PxiError } from '../../shared/errors';
import { packageVersion } from '../app-meta';
import { EXIT, UsageError, type CliIo, type Command } from './command';
import { exportCommand } from './commands/export';
import { fsCommand } from './commands/fs';
import { genCommand } from './commands/gen';
import { gpuCommand } from './commands/gpu';
import { importCommand } from './commands/import';
import { inspectCommand } from './commands/inspect';
import { mapCommand } from './commands/map';
import { serveCommand } from './commands/serve';
import { verifyCommand } from './commands/verify';
import { runCommand } from './commands/run';
import { chatCommand } from './commands/chat';
import { benchCommand } from './commands/bench';
import { tuneCommand } from './commands/tune';
import { trainCommand } from './commands/train';
import { finetuneCommand } from './commands/finetune';
import { corpusCommand } from './commands/corpus';
import { tokenizerCommand } from './commands/tokenizer';
import { layoutCommand } from './commands/layout';

/** `pxi`: the command line of Pixel-LLM. Each subcommand lives in ./commands. */
const commands: Command[] = [serveCommand, gpuCommand, genCommand, importCommand, inspectCommand, verifyCommand, exportCommand, mapCommand, layoutCommand, fsCommand, runCommand, chatCommand, benchCommand, tuneCommand, trainCommand, finetuneCommand, corpusCommand, tokenizerCommand];

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Pixel-LLM: language models stored as pixel tiles, run with WGSL on WebGPU.

Usage: pxi <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
  ${'help'.padEnd(width)}  show help for a command (pxi help <command>)

Options:
  -h, --help     show this help
  -v, --version  print the version

Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 data found corrupt,
130 interrupted.`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    io.out(mainHelp());
    return first === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (first === '-v' || first === '--version') {
    io.out(packageVersion());
    return EXIT.OK;
  }
  if (first === 'help') {
    const target = rest[0] ? commands.find((c) => c.name === rest[0]) : undefined;
    if (rest[0] && !target) {
      io.err(`pxi: unknown command ${JSON.stringify(rest[0])}. Run pxi --help for the list.`);
      return EXIT.USAGE;
    }
    io.out(target ? target.help : mainHelp());
    return EXIT.OK;
  }
  const command = commands.find((c) => c.name === first);
  if (!command) {
    io.err(`pxi: unknown command ${JSON.stringify(first)}. Run pxi --help for the list.`);
    return EXIT.USAGE;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out(command.help);
    return EXIT.OK;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`pxi ${command.name}: ${e.message}\nRun pxi ${command.name} --help for usage.`);
      return EXIT.USAGE;
    }
    if (e instanceof PxiError) {
      io.err(`pxi ${command.name}: ${e.message} [${e.code}]`);
      return EXIT.FAILURE;
    }
    io.err(`pxi ${command.name}: unexpected error: ${(e as Error).stack ?? String(e)}`);
    return EXIT.FAILURE;
  }
}

/** The process entry: real stdout/stderr and signals. */
export async function runProcess(): Promise<void> {
  let interrupted = false;
  const interruptedPromise = new Promise<void>((resolve) => {
    const stop = () => {
      if (interrupted) process.exit(EXIT.INTERRUPTED); // a second Ctrl-C stops at once
      interrupted = true;
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const io: CliIo = {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    interrupted: interruptedPromise,
  };
  const code = await main(process.argv.slice(2), io);
  process.exitCode = interrupted && code !== EXIT.OK ? EXIT.INTERRUPTED : code;
  // Native handles (Dawn, sockets) must not keep a finished command alive.
  setImmediate(() => process.exit(process.exitCode));
}
