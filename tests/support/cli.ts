import type { CliIo } from '../../electron/cli/command';
import { main } from '../../electron/cli/main';

/** `pxi ARGS` in this process: its exit code and what it wrote to stdout and stderr (lines joined by newlines); never interrupted. */
export async function runPxi(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), interrupted: new Promise<void>(() => undefined) };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}
