import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { projectRoot } from './fixtures';

/**
 * Runs `pxi ARGS --json` with PXI_HOME=home and kills it with SIGKILL when its event stream
 * reports step `step` (what a crash mid-run does); resolves once the process is gone. Rejects if
 * the process ends before reaching that step.
 */
export async function killAtStep(args: readonly string[], home: string, step: number): Promise<void> {
  const child = spawn(process.execPath, ['bin/pxi.js', ...args, '--json'], { cwd: projectRoot, env: { ...process.env, PXI_HOME: home } });
  const gone = new Promise((r) => child.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      const e = JSON.parse(l) as { kind: string; step: number };
      if (e.kind === 'step' && e.step === step) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', (c) => reject(new Error(`pxi ${args[0]} exited with ${c} before step ${step}`)));
  });
  await gone;
}
