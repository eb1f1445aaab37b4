/**
 * A residency plan made for a load under a memory budget (shared/engine/residency.ts) as a
 * self-improvement session: nothing is timed against a variant here, the plan explains itself
 * line by line, and the run that follows confirms it end to end in tokens/s where one is made.
 */
import { formatBytes, type ResidencyPlan } from '../engine/residency';
import type { NewSession } from './record';

export interface ResidencyRun {
  plan: ResidencyPlan;
  model: string;
  /** adapterKey() and the adapter as people read it. */
  adapter: string;
  driver: string;
  startedAt: string;
  finishedAt: string;
  /** Who loaded: "pxi run", "pxi chat". */
  by: string;
}

export function residencySession(r: ResidencyRun): NewSession {
  const { plan } = r;
  const all = plan.resident.length + plan.streamed.length;
  const effect = plan.streamed.length
    ? `${plan.streamed.length} of ${all} weight matrices stream from host memory each token (${formatBytes(plan.uploadBytesPerPass)} per token) so the model fits ${formatBytes(plan.budget ?? 0)}; the others stay on the GPU.`
    : `All ${all} weight matrices stay on the GPU: the model fits ${plan.budget === null ? 'without a budget' : formatBytes(plan.budget)}.`;
  return {
    kind: 'residency',
    model: r.model,
    adapter: r.adapter,
    driver: r.driver,
    description: `The residency planner (run by ${r.by}) decided which weights stay in GPU memory and which stream per token, for a budget of ${plan.budget === null ? 'the whole GPU' : formatBytes(plan.budget)}.`,
    codeHash: null,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    trials: [],
    decision: 'recorded',
    effect,
    details: [...plan.explanation, ...(plan.streamed.length ? [`Streamed: ${plan.streamed.join(', ')}`] : [])].slice(0, 400).map((l) => l.slice(0, 2000)),
    confirmation: null,
  };
}
