/**
 * What the training benches share: timing a trainer's steps (after a warm-up step that compiles
 * the pipelines), one more step timed pass by pass with GPU timestamps, and the per-kernel table
 * printed from those passes.
 */
import type { GpuContext, PassTiming } from '../../shared/gpu';
import type { RandomWindows } from '../../shared/train/data';
import type { GpuTrainer } from '../../shared/train/gpu-trainer';
import type { AdamWSettings } from '../../shared/train/kernels-optim';

export interface StepTiming {
  /** Wall seconds per step, over the timed steps. */
  secPerStep: number;
  /** The passes of one more step (empty when the adapter has no timestamp queries). */
  passes: PassTiming[];
  timed: boolean;
}

/** Times `steps` optimizer steps of micro-batches from `windows`, then one step pass by pass. */
export async function timeTrainerSteps(ctx: GpuContext, trainer: GpuTrainer, windows: RandomWindows, steps: number, opt: AdamWSettings): Promise<StepTiming> {
  await trainer.step([windows.microBatch(1, 0)], 1, opt); // compiles pipelines
  const t0 = performance.now();
  for (let i = 2; i < 2 + steps; i++) await trainer.step([windows.microBatch(i, 0)], i, opt);
  const secPerStep = (performance.now() - t0) / 1000 / steps;
  const passes: PassTiming[] = [];
  const timed = ctx.setTimingHook((_label, p) => passes.push(...p));
  await trainer.step([windows.microBatch(99, 0)], 99, opt);
  await ctx.sync();
  await new Promise((r) => setTimeout(r, 200)); // the timestamp read-backs land after the sync
  ctx.setTimingHook(null);
  return { secPerStep, passes, timed };
}

/** The per-kernel table: GPU time per dispatch label, largest first. */
export function printKernelTable(passes: readonly PassTiming[], heading: string, rows = 14): void {
  const by = new Map<string, number>();
  for (const p of passes) by.set(p.label, (by.get(p.label) ?? 0) + p.ms);
  const total = [...by.values()].reduce((a, b) => a + b, 0);
  console.log(`  per kernel (${heading}, one step timed pass by pass: ${total.toFixed(0)} ms of GPU time, ${passes.length} dispatches):`);
  for (const [label, ms] of [...by].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`    ${label.padEnd(28)} ${ms.toFixed(1).padStart(8)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)} %`);
}
